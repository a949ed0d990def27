"""iterate_batches: coverage, determinism, the DDP contract, dynamic binarization."""

import pytest
import torch

from latentlab.data import Split, iterate_batches


def make_split(n=23, labelled=True):
    x = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1) / n
    return Split(x, torch.arange(n) if labelled else None)


def seen(split, **kwargs):
    return torch.cat([y for _, y in iterate_batches(split, 5, **kwargs)]).tolist()


@pytest.mark.parametrize("shuffle", [False, True])
def test_covers_every_index_once(shuffle):
    split = make_split()
    assert sorted(seen(split, shuffle=shuffle)) == list(range(23))
    sizes = [len(x) for x, _ in iterate_batches(split, 5, shuffle=shuffle, drop_last=True)]
    assert sizes == [5, 5, 5, 5]


def test_shuffle_is_seeded_by_epoch():
    split = make_split()
    assert seen(split, shuffle=True, epoch=1) == seen(split, shuffle=True, epoch=1)
    assert seen(split, shuffle=True, epoch=1) != seen(split, shuffle=True, epoch=2)
    assert seen(split, shuffle=False) == list(range(23))


@pytest.mark.parametrize("n", [23, 24, 1])
def test_two_ranks_are_disjoint_and_cover(n):
    split = make_split(n)
    ranks = [seen(split, shuffle=True, epoch=3, rank=r, world_size=2) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1])  # padded to a multiple of world_size
    assert set(ranks[0]) | set(ranks[1]) == set(range(n))
    assert len(ranks[0]) + len(ranks[1]) - n == (-n) % 2  # only padding repeats
    if n % 2 == 0:
        assert not set(ranks[0]) & set(ranks[1])


def test_unlabelled_and_dynamic_binarize():
    split = make_split(labelled=False)
    generator = torch.Generator().manual_seed(0)
    batches = list(iterate_batches(split, 8, shuffle=True, dynamic_binarize=True, generator=generator))
    assert all(y is None for _, y in batches)
    values = torch.cat([x for x, _ in batches])
    assert set(values.unique().tolist()) == {0.0, 1.0}


def test_bad_arguments():
    with pytest.raises(ValueError, match="rank"):
        next(iterate_batches(make_split(), 4, shuffle=False, rank=2, world_size=2))
    with pytest.raises(ValueError, match="batch_size"):
        next(iterate_batches(make_split(), 0, shuffle=False))
