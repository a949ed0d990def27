"""Semi-supervised labels: keep the labels of only some training images (``TrainConfig.labels``).

``keep_labels(data, n, seed)`` keeps the labels of ``n`` training images, balanced over the K
classes (n // K of every class, one more of n % K classes) and chosen with ``seed``; every other
training image gets the label ``UNLABELLED`` (-1). The validation and test splits keep all their
labels. The kept images are listed in ``data.train.labelled`` (indices into the training split,
after the validation hold-out), and they follow from (n, seed) alone: config.json's ``labels`` and
``seed`` reproduce them. With the same seed the images kept for n are among those kept for any
larger n, so runs with 100, 600 and 1000 labels compare on nested subsets.

``iterate_batches`` serves such a split to training the way Salimans et al. (2016) train: every
batch is ``batch_size`` images of the whole split with their labels hidden, followed by labelled
images cycled from the kept ones (``labelled_batches``), so that a few labels are seen at every
step rather than once per epoch.
"""
from __future__ import annotations

import dataclasses

import torch

from latentlab.data.dataset import Dataset, Split
from latentlab.errors import ConfigError

UNLABELLED = -1  # the label of a training image whose label is hidden


def choose_labelled(y: torch.Tensor, n: int, num_classes: int, seed: int) -> torch.Tensor:
    """n indices of ``y`` balanced over the classes, drawn with ``seed``: (n,) int64, sorted.

    Every class gets n // K images and n % K classes (in a seeded order) one more; within a class
    the images come in a seeded order that does not depend on n, so a smaller n keeps a subset."""
    g = torch.Generator().manual_seed(seed)
    members = [torch.nonzero(y == k).flatten() for k in range(num_classes)]
    orders = [m[torch.randperm(len(m), generator=g)] for m in members]  # each class, shuffled
    extra = torch.randperm(num_classes, generator=g)[: n % num_classes]  # the classes with one more
    quota = torch.full((num_classes,), n // num_classes, dtype=torch.long)
    quota[extra] += 1
    for k, (order, q) in enumerate(zip(orders, quota.tolist())):
        if len(order) < q:
            fewest = min(len(o) for o in orders)
            raise ConfigError(f"labels={n} asks for {q} labelled images of class {k}, which has only {len(order)} training "
                              f"images: lower labels to at most {fewest * num_classes} ({fewest} per class), or leave it out")
    return torch.sort(torch.cat([order[:q] for order, q in zip(orders, quota.tolist())])).values


def keep_labels(data: Dataset, n: int | None, seed: int) -> Dataset:
    """``data`` with the labels of only ``n`` training images kept (the others -1); None: ``data`` unchanged.

    A ConfigError, naming the fix, for n below the number of classes, above the number of training
    images, or on a dataset without labels."""
    if n is None:
        return data
    train = data.train
    if train.y is None or data.classes is None:
        raise ConfigError(f"labels={n}: the dataset {data.name} has no labels to keep; semi-supervised training needs a "
                          f"labelled dataset (digits, mnist, fashion-mnist, an .npz with y, or an image folder with one "
                          f"subfolder per class), or leave labels (--labels) out")
    if train.labelled is not None:
        if len(train.labelled) == n:
            return data  # already kept (e.g. a Dataset loaded with load_dataset(..., labels=n))
        raise ConfigError(f"labels={n}: this dataset already keeps the labels of only {len(train.labelled)} training images; "
                          f"load it without labels (load_dataset(..., labels=None)) to choose another number")
    k = data.num_classes
    if n < k:
        raise ConfigError(f"labels={n} is fewer than the {k} classes: keep at least one labelled image per class "
                          f"(--labels {k} or more)")
    if n > len(train):
        raise ConfigError(f"labels={n} is more than the {len(train)} training images: give at most {len(train)}, "
                          f"or leave labels (--labels) out to keep every label")
    index = choose_labelled(train.y, n, k, seed)  # (n,)
    y = torch.full_like(train.y, UNLABELLED)
    y[index] = train.y[index]
    return dataclasses.replace(data, train=Split(train.x, y, labelled=index))


def labelled_batches(labelled: torch.Tensor, n_batches: int, size: int, generator: torch.Generator,
                     rank: int = 0, world_size: int = 1) -> torch.Tensor:
    """The labelled images of each of one rank's ``n_batches`` batches: (n_batches, size) indices.

    One stream of seeded permutations of ``labelled`` (every image once before any repeats), shared by
    every rank (``generator`` in the same state on each) and dealt out batch by batch, rank by rank."""
    need = n_batches * world_size * size
    rounds = -(-need // len(labelled))
    stream = torch.cat([labelled[torch.randperm(len(labelled), generator=generator)] for _ in range(rounds)])
    return stream[:need].view(n_batches, world_size, size)[:, rank]
