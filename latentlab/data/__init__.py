"""Datasets for latentlab: named ones (digits, MNIST, Fashion-MNIST), arrays and image folders.

Everything is held in memory as float32 tensors (N, C, H, W) in [0, 1];
``iterate_batches`` draws mini-batches by index.
"""

from latentlab.data.batches import iterate_batches
from latentlab.data.catalog import DATASETS
from latentlab.data.dataset import Dataset, Split
from latentlab.data.labelled import UNLABELLED, keep_labels
from latentlab.data.load import load_dataset

__all__ = ["DATASETS", "UNLABELLED", "Dataset", "Split", "iterate_batches", "keep_labels", "load_dataset"]
