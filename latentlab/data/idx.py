"""Read IDX files, the format MNIST and Fashion-MNIST ship in.

An IDX file is a 4-byte magic number (two zero bytes, a dtype code, the number
of dimensions), then one big-endian uint32 per dimension, then the payload.
Only unsigned bytes (dtype code 0x08) are used by these datasets. Files may be
gzipped; gzip is detected by its magic bytes, not by the file name.
"""

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from latentlab.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
MAX_HEADER = 4 + 4 * 255  # the magic number and up to 255 dimensions
MAX_DEFLATE_RATIO = 1032  # deflate never expands data by more than about 1032:1


def refetch(name: str | None = None) -> str:
    """How to get a good copy: with the dataset's name when it is known."""
    if name:
        return f"Delete it and get it again (`latentlab data fetch {name}` re-downloads and verifies it)."
    return ("Delete it and get it again (`latentlab data fetch mnist` or `latentlab data fetch fashion-mnist` "
            "re-downloads and verifies it).")


def is_gzip(path: Path) -> bool:
    """True when the file starts with the gzip magic bytes."""
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def header(data: bytes, total: int, path: Path, name: str | None = None) -> tuple[tuple[int, ...], int]:
    """(dims, header length) from the first bytes of IDX ``data``, checked against ``total``, the
    length of the whole file (decompressed): sizes are validated before anything is allocated."""
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] != 0x08:
        magic = int.from_bytes(data[:4].ljust(4, b"\x00"), "big")
        raise DataError(
            f"{path}: not an IDX file of unsigned bytes (magic number {magic:#010x}, expected "
            f"{IMAGES_MAGIC:#010x} for images or {LABELS_MAGIC:#010x} for labels). {refetch(name)}"
        )
    ndim = data[3]
    size = 4 + 4 * ndim
    if total < size or len(data) < size:
        raise DataError(f"{path}: the IDX header is cut short ({total} bytes). {refetch(name)}")
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = math.prod(dims)  # a Python int: dims such as (2**31, 2**31, 4) cannot wrap around
    if total - size != expected:
        holds = f"{total - size}" if total - size < expected else f"more than that ({total - size})"
        raise DataError(
            f"{path}: the header declares dims {dims} = {expected} bytes of data but the file "
            f"holds {holds}; it is truncated or corrupt. {refetch(name)}"
        )
    return dims, size


def read_bytes(path: Path, name: str | None = None) -> bytes:
    """The file's content, decompressed when it is gzipped. The header is checked first, against the
    file's length (or, gzipped, against what that many compressed bytes can expand to), so a
    header declaring more data than the file holds is refused before it is read."""
    path = Path(path)
    length = path.stat().st_size
    with open(path, "rb") as f:
        start = f.read(MAX_HEADER)
        if start[:2] != GZIP_MAGIC:
            header(start, length, path, name)
            return start + f.read()
    try:
        with gzip.open(path, "rb") as g:
            start = g.read(MAX_HEADER)
            if len(start) >= 4 and start[:3] == b"\x00\x00\x08" and len(start) >= 4 + 4 * start[3]:
                declared = 4 + 4 * start[3] + math.prod(int.from_bytes(start[4 + 4 * i: 8 + 4 * i], "big")
                                                       for i in range(start[3]))
                if declared > MAX_DEFLATE_RATIO * length + MAX_HEADER:
                    raise DataError(f"{path}: the IDX header declares {declared} bytes, more than a gzip file of {length} "
                                    f"bytes can hold; it is corrupt. {refetch(name)}")
                return start + g.read(max(0, declared + 1 - len(start)))  # one byte more than declared: parse says so
            return start
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DataError(f"{path}: truncated or corrupt gzip data ({e}). {refetch(name)}") from e


def parse(data: bytes, path: Path, name: str | None = None) -> np.ndarray:
    """Parse IDX bytes into a read-only uint8 array of the declared shape."""
    dims, size = header(data, len(data), path, name)
    return np.frombuffer(data, dtype=np.uint8, offset=size).reshape(dims)


def read(path: Path, magic: int, name: str | None = None) -> np.ndarray:
    """Read one IDX file and check its magic number (IMAGES_MAGIC or LABELS_MAGIC)."""
    data = read_bytes(path, name)
    array = parse(data, path, name)
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        kind = "images" if magic == IMAGES_MAGIC else "labels"
        raise DataError(
            f"{path}: wrong magic number {found} for an IDX {kind} file (expected {magic}); "
            f"the image and label files may be swapped or renamed. {refetch(name)}"
        )
    return array


def read_pair(images_path: Path, labels_path: Path, name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read an images file (N, H, W) and its labels file (N,), checking they match."""
    images = read(images_path, IMAGES_MAGIC, name)
    labels = read(labels_path, LABELS_MAGIC, name)
    if len(images) != len(labels):
        fetch = f"`latentlab data fetch {name}`" if name else "`latentlab data fetch mnist` or `fashion-mnist`"
        raise DataError(
            f"{labels_path}: holds {len(labels)} labels but {images_path} holds {len(images)} "
            f"images; the two files come from different releases. Fetch both again ({fetch})."
        )
    return images, labels
