"""load_dataset: names, look-up order, splits, options; real MNIST when available."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from latentlab.data import DATASETS, load_dataset
from latentlab.data.info import info
from latentlab.errors import DataError

# CI sets LATENTLAB_TEST_MNIST; otherwise look for the project's ../shared beside the clone.
SHARED_MNIST = Path(os.environ.get("LATENTLAB_TEST_MNIST", Path(__file__).resolve().parents[2].parent / "shared/data/mnist"))
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


def test_digits():
    data = load_dataset("digits")
    assert data.shape == (1, 8, 8) and data.num_classes == 10 and data.name == "digits"
    assert (len(data.train), len(data.val), len(data.test)) == (1294, 144, 359)
    assert data.train.x.dtype == torch.float32 and data.train.y.dtype == torch.int64
    assert 0 <= data.train.x.min() and data.train.x.max() == 1


def test_splits_deterministic_disjoint_and_test_fixed():
    a, b, c = load_dataset("digits"), load_dataset("digits"), load_dataset("digits", seed=1)
    assert torch.equal(a.val.x, b.val.x) and torch.equal(a.train.y, b.train.y)
    assert not torch.equal(a.val.x, c.val.x)
    assert torch.equal(a.test.x, c.test.x)  # the carved test split ignores seed


def test_splits_disjoint_and_cover(tmp_path):
    n = 50
    x = np.arange(n, dtype=np.float32).reshape(n, 1, 1) / n  # image i holds the value i / n
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(n) % 3)
    data = load_dataset(str(tmp_path / "d.npz"), val_fraction=0.25, seed=7)
    ids = [set((split.x.flatten() * n).round().long().tolist()) for split in (data.train, data.val, data.test)]
    assert [len(s) for s in ids] == [30, 10, 10]
    assert set.union(*ids) == set(range(n)) and sum(len(s) for s in ids) == n
    assert sorted(data.test.y.tolist()) == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]  # stratified


def test_options():
    data = load_dataset("digits", val_fraction=0, image_size=16, binarize="static", threshold=0.3)
    assert len(data.val) == 0 and data.val.x.shape == (0, 1, 16, 16)
    assert data.shape == (1, 16, 16) and set(data.train.x.unique().tolist()) <= {0.0, 1.0}
    dynamic = load_dataset("digits", binarize="dynamic")
    assert len(dynamic.train.x.unique()) > 2
    for bad in [dict(binarize="yes"), dict(threshold=1.5), dict(val_fraction=1.0), dict(image_size=0)]:
        with pytest.raises(DataError, match="not valid"):
            load_dataset("digits", **bad)


def test_unknown_name():
    with pytest.raises(DataError, match="unknown dataset 'cifar'") as e:
        load_dataset("cifar")
    assert all(name in str(e.value) for name in DATASETS) and ".npz" in str(e.value)


def test_lookup_order(tmp_path, fake_dir, small_counts, monkeypatch):
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist") as e:
        load_dataset("fashion-mnist", download=False)
    assert "--data-dir" in str(e.value) and str(tmp_path / "cache") in str(e.value)
    assert len(load_dataset("mnist", data_dir=str(fake_dir)).test) == 10
    # <LATENTLAB_DATA>/<name>/ is looked in too.
    (tmp_path / "store").mkdir()
    fake_dir.rename(tmp_path / "store" / "fashion-mnist")
    monkeypatch.setenv("LATENTLAB_DATA", str(tmp_path / "store"))
    data = load_dataset("fashion-mnist", download=False)
    assert data.classes[0] == "T-shirt/top" and len(data.train) == 27


def test_incomplete_folder_is_reported(fake_dir):
    (fake_dir / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="incomplete: missing t10k-labels-idx1-ubyte"):
        load_dataset("mnist", data_dir=str(fake_dir), download=False)


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="no MNIST copy (set LATENTLAB_TEST_MNIST)")
def test_real_mnist():
    data = load_dataset("mnist", data_dir=str(SHARED_MNIST), download=False)
    assert len(data.train) + len(data.val) == 60000 and len(data.test) == 10000
    assert data.shape == (1, 28, 28) and data.classes == [str(i) for i in range(10)]


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="dataset-fashion-mnist is not installed")
def test_debian_fashion_mnist_checksums():
    report = info("fashion-mnist", DEBIAN_FASHION)
    assert report["sha256_ok"], report
    assert report["counts"] == {"train": 60000, "test": 10000}
