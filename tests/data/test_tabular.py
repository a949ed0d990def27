"""Tabular data: (N, D) arrays, standardised per feature on the training split; labels checked before use."""
import json

import numpy as np
import pytest
import torch

from latentlab.data import load_dataset
from latentlab.data.info import info
from latentlab.data.preprocess import MAX_CLASSES
from latentlab.data.tabular import Standardization, is_tabular
from latentlab.errors import DataError

SCALES = np.array([1.0, 10.0, 1000.0, 0.01])
OFFSETS = np.array([0.0, -50.0, 3e4, 7.0])


@pytest.fixture
def table(tmp_path):
    rows = np.random.default_rng(0).normal(size=(200, 4)) * SCALES + OFFSETS
    rows[:, 3] = 7.0  # a constant feature
    path = tmp_path / "table.npy"
    np.save(path, rows)
    return path, rows


def test_rows_are_standardised_with_the_training_splits_constants(table):
    path, rows = table
    data = load_dataset(str(path))
    assert data.tabular and data.shape == (1, 1, 4) and is_tabular(data.shape) and data.classes is None
    assert (len(data.train), len(data.val), len(data.test)) == (144, 16, 40)
    assert data.train.x.dtype == torch.float32 and data.train.x.shape == (144, 1, 1, 4)
    z = data.train.x.reshape(-1, 4).double()
    assert torch.allclose(z.mean(0), torch.zeros(4, dtype=torch.float64), atol=1e-5)
    assert torch.allclose(z[:, :3].std(0, unbiased=False), torch.ones(3, dtype=torch.float64), atol=1e-4)
    s = data.standardization
    assert s.std[3] == 1.0 and s.mean[3] == 7.0 and (z[:, 3] == 0).all()  # a constant feature is only centred
    np.testing.assert_allclose(s.std[:3] / SCALES[:3], 1.0, atol=0.2)
    # the other splits with the same constants, and back to the file's units
    back = s.invert(data.test.x)
    assert back.shape == (40, 4)
    assert min(np.abs(rows - r).sum(1).min() for r in back) < 1e-6 * np.abs(OFFSETS).max()


def test_given_constants_are_applied_not_fitted_again(table):
    path, _ = table
    first = load_dataset(str(path))
    other = load_dataset(str(path), seed=5)  # another validation split: other constants when fitted
    assert not np.array_equal(other.standardization.mean, first.standardization.mean)
    again = load_dataset(str(path), seed=5, standardization=first.standardization)
    assert again.standardization is first.standardization
    ref = first.standardization.apply(first.standardization.invert(again.train.x))
    assert torch.allclose(again.train.x, ref, atol=1e-5)
    with pytest.raises(DataError, match="has 4 features per row but the run was trained on 2"):
        load_dataset(str(path), standardization=Standardization(np.zeros(2), np.ones(2)))


def test_labels_and_integer_features(tmp_path):
    x = np.random.default_rng(1).integers(0, 100, (60, 3))
    np.savez(tmp_path / "t.npz", x=x, y=np.arange(60) % 3)
    data = load_dataset(str(tmp_path / "t.npz"))
    assert data.tabular and data.classes == ["0", "1", "2"] and data.train.y is not None


def test_the_saved_constants_round_trip_and_damage_is_named():
    s = Standardization.fit(np.random.default_rng(2).normal(size=(30, 3)) * 1e-3 + 1e6)
    again = Standardization.from_dict(json.loads(json.dumps(s.to_dict())), "config.json")
    np.testing.assert_array_equal(again.mean, s.mean)
    np.testing.assert_array_equal(again.std, s.std)
    for bad in ({"mean": [0.0]}, {"mean": [0.0], "std": [0.0]}, {"mean": [0.0, 1.0], "std": [1.0]}, [], None):
        with pytest.raises(DataError, match="config.json: the saved standardisation of the tabular data is damaged"):
            Standardization.from_dict(bad, "config.json")


@pytest.mark.parametrize("value, text", [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")])
def test_nan_or_infinite_values_are_refused_naming_row_and_column(tmp_path, value, text):
    x = np.zeros((20, 5))
    x[13, 2] = value
    x[17, 0] = value
    np.save(tmp_path / "t.npy", x)
    with pytest.raises(DataError, match=rf"2 NaN or infinite value\(s\); the first is {text} in row 13, column 2 "
                                        rf"\(counting from 0\)"):
        load_dataset(str(tmp_path / "t.npy"))


@pytest.mark.parametrize("x, message", [
    (np.zeros((5, 3), dtype=complex), "features must be real numbers"),
    (np.array([["a", "b"], ["c", "d"]]), "features must be real numbers"),
    (np.zeros((0, 3)), "the table is empty"),
    (np.zeros((5, 0)), "the table is empty"),
])
def test_tables_that_are_not_numbers_are_refused(tmp_path, x, message):
    np.save(tmp_path / "t.npy", x)
    with pytest.raises(DataError, match=message):
        load_dataset(str(tmp_path / "t.npy"))


@pytest.mark.parametrize("option, message", [
    (dict(binarize="static"), "cannot be binarized"), (dict(binarize="dynamic"), "cannot be binarized"),
    (dict(image_size=8), "no image to resize"),
])
def test_image_options_do_not_apply_to_tables(table, option, message):
    with pytest.raises(DataError, match=message):
        load_dataset(str(table[0]), **option)


# --- labels ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("y, message", [
    (np.full(20, 10**9), r"labels go up to 1000000000; labels are class indices 0..K-1 with K at most 10,000.*np.unique"),
    (np.full(20, 2**63 + 5, dtype=np.uint64), "labels go up to 9223372036854775813"),
    (np.full(20, MAX_CLASSES), "labels go up to 10000"),
    (np.full(20, -3), "labels include -3"),
])
def test_labels_are_checked_before_anything_is_built_from_them(tmp_path, y, message):
    np.savez(tmp_path / "d.npz", x=np.zeros((20, 4, 4), np.uint8), y=y)
    with pytest.raises(DataError, match=message):
        load_dataset(str(tmp_path / "d.npz"))


def test_the_largest_label_allowed_and_named_classes(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((20, 4, 4), np.uint8), y=np.full(20, MAX_CLASSES - 1))
    assert load_dataset(str(tmp_path / "d.npz")).num_classes == MAX_CLASSES
    np.savez(tmp_path / "n.npz", x=np.zeros((20, 4, 4), np.uint8), y=np.arange(20) % 5, classes=np.array(["a", "b"]))
    with pytest.raises(DataError, match="labels go up to 4 but 'classes' names 2 classes; give one name per class index 0..1"):
        load_dataset(str(tmp_path / "n.npz"))


def test_data_info_describes_a_file(table):
    described = info(str(table[0]))
    assert described["found"] and described["features"] == 4 and described["kind"].startswith("tabular")
    assert described["counts"] == {"train": 144, "val": 16, "test": 40}
    with pytest.raises(DataError, match="cannot describe 'no-such.npy': no such file or folder"):
        info("no-such.npy")
