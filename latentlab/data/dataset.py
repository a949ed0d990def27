"""The in-memory containers every model trains on."""

from dataclasses import dataclass

import torch

from latentlab.data.tabular import Standardization, is_tabular


@dataclass
class Split:
    """One split of a dataset, held in memory.

    ``x`` is float32 of shape (N, C, H, W) with values in [0, 1] (tabular data: (N, 1, 1, D)
    standardised features, see ``latentlab.data.tabular``); ``y`` holds int64 labels of shape
    (N,), or is None when the data is unlabelled. A semi-supervised training split
    (``latentlab.data.labelled.keep_labels``) holds -1 for every image whose label is hidden and
    lists the images whose labels are kept in ``labelled`` ((L,) int64 indices, sorted).
    """

    x: torch.Tensor
    y: torch.Tensor | None
    labelled: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.x.shape[0]

    def first(self, n: int) -> "Split":
        """The first ``n`` images (all of them when there are no more); the labelled-index list is not carried."""
        if n >= len(self):
            return self
        return Split(self.x[:n], None if self.y is None else self.y[:n])


@dataclass
class Dataset:
    """A named dataset with train, validation and test splits."""

    name: str
    train: Split
    val: Split
    test: Split
    classes: list[str] | None  # class names, index = label; None if unlabelled
    binarize: str = "none"  # how load_dataset binarized the pixels: none, static or dynamic (applied per batch)
    threshold: float = 0.5  # the threshold of static binarization
    standardization: Standardization | None = None  # tabular data: the per-feature constants applied to every split

    @property
    def tabular(self) -> bool:
        """Rows of features (an (N, D) array), not images: x is (N, 1, 1, D)."""
        return self.standardization is not None or is_tabular(self.shape)

    @property
    def labelled(self) -> torch.Tensor | None:
        """The training images whose labels are kept, when only some are ((L,) indices into ``train``), else None."""
        return self.train.labelled

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape of one image: (C, H, W)."""
        c, h, w = self.train.x.shape[1:]
        return (c, h, w)

    @property
    def num_classes(self) -> int | None:
        """Number of classes, or None when the data is unlabelled."""
        return None if self.classes is None else len(self.classes)
