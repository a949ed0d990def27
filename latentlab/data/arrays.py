"""Load images (and labels) saved with ``numpy.save`` / ``numpy.savez``.

A ``.npy`` file holds images only (unlabelled). A ``.npz`` file holds images
under ``x`` (or ``images`` / ``X``), optional integer labels under ``y`` (or
``labels``) and optional class names under ``classes`` (a string array).
Pickled objects are never loaded.

A 2-D array, (N, D), is tabular data: N rows of D features (``latentlab.data.tabular``).

Labels are class indices 0..K-1: K is the number of ``classes`` when they are named, else the
largest label + 1, at most ``preprocess.MAX_CLASSES`` (10,000). They are checked before anything is
built from them; labels that are IDs or codes (say 10**9) are refused with the one line that maps
them to indices (``np.unique(y, return_inverse=True)``), which keeps their values as class names.
"""

import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from latentlab.data.preprocess import images_to_tensor, labels_to_tensor
from latentlab.data.tabular import check_features
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


class Loaded(NamedTuple):
    """What a file holds, checked: images (N, C, H, W) in [0, 1] or, for ``tabular`` data, rows
    (N, 1, 1, D) float64 in the file's own units (standardised once the splits are known)."""

    x: torch.Tensor
    y: torch.Tensor | None
    classes: list[str] | None
    tabular: bool = False


def load_array_file(path: Path) -> Loaded:
    """Images or table rows, labels (N,) or None, and class names or None."""
    try:
        arrays = _read(path)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(
            f"{path}: cannot read this file ({e}). Save numeric arrays with numpy.save or "
            f"numpy.savez (object arrays need pickle, which latentlab never loads)."
        ) from e
    tabular = np.ndim(arrays.x) == 2
    if tabular:
        rows = check_features(arrays.x, arrays.x_name)
        x = torch.from_numpy(rows).reshape(len(rows), 1, 1, rows.shape[1])  # (N, 1, 1, D)
    else:
        x = images_to_tensor(arrays.x, arrays.x_name)
    if arrays.y is None:
        return Loaded(x, None, None, tabular)
    named = None if arrays.classes is None else [str(c) for c in np.asarray(arrays.classes).reshape(-1)]
    labels = labels_to_tensor(arrays.y, len(x), arrays.y_name, None if named is None else len(named))
    if named is None:
        return Loaded(x, labels, [str(i) for i in range(int(labels.max()) + 1)], tabular)
    return Loaded(x, labels, named, tabular)
