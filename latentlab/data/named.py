"""Load the named datasets: scikit-learn's digits, MNIST and Fashion-MNIST."""

import os
import sys
from pathlib import Path

import numpy as np
import torch

from latentlab.data import catalog, idx, locate
from latentlab.data.download import fetch
from latentlab.data.preprocess import images_to_tensor, labels_to_tensor
from latentlab.errors import DataError

Arrays = tuple[torch.Tensor, torch.Tensor]


def load_digits_arrays() -> Arrays:
    """All 1797 8x8 digits as (N, 1, 8, 8) in [0, 1] (pixel values 0..16 divided by 16)."""
    from sklearn.datasets import load_digits  # here, not at import: keeps the CLI's start fast

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)
    return images_to_tensor(x, "digits"), labels_to_tensor(digits.target, len(x), "digits")


def _read_split(name: str, files: dict[str, Path], prefix: str) -> Arrays:
    """Read and check one images/labels pair (prefix "train" or "t10k")."""
    images_path, labels_path = files[f"{prefix}-images-idx3-ubyte"], files[f"{prefix}-labels-idx1-ubyte"]
    images, labels = idx.read_pair(images_path, labels_path, name)
    expected = (catalog.COUNTS[prefix], *catalog.IMAGE_HW)
    if images.shape != expected:
        raise DataError(
            f"{images_path}: holds images of shape {images.shape}, but {name} has {expected}; "
            f"this is not the {name} file. Delete it and run `latentlab data fetch {name}`."
        )
    if labels.max() >= len(catalog.CLASSES[name]):
        raise DataError(
            f"{labels_path}: labels go up to {labels.max()} but {name} has {len(catalog.CLASSES[name])} "
            f"classes. Delete it and run `latentlab data fetch {name}`."
        )
    return images_to_tensor(images, str(images_path)), labels_to_tensor(labels, len(labels), str(labels_path))


def load_idx_dataset(name: str, data_dir: str | os.PathLike | None, download: bool) -> tuple[Arrays, Arrays]:
    """((train x, train y), (test x, test y)) of MNIST or Fashion-MNIST, downloading if allowed."""
    files = locate.locate(name, data_dir)
    if files is None:
        if not download:
            raise DataError(locate.not_found_message(name, data_dir))
        print(f"latentlab: {name} not found locally; downloading it (one time).", file=sys.stderr)
        files = locate.files_in(fetch(name))
    return _read_split(name, files, "train"), _read_split(name, files, "t10k")
