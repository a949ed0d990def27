"""Mini-batches drawn by index from in-memory tensors, with a DDP-safe shuffle."""

from collections.abc import Iterator

import torch

from latentlab.data.dataset import Split


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
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = epoch_order(
        len(split), shuffle=shuffle, generator=generator, epoch=epoch, seed=seed, rank=rank, world_size=world_size
    )
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        if drop_last and len(index) < batch_size:
            return
        x = split.x[index]
        if dynamic_binarize:
            x = torch.bernoulli(x, generator=generator)
        yield x, None if split.y is None else split.y[index]
