"""``load_dataset``: one entry point for named datasets, array files and image folders.

Splits:

* ``mnist`` / ``fashion-mnist``: test = the official t10k files.
* ``digits``, ``.npy``/``.npz`` files and image folders have no official test
  split: ``splits.TEST_FRACTION`` (20%) is held out with the fixed seed
  ``splits.TEST_SEED``, so the test split never depends on ``seed``.
* val = ``val_fraction`` of what remains for training, drawn with ``seed``.

Hold-outs are stratified by label when the data is labelled.
"""

from pathlib import Path

import numpy as np
import torch

from latentlab.data import catalog, splits
from latentlab.data.arrays import load_array_file
from latentlab.data.dataset import Dataset, Split
from latentlab.data.folder import load_image_folder
from latentlab.data.named import load_digits_arrays, load_idx_dataset
from latentlab.data.preprocess import binarize_static, check_options, resize
from latentlab.errors import DataError

ARRAY_SUFFIXES = (".npy", ".npz")


def _unknown_name(name: str) -> DataError:
    return DataError(
        f"unknown dataset {name!r} (and no such file or folder). Use one of "
        f"{', '.join(catalog.DATASETS)}, or a path to a .npy/.npz file or a folder of PNG/JPEG images."
    )


def _load_path(path: Path, image_size: int | None) -> tuple[torch.Tensor, torch.Tensor | None, list[str] | None]:
    """Images, labels and classes from an array file or an image folder."""
    if path.is_dir():
        return load_image_folder(path, image_size)
    if path.suffix.lower() in ARRAY_SUFFIXES:
        return load_array_file(path)
    raise DataError(
        f"{path}: unsupported file type {path.suffix!r}; give a .npy/.npz file or a folder of PNG/JPEG images."
    )


def _take(x: torch.Tensor, y: torch.Tensor | None, index: np.ndarray) -> Split:
    """The rows ``index`` of (x, y) as a Split."""
    index = torch.as_tensor(index, dtype=torch.long)
    return Split(x[index], None if y is None else y[index])


def _hold_out(
    x: torch.Tensor, y: torch.Tensor | None, fraction: float, seed: int, what: str, source: str
) -> tuple[Split, Split]:
    """Split (x, y) into (kept, held) Splits, refusing to leave nothing to train on."""
    labels = None if y is None else y.numpy()
    if len(x) - round(fraction * len(x)) < 1:
        raise DataError(
            f"{source}: only {len(x)} images, too few to hold out {fraction:.0%} for {what}; "
            f"add images or lower val_fraction (--val-fraction)."
        )
    kept, held = splits.hold_out(len(x), fraction, seed, labels)
    return _take(x, y, kept), _take(x, y, held)


def load_dataset(
    name: str,
    data_dir: str | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    image_size: int | None = None,
    binarize: str = "none",
    threshold: float = 0.5,
    download: bool = True,
) -> Dataset:
    """Load a dataset by name (see ``DATASETS``) or path, split, resized and binarized as asked.

    ``binarize``: "none" keeps values in [0, 1]; "static" thresholds every split
    at ``threshold`` once, here; "dynamic" keeps values as they are, for
    ``iterate_batches(..., dynamic_binarize=True)`` to sample per batch.
    """
    check_options(val_fraction, image_size, binarize, threshold)
    if name in catalog.IDX_DATASETS:
        (x, y), (test_x, test_y) = load_idx_dataset(name, data_dir, download)
        test, classes, source = Split(test_x, test_y), catalog.CLASSES[name], name
    else:
        if name == "digits":
            x, y = load_digits_arrays()
            classes, source = catalog.CLASSES[name], name
        else:
            path = Path(name).expanduser()
            if not path.exists():
                raise _unknown_name(name)
            x, y, classes = _load_path(path, image_size)
            source, name = str(path), path.stem
        train_pool, test = _hold_out(x, y, splits.TEST_FRACTION, splits.TEST_SEED, "test", source)
        x, y = train_pool.x, train_pool.y
    train, val = _hold_out(x, y, val_fraction, seed, "validation", source)

    for part in (train, val, test):
        if image_size is not None:
            part.x = resize(part.x, image_size)
        if binarize == "static":
            part.x = binarize_static(part.x, threshold)
    return Dataset(name=name, train=train, val=val, test=test, classes=classes)
