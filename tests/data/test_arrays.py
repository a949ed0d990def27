"""Loading .npy / .npz files."""

import numpy as np
import pytest

from latentlab.data import load_dataset
from latentlab.errors import DataError


@pytest.mark.parametrize(
    "shape, expected",
    [((20, 6, 5), (1, 6, 5)), ((20, 3, 6, 5), (3, 6, 5)), ((20, 6, 5, 3), (3, 6, 5)), ((20, 6, 5, 1), (1, 6, 5))],
)
def test_npy_layouts(tmp_path, shape, expected):
    x = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    np.save(tmp_path / "faces.npy", x)
    data = load_dataset(str(tmp_path / "faces.npy"), val_fraction=0.25)
    assert data.name == "faces" and data.shape == expected and data.classes is None
    assert (len(data.train), len(data.val), len(data.test)) == (12, 4, 4)
    assert data.train.y is None and data.train.x.dtype.is_floating_point
    assert 0 <= data.train.x.min() and data.train.x.max() <= 1


def test_npz_with_labels(tmp_path):
    x = np.random.default_rng(0).random((40, 4, 4), dtype=np.float32)
    np.savez(tmp_path / "d.npz", images=x, labels=np.arange(40) % 4)
    data = load_dataset(str(tmp_path / "d.npz"))
    assert data.classes == ["0", "1", "2", "3"] and data.num_classes == 4
    assert data.train.y.dtype == data.test.y.dtype and data.test.y.unique().tolist() == [0, 1, 2, 3]
    assert len(data.train) + len(data.val) + len(data.test) == 40


def test_npz_class_names(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((10, 2, 2), np.uint8), y=np.arange(10) % 2, classes=np.array(["a", "b"]))
    assert load_dataset(str(tmp_path / "d.npz")).classes == ["a", "b"]


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"x": np.full((10, 2, 2), np.nan)}, r"\['x'\]: the image array holds 40 NaN or infinite"),
        ({"x": np.full((10, 2, 2), 2.0)}, r"scale to \[0, 1\]"),
        ({"x": np.zeros((0, 2, 2))}, "empty"),
        ({"x": np.zeros((10, 2, 2, 5))}, "expected"),
        (
            {"x": np.zeros((10, 2, 2)), "y": np.zeros((10, 1), int)},
            r"\['y'\]: labels have shape \(10, 1\) but must be 1-D of length 10",
        ),
        ({"x": np.zeros((10, 2, 2)), "y": np.zeros(9, int)}, "must be 1-D of length 10"),
        ({"x": np.zeros((10, 2, 2)), "y": np.zeros(10)}, "must be integers"),
        ({"images_": np.zeros((10, 2, 2))}, "no image array found"),
    ],
)
def test_npz_errors(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=message) as e:
        load_dataset(str(path))
    assert str(path) in str(e.value)


def test_object_arrays_are_refused(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="never loads"):
        load_dataset(str(path))
