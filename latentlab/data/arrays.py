"""Load images (and labels) saved with ``numpy.save`` / ``numpy.savez``.

A ``.npy`` file holds images only (unlabelled). A ``.npz`` file holds images
under ``x`` (or ``images`` / ``X``), optional integer labels under ``y`` (or
``labels``) and optional class names under ``classes`` (a string array).
Pickled objects are never loaded.
"""

import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from latentlab.data.preprocess import images_to_tensor, labels_to_tensor
from latentlab.errors import DataError

IMAGE_KEYS = ("x", "images", "X")
LABEL_KEYS = ("y", "labels")


class _Arrays(NamedTuple):
    """Raw arrays of one file, with the names used in error messages."""

    x: np.ndarray
    x_name: str
    y: np.ndarray | None = None
    y_name: str = ""
    classes: np.ndarray | None = None


def _read(path: Path) -> _Arrays:
    """Raw images, labels and class names from a .npy or .npz file."""
    if path.suffix.lower() == ".npy":
        return _Arrays(np.load(path, allow_pickle=False), str(path))
    with np.load(path, allow_pickle=False) as archive:
        keys = list(archive.keys())
        image_key = next((k for k in IMAGE_KEYS if k in keys), None)
        if image_key is None:
            raise DataError(
                f"{path}: no image array found (keys: {', '.join(keys) or 'none'}); "
                f"save the images under 'x', e.g. numpy.savez(path, x=images, y=labels)."
            )
        label_key = next((k for k in LABEL_KEYS if k in keys), None)
        return _Arrays(
            x=archive[image_key],
            x_name=f"{path}[{image_key!r}]",
            y=archive[label_key] if label_key else None,
            y_name=f"{path}[{label_key!r}]",
            classes=archive["classes"] if "classes" in keys else None,
        )


def load_array_file(path: Path) -> tuple[torch.Tensor, torch.Tensor | None, list[str] | None]:
    """Images (N, C, H, W) in [0, 1], labels (N,) or None, and class names or None."""
    try:
        arrays = _read(path)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(
            f"{path}: cannot read this file ({e}). Save numeric arrays with numpy.save or "
            f"numpy.savez (object arrays need pickle, which latentlab never loads)."
        ) from e
    images = images_to_tensor(arrays.x, arrays.x_name)
    if arrays.y is None:
        return images, None, None
    labels = labels_to_tensor(arrays.y, len(images), arrays.y_name)
    num_classes = int(labels.max()) + 1
    if arrays.classes is None:
        return images, labels, [str(i) for i in range(num_classes)]
    classes = [str(c) for c in np.asarray(arrays.classes).reshape(-1)]
    if len(classes) < num_classes:
        raise DataError(
            f"{path}: 'classes' names {len(classes)} classes but the labels go up to {num_classes - 1}; "
            f"give one name per class index."
        )
    return images, labels, classes
