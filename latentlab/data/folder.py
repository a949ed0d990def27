"""Load a folder of PNG/JPEG images, searched recursively.

When every image sits under an immediate subfolder and there are at least two
such subfolders, the subfolder names (sorted) are the classes and the labels;
otherwise the images are unlabelled. Hidden files and folders are skipped.
If every image is grayscale the data has 1 channel, else all are made RGB.
"""

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from latentlab.data.memory import check_fits
from latentlab.data.preprocess import images_to_tensor
from latentlab.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
GRAY_MODES = ("1", "L", "LA")


def find_images(root: Path) -> list[Path]:
    """All non-hidden PNG/JPEG files under ``root``, sorted."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
        and p.is_file()
    )


def _read_image(path: Path, image_size: int | None) -> np.ndarray:
    """One image as uint8 (H, W) for grayscale or (H, W, 3) for colour."""
    try:
        with Image.open(path) as image:
            image = image.convert("L" if image.mode in GRAY_MODES else "RGB")
            if image_size is not None:
                image = image.resize((image_size, image_size), Image.Resampling.BILINEAR)
            return np.asarray(image)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(f"{path}: cannot read this image ({e}). Remove or replace the file.") from e


def _labels(root: Path, files: list[Path]) -> tuple[np.ndarray | None, list[str] | None]:
    """Labels from immediate subfolder names, or (None, None) when unlabelled."""
    tops = [f.relative_to(root).parts for f in files]
    if any(len(parts) == 1 for parts in tops):
        return None, None  # some images sit directly in root
    classes = sorted({parts[0] for parts in tops})
    if len(classes) < 2:
        return None, None
    index = {name: i for i, name in enumerate(classes)}
    return np.array([index[parts[0]] for parts in tops], dtype=np.int64), classes


def load_image_folder(
    root: Path, image_size: int | None = None
) -> tuple[torch.Tensor, torch.Tensor | None, list[str] | None]:
    """Images (N, C, H, W) in [0, 1], labels (N,) or None, and class names or None."""
    files = find_images(root)
    if not files:
        raise DataError(
            f"{root}: no PNG or JPEG images found (searched recursively). Put .png/.jpg files in it, "
            f"or one subfolder of images per class."
        )
    if image_size is not None:  # uint8 RGB as read, then float32: refused before the first image is resized
        check_fits(len(files) * 3 * image_size**2 * (1 + 4), f"{root}: {len(files)} images at {image_size}x{image_size}",
                   "choose a smaller image_size (--image-size)", DataError)
    images = [_read_image(f, image_size) for f in files]
    odd = next((i for i, im in enumerate(images) if im.shape[:2] != images[0].shape[:2]), None)
    if odd is not None:
        (h0, w0), (h1, w1) = images[0].shape[:2], images[odd].shape[:2]
        raise DataError(
            f"{root}: images have different sizes ({files[0]} is {w0}x{h0}, {files[odd]} is {w1}x{h1}); "
            f"pass image_size (--image-size N) to resize them all to N x N."
        )
    if any(im.ndim == 3 for im in images):
        images = [np.repeat(im[:, :, None], 3, axis=2) if im.ndim == 2 else im for im in images]
    x = np.stack(images)
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)  # to (N, C, H, W)
    labels, classes = _labels(root, files)
    x = images_to_tensor(x, str(root))
    return x, None if labels is None else torch.from_numpy(labels), classes
