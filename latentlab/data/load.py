"""``load_dataset``: one entry point for named datasets, array files and image folders.

Splits:

* ``mnist`` / ``fashion-mnist``: test = the official t10k files.
* ``digits``, ``.npy``/``.npz`` files and image folders have no official test
  split: ``splits.TEST_FRACTION`` (20%) is held out with the fixed seed
  ``splits.TEST_SEED``, so the test split never depends on ``seed``.
* val = ``val_fraction`` of what remains for training, drawn with ``seed``.

Hold-outs are stratified by label when the data is labelled.

Tabular data (an (N, D) array, ``latentlab.data.tabular``) is split the same way, then
standardised per feature with the mean and std of the training split (or with the constants
given as ``standardization``: what ``run_folder.run_dataset`` passes, from the run's config.json).

``labels`` keeps the labels of only that many training images, balanced over the classes and drawn
with ``seed`` (the others get -1; ``latentlab.data.labelled``): semi-supervised training. The
validation and test splits keep every label.

Datasets too small for a split are not refused: 1 image trains (with no test or validation
image), and what then cannot be made (pictures, a validation loss) is left out with a note.
"""

from pathlib import Path

import numpy as np
import torch

from latentlab.data import catalog, splits
from latentlab.data.arrays import Loaded, load_array_file
from latentlab.data.dataset import Dataset, Split
from latentlab.data.folder import load_image_folder
from latentlab.data.labelled import keep_labels
from latentlab.data.memory import check_fits
from latentlab.data.named import load_digits_arrays, load_idx_dataset
from latentlab.data.preprocess import binarize_static, check_options, resize
from latentlab.data.tabular import Standardization
from latentlab.errors import DataError

ARRAY_SUFFIXES = (".npy", ".npz")


def _unknown_name(name: str) -> DataError:
    return DataError(
        f"unknown dataset {name!r} (and no such file or folder). Use one of "
        f"{', '.join(catalog.DATASETS)}, or a path to a .npy/.npz file or a folder of PNG/JPEG images."
    )


def _load_path(path: Path, image_size: int | None) -> Loaded:
    """Images (or table rows), labels and classes from an array file or an image folder."""
    if path.is_dir():
        return Loaded(*load_image_folder(path, image_size))
    if path.suffix.lower() in ARRAY_SUFFIXES:
        return load_array_file(path)
    raise DataError(
        f"{path}: unsupported file type {path.suffix!r}; give a .npy/.npz file (images, or an (N, D) table of "
        f"features) or a folder of PNG/JPEG images."
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
    standardization: Standardization | None = None,
    labels: int | None = None,
) -> Dataset:
    """Load a dataset by name (see ``DATASETS``) or path, split, resized and binarized as asked.

    ``binarize``: "none" keeps values in [0, 1]; "static" thresholds every split
    at ``threshold`` once, here; "dynamic" keeps values as they are, for
    ``iterate_batches(..., dynamic_binarize=True)`` to sample per batch.
    ``standardization``: for tabular data, the constants to apply instead of fitting them on the
    training split (those a run was trained with).
    ``labels``: keep the labels of only this many training images (the others -1), balanced over the
    classes and chosen with ``seed``; None keeps every label.
    """
    check_options(val_fraction, image_size, binarize, threshold)
    tabular = False
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
            x, y, classes, tabular = _load_path(path, image_size)
            source, name = str(path), path.stem
        train_pool, test = _hold_out(x, y, splits.TEST_FRACTION, splits.TEST_SEED, "test", source)
        x, y = train_pool.x, train_pool.y
    train, val = _hold_out(x, y, val_fraction, seed, "validation", source)
    if tabular:
        return keep_labels(_tabular(name, source, train, val, test, classes, image_size, binarize, standardization), labels, seed)
    if standardization is not None:
        raise DataError(f"{source} holds images, but the run was trained on tabular data (an (N, D) array of "
                        f"{standardization.features} features): point it at that file (--data-dir, or restore the file)")
    if image_size is not None:
        n = len(train) + len(val) + len(test)
        check_fits(4.0 * 2 * n * x.shape[1] * image_size**2, f"resizing {n} images to {image_size}x{image_size}",
                   "choose a smaller image_size (--image-size)", DataError)

    for part in (train, val, test):
        if image_size is not None:
            part.x = resize(part.x, image_size)
        if binarize == "static":
            part.x = binarize_static(part.x, threshold)
    data = Dataset(name=name, train=train, val=val, test=test, classes=classes, binarize=binarize, threshold=threshold)
    return keep_labels(data, labels, seed)


def _tabular(name: str, source: str, train: Split, val: Split, test: Split, classes: list[str] | None,
             image_size: int | None, binarize: str, standardization: Standardization | None) -> Dataset:
    """Standardise the splits of tabular data with the training split's constants (or the given ones)."""
    if image_size is not None:
        raise DataError(f"{source} is tabular data (rows of features), which has no image to resize: drop image_size (--image-size)")
    if binarize != "none":
        raise DataError(f"{source} is tabular data: standardised features are not pixel values in [0, 1], so they cannot be "
                        f"binarized; drop binarize (--binarize {binarize})")
    d = train.x.shape[-1]
    if standardization is None:
        standardization = Standardization.fit(train.x)
    elif standardization.features != d:
        raise DataError(f"{source} has {d} features per row but the run was trained on {standardization.features}: "
                        f"it is not the file the run was trained on")
    for part in (train, val, test):
        part.x = standardization.apply(part.x)  # (N, 1, 1, D) float32
    return Dataset(name=name, train=train, val=val, test=test, classes=classes, standardization=standardization)
