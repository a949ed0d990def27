"""Mini-batches drawn by index from in-memory tensors, with a DDP-safe shuffle."""

from collections.abc import Iterator

import torch

from latentlab.data.dataset import Split
from latentlab.data.labelled import UNLABELLED, labelled_batches


def epoch_order(
    n: int,
    *,
    shuffle: bool,
    generator: torch.Generator | None = None,
    epoch: int = 0,
    seed: int = 0,
    rank: int = 0,
    world_size: int = 1,
) -> torch.Tensor:
    """The indices one rank visits in one epoch.

    Every rank draws the same permutation (from ``generator``, or from a
    generator seeded with ``seed + epoch``), pads it by repeating from the start
    to a multiple of ``world_size``, and takes every ``world_size``-th index from
    ``rank``: ranks are disjoint up to the padding and together cover the data.
    With a ``generator`` the caller must keep it in the same state on every rank.
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"need world_size >= 1 and 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
    if shuffle:
        g = generator if generator is not None else torch.Generator().manual_seed(seed + epoch)
        order = torch.randperm(n, generator=g)
    else:
        order = torch.arange(n)
    if world_size == 1 or n == 0:
        return order
    total = -(-n // world_size) * world_size
    order = order.repeat(-(-total // n))[:total]
    return order[rank::world_size]


def iterate_batches(
    split: Split,
    batch_size: int,
    *,
    shuffle: bool,
    generator: torch.Generator | None = None,
    epoch: int = 0,
    seed: int = 0,
    rank: int = 0,
    world_size: int = 1,
    dynamic_binarize: bool = False,
    drop_last: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Yield (x, y) batches of ``split`` for one epoch; y is None when unlabelled.

    ``dynamic_binarize`` replaces each pixel by a Bernoulli sample of its value,
    fresh every batch, using ``generator`` (or the global RNG when None).

    A semi-supervised split (``split.labelled``, ``latentlab.data.labelled``), shuffled for training:
    each batch is its ``batch_size`` images with every label hidden (-1), followed by
    min(batch_size, labelled) labelled images with their labels, cycled through the labelled
    ones in a seeded order (Salimans et al. 2016: a labelled and an unlabelled batch per step).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    semi = shuffle and split.labelled is not None and len(split.labelled) > 0
    g = generator
    if semi and g is None:  # the epoch's permutation, then its labelled stream, from one seeded generator
        g = torch.Generator().manual_seed(seed + epoch)
    order = epoch_order(len(split), shuffle=shuffle, generator=g, epoch=epoch, seed=seed, rank=rank, world_size=world_size)
    if semi:
        size = min(batch_size, len(split.labelled))
        extra = labelled_batches(split.labelled, -(-len(order) // batch_size), size, g, rank, world_size)  # (batches, size)
    for b, start in enumerate(range(0, len(order), batch_size)):
        index = order[start : start + batch_size]
        if drop_last and len(index) < batch_size:
            return
        x, y = split.x[index], None if split.y is None else split.y[index]
        if semi:  # (B + L, C, H, W): the batch with its labels hidden, then the labelled images
            x = torch.cat([x, split.x[extra[b]]])
            y = torch.cat([torch.full((len(index),), UNLABELLED, dtype=split.y.dtype), split.y[extra[b]]])
        if dynamic_binarize:
            x = torch.bernoulli(x, generator=generator)
        yield x, y
