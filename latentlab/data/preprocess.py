"""Turn loaded arrays into checked tensors: layout, scale, labels, resizing, binarization."""

import numpy as np
import torch
import torch.nn.functional as F

from latentlab.errors import DataError

BINARIZE_CHOICES: tuple[str, ...] = ("none", "static", "dynamic")
MAX_CLASSES = 10_000  # labels are class indices 0..K-1 with K at most this (else: remap them, see labels_to_tensor)

_SHAPES = "(N, H, W), (N, C, H, W) or (N, H, W, C) with C = 1 or 3"


def to_nchw(x: np.ndarray, source: str) -> np.ndarray:
    """Return ``x`` as (N, C, H, W); channels-last is recognised when dim 1 is not 1 or 3."""
    if x.size == 0:
        raise DataError(f"{source}: the image array is empty (shape {x.shape}); it needs at least one image.")
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4 and x.shape[1] in (1, 3):
        return x
    if x.ndim == 4 and x.shape[3] in (1, 3):
        return x.transpose(0, 3, 1, 2)
    raise DataError(f"{source}: images have shape {x.shape}; expected {_SHAPES}. Reshape the array.")


def to_unit_float(x: np.ndarray, source: str) -> np.ndarray:
    """Scale uint8 by 1/255; check that floats are finite and in [0, 1]. Returns float32."""
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255
    if x.dtype == np.bool_:
        return x.astype(np.float32)
    if not np.issubdtype(x.dtype, np.floating):
        raise DataError(
            f"{source}: images have dtype {x.dtype}; use uint8 (0..255) or float in [0, 1] "
            f"(e.g. x.astype('uint8') or x / 255.0)."
        )
    bad = int(np.count_nonzero(~np.isfinite(x)))
    if bad:
        raise DataError(f"{source}: the image array holds {bad} NaN or infinite values; remove or replace them.")
    low, high = float(x.min()), float(x.max())
    if low < 0 or high > 1:
        raise DataError(
            f"{source}: float images range over [{low:g}, {high:g}]; scale to [0, 1] "
            f"(e.g. (x - x.min()) / (x.max() - x.min()), or x / 255 for 0..255 data)."
        )
    return x.astype(np.float32)


def images_to_tensor(x: np.ndarray, source: str) -> torch.Tensor:
    """Checked float32 tensor (N, C, H, W) in [0, 1] from any accepted image array."""
    x = to_unit_float(to_nchw(np.asarray(x), source), source)
    return torch.from_numpy(np.ascontiguousarray(x))


def labels_to_tensor(y: np.ndarray, n: int, source: str, num_classes: int | None = None) -> torch.Tensor:
    """Checked int64 tensor (N,) from a 1-D array of class indices 0..K-1.

    K is ``num_classes`` when the classes are named, else the largest label + 1, which may not
    exceed ``MAX_CLASSES``: labels are checked before anything is allocated from them (a file whose
    labels are IDs such as 10**9 would otherwise ask for a billion classes)."""
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise DataError(
            f"{source}: labels have shape {y.shape} but must be 1-D of length {n} (one per image); "
            f"use y.reshape(-1) if they are (N, 1)."
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{source}: labels have dtype {y.dtype}; they must be integers (y.astype('int64')).")
    if not n:
        return torch.zeros(0, dtype=torch.int64)
    low, high = int(y.min()), int(y.max())  # Python ints: no overflow for uint64 labels
    if low < 0:
        raise DataError(f"{source}: labels include {low}; they must be non-negative class indices 0..K-1.")
    limit = MAX_CLASSES if num_classes is None else num_classes
    if high >= limit:
        remap = ("map them to class indices with classes, y = np.unique(y, return_inverse=True) and save both "
                 "(numpy.savez(path, x=x, y=y, classes=classes.astype(str)))")
        if num_classes is not None:
            raise DataError(f"{source}: labels go up to {high} but 'classes' names {num_classes} classes; "
                            f"give one name per class index 0..{num_classes - 1}, or {remap}.")
        raise DataError(f"{source}: labels go up to {high}; labels are class indices 0..K-1 with K at most "
                        f"{MAX_CLASSES:,}. If they are IDs or codes, {remap}.")
    return torch.from_numpy(y.astype(np.int64))


def resize(x: torch.Tensor, image_size: int) -> torch.Tensor:
    """Resize (N, C, H, W) images to image_size x image_size (antialiased bilinear)."""
    if x.shape[-2:] == (image_size, image_size):
        return x
    out = F.interpolate(x, size=(image_size, image_size), mode="bilinear", antialias=True, align_corners=False)
    return out.clamp_(0, 1)


def check_options(val_fraction: float, image_size: int | None, binarize: str, threshold: float) -> None:
    """Reject out-of-range loader options with the valid choices."""
    if binarize not in BINARIZE_CHOICES:
        raise DataError(f"binarize={binarize!r} is not valid; choose one of {', '.join(BINARIZE_CHOICES)}.")
    if not 0 < threshold < 1:
        raise DataError(f"threshold={threshold} is not valid; choose a value strictly between 0 and 1.")
    if not 0 <= val_fraction < 1:
        raise DataError(f"val_fraction={val_fraction} is not valid; choose a value in [0, 1), e.g. 0.1.")
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1):
        raise DataError(f"image_size={image_size!r} is not valid; give a positive integer, e.g. 32.")


def binarize_static(x: torch.Tensor, threshold: float) -> torch.Tensor:
    """Pixels above ``threshold`` become 1, the rest 0."""
    return (x > threshold).to(x.dtype)
