"""IDX reader: round trips and each kind of bad file."""

import gzip

import numpy as np
import pytest

from latentlab.data import idx
from latentlab.errors import DataError


@pytest.mark.parametrize("gz", [False, True])
def test_round_trip(tmp_path, write_idx, gz):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    labels = np.array([7, 1], dtype=np.uint8)
    # The suffix says nothing: gzip is detected by its magic bytes.
    write_idx(tmp_path / "images", images, gz=gz)
    write_idx(tmp_path / "labels.gz", labels, gz=gz)
    got_images, got_labels = idx.read_pair(tmp_path / "images", tmp_path / "labels.gz")
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


def test_truncated_gzip(tmp_path, idx_bytes):
    data = gzip.compress(idx_bytes(np.zeros((5, 4, 4))))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated or corrupt gzip") as e:
        idx.read(path, idx.IMAGES_MAGIC)
    assert str(path) in str(e.value)


def test_not_idx(tmp_path):
    path = tmp_path / "junk"
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(DataError, match="not an IDX file"):
        idx.read(path, idx.IMAGES_MAGIC)


def test_wrong_magic(tmp_path, write_idx):
    path = write_idx(tmp_path / "labels-as-images", np.zeros(5))
    with pytest.raises(DataError, match="wrong magic number 2049") as e:
        idx.read(path, idx.IMAGES_MAGIC)
    assert "labels-as-images" in str(e.value)


def test_label_count_mismatch(tmp_path, write_idx):
    images = write_idx(tmp_path / "images", np.zeros((5, 2, 2)))
    labels = write_idx(tmp_path / "labels", np.zeros(4))
    with pytest.raises(DataError, match="holds 4 labels but .* holds 5 images"):
        idx.read_pair(images, labels)


def test_dims_not_matching_payload(tmp_path, idx_bytes):
    path = tmp_path / "images"
    path.write_bytes(idx_bytes(np.zeros((5, 2, 2)))[:-3])
    with pytest.raises(DataError, match=r"declares dims \(5, 2, 2\) = 20 bytes .* holds 17"):
        idx.read(path, idx.IMAGES_MAGIC)


def test_dims_that_overflow_int64_are_refused_before_any_allocation(tmp_path):
    """(2**31, 2**31, 4) = 2**64 bytes: numpy's int64 product wraps to 0, which matched an empty payload."""
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(idx.IMAGES_MAGIC.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in (2**31, 2**31, 4)))
    with pytest.raises(DataError, match=r"declares dims \(2147483648, 2147483648, 4\) = 18446744073709551616 bytes"):
        idx.read(path, idx.IMAGES_MAGIC, "mnist")


def test_a_gzipped_header_declaring_more_than_the_file_can_hold(tmp_path):
    header = idx.IMAGES_MAGIC.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in (60000, 2**20, 2**20))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(header + bytes(100)))
    with pytest.raises(DataError, match="more than a gzip file of .* bytes can hold"):
        idx.read(path, idx.IMAGES_MAGIC)


def test_messages_name_the_dataset_to_fetch(tmp_path, idx_bytes):
    path = tmp_path / "images"
    path.write_bytes(idx_bytes(np.zeros((5, 2, 2)))[:-3])
    with pytest.raises(DataError) as e:
        idx.read(path, idx.IMAGES_MAGIC, "fashion-mnist")
    assert "`latentlab data fetch fashion-mnist`" in str(e.value) and "NAME" not in str(e.value)
    with pytest.raises(DataError) as e:
        idx.read(path, idx.IMAGES_MAGIC)
    assert "`latentlab data fetch mnist` or `latentlab data fetch fashion-mnist`" in str(e.value) and "NAME" not in str(e.value)
