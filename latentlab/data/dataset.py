"""The in-memory containers every model trains on."""

from dataclasses import dataclass

import torch


@dataclass
class Split:
    """One split of a dataset, held in memory.

    ``x`` is float32 of shape (N, C, H, W) with values in [0, 1]; ``y`` holds
    int64 labels of shape (N,), or is None when the data is unlabelled.
    """

    x: torch.Tensor
    y: torch.Tensor | None

    def __len__(self) -> int:
        return self.x.shape[0]


@dataclass
class Dataset:
    """A named dataset with train, validation and test splits."""

    name: str
    train: Split
    val: Split
    test: Split
    classes: list[str] | None  # class names, index = label; None if unlabelled

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape of one image: (C, H, W)."""
        c, h, w = self.train.x.shape[1:]
        return (c, h, w)

    @property
    def num_classes(self) -> int | None:
        """Number of classes, or None when the data is unlabelled."""
        return None if self.classes is None else len(self.classes)
