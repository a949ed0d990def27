"""Read IDX files, the format MNIST and Fashion-MNIST ship in.

An IDX file is a 4-byte magic number (two zero bytes, a dtype code, the number
of dimensions), then one big-endian uint32 per dimension, then the payload.
Only unsigned bytes (dtype code 0x08) are used by these datasets. Files may be
gzipped; gzip is detected by its magic bytes, not by the file name.
"""

import gzip
import zlib
from pathlib import Path

import numpy as np

from latentlab.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension

_REFETCH = "Delete it and get it again (`latentlab data fetch NAME` re-downloads and verifies it)."


def is_gzip(path: Path) -> bool:
    """True when the file starts with the gzip magic bytes."""
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def read_bytes(path: Path) -> bytes:
    """The file's content, decompressed when it is gzipped."""
    data = Path(path).read_bytes()
    if data[:2] != GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DataError(f"{path}: truncated or corrupt gzip data ({e}). {_REFETCH}") from e


def parse(data: bytes, path: Path) -> np.ndarray:
    """Parse IDX bytes into a read-only uint8 array of the declared shape."""
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] != 0x08:
        magic = int.from_bytes(data[:4].ljust(4, b"\x00"), "big")
        raise DataError(
            f"{path}: not an IDX file of unsigned bytes (magic number {magic:#010x}, expected "
            f"{IMAGES_MAGIC:#010x} for images or {LABELS_MAGIC:#010x} for labels). {_REFETCH}"
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: the IDX header is cut short ({len(data)} bytes). {_REFETCH}")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims))
    if len(data) - header != expected:
        raise DataError(
            f"{path}: the header declares dims {dims} = {expected} bytes of data but the file "
            f"holds {len(data) - header}; it is truncated or corrupt. {_REFETCH}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def read(path: Path, magic: int) -> np.ndarray:
    """Read one IDX file and check its magic number (IMAGES_MAGIC or LABELS_MAGIC)."""
    data = read_bytes(path)
    array = parse(data, path)
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        kind = "images" if magic == IMAGES_MAGIC else "labels"
        raise DataError(
            f"{path}: wrong magic number {found} for an IDX {kind} file (expected {magic}); "
            f"the image and label files may be swapped or renamed. {_REFETCH}"
        )
    return array


def read_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read an images file (N, H, W) and its labels file (N,), checking they match."""
    images = read(images_path, IMAGES_MAGIC)
    labels = read(labels_path, LABELS_MAGIC)
    if len(images) != len(labels):
        raise DataError(
            f"{labels_path}: holds {len(labels)} labels but {images_path} holds {len(images)} "
            f"images; the two files come from different releases. Fetch both again "
            f"(`latentlab data fetch NAME`)."
        )
    return images, labels
