"""Semi-supervised labels (load_dataset(..., labels=N)): a balanced, seeded, nested subset of the training
labels kept, -1 elsewhere, validation and test untouched; the batches of such a split; bad numbers refused."""
import numpy as np
import pytest
import torch

from latentlab.config import TrainConfig, from_dict
from latentlab.data import UNLABELLED, Split, iterate_batches, keep_labels, load_dataset
from latentlab.errors import ConfigError


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_balanced_seeded_and_minus_one_elsewhere(digits):
    data = keep_labels(digits, 55, seed=3)
    kept = data.train.labelled
    assert kept.dtype == torch.int64 and len(kept) == 55 and torch.equal(kept, kept.sort().values)
    assert torch.equal(data.labelled, kept)
    counts = torch.bincount(digits.train.y[kept], minlength=10)
    assert sorted(counts.tolist()) == [5] * 5 + [6] * 5  # 55 // 10 of every class, one more of five
    assert torch.equal(data.train.y[kept], digits.train.y[kept])  # the kept labels are the true ones
    hidden = torch.ones(len(digits.train), dtype=torch.bool)
    hidden[kept] = False
    assert (data.train.y[hidden] == UNLABELLED).all() and UNLABELLED == -1
    assert data.train.x is digits.train.x  # the images are all still there
    assert torch.equal(keep_labels(digits, 55, seed=3).labelled, kept)
    assert not torch.equal(keep_labels(digits, 55, seed=4).labelled, kept)
    assert digits.labelled is None and (digits.train.y >= 0).all()  # the loaded dataset is not changed


def test_smaller_subsets_are_nested(digits):
    small, large = (set(keep_labels(digits, n, seed=0).labelled.tolist()) for n in (20, 57))
    assert small < large


def test_validation_and_test_keep_every_label():
    full, semi = load_dataset("digits", seed=2), load_dataset("digits", seed=2, labels=30)
    assert torch.equal(semi.labelled, keep_labels(full, 30, seed=2).labelled)  # chosen with the training seed
    for split in ("val", "test"):
        assert torch.equal(getattr(semi, split).y, getattr(full, split).y) and getattr(semi, split).labelled is None
    assert torch.equal(semi.train.x, full.train.x) and (semi.train.y == UNLABELLED).sum() == len(full.train) - 30
    assert keep_labels(semi, 30, seed=2) is semi  # already kept: unchanged
    assert load_dataset("digits", labels=None).labelled is None


def test_bad_numbers_are_refused(digits, tmp_path):
    with pytest.raises(ConfigError, match="fewer than the 10 classes"):
        keep_labels(digits, 9, seed=0)
    with pytest.raises(ConfigError, match="more than the 1294 training images"):
        keep_labels(digits, 1295, seed=0)
    with pytest.raises(ConfigError, match="already keeps the labels of only 20"):
        keep_labels(keep_labels(digits, 20, seed=0), 30, seed=0)
    with pytest.raises(ConfigError, match="labels must be a positive number"):
        from_dict(TrainConfig, {"labels": 0})
    assert from_dict(TrainConfig, {}).labels is None and from_dict(TrainConfig, {"labels": 100}).labels == 100
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "plain.npz", x=rng.random((40, 4, 4), dtype=np.float32))
    with pytest.raises(ConfigError, match="has no labels"):
        load_dataset(str(tmp_path / "plain.npz"), labels=10)
    # a class with too few training images for its share
    np.savez(tmp_path / "skewed.npz", x=rng.random((60, 4, 4), dtype=np.float32), y=np.array([0] * 54 + [1] * 6))
    with pytest.raises(ConfigError, match="5 labelled images of class 1, which has only 4 training images"):
        load_dataset(str(tmp_path / "skewed.npz"), val_fraction=0.25, labels=10)


def semi_split(n=23, kept=(1, 4, 7, 9, 15, 20, 22)):
    x = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1)  # image i holds the value i
    y = torch.full((n,), UNLABELLED)
    index = torch.tensor(kept)
    y[index] = index % 3
    return Split(x, y, labelled=index)


def test_training_batches_carry_the_labelled_images():
    split = semi_split()
    batches = list(iterate_batches(split, 5, shuffle=True, seed=1, epoch=2))
    assert len(batches) == 5  # batches of the whole split, as many as without labels
    seen, stream = [], []
    for x, y in batches:  # 5 (the last: 3) images, then min(5, 7 kept) = 5 labelled ones
        main, extra = x[:-5].flatten().long(), x[-5:].flatten().long()
        assert (y[:-5] == UNLABELLED).all()  # every label hidden in the batch itself
        assert torch.equal(y[-5:], extra % 3) and set(extra.tolist()) <= set(split.labelled.tolist())
        seen += main.tolist()
        stream += extra.tolist()
    assert sorted(seen) == list(range(23))  # the epoch still covers every image once
    assert sorted(stream[:7]) == split.labelled.tolist()  # each labelled image once before any repeats
    again = list(iterate_batches(split, 5, shuffle=True, seed=1, epoch=2))
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(batches, again))
    other = list(iterate_batches(split, 5, shuffle=True, seed=1, epoch=3))
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(batches, other))
    # unshuffled (evaluation): the split as it is, -1 and all
    plain = list(iterate_batches(split, 5, shuffle=False))
    assert torch.equal(torch.cat([y for _, y in plain]), split.y)


def test_a_labelled_part_no_larger_than_the_subset_and_ranks_deal_it_out():
    split = semi_split(kept=(2, 5))
    x, y = next(iter(iterate_batches(split, 4, shuffle=True)))
    assert len(x) == 6 and sorted(x[4:].flatten().long().tolist()) == [2, 5]  # min(batch_size, 2) labelled
    wide = semi_split(n=40, kept=tuple(range(0, 40, 2)))
    ranks = [list(iterate_batches(wide, 4, shuffle=True, rank=r, world_size=2)) for r in range(2)]
    assert [len(x) for x, _ in ranks[0]] == [8] * 5 and [len(x) for x, _ in ranks[1]] == [8] * 5
    for (x0, _), (x1, _) in list(zip(*ranks))[:2]:  # one stream dealt out rank by rank: 16 of the 20 labelled images
        assert not set(x0[4:].flatten().tolist()) & set(x1[4:].flatten().tolist())
