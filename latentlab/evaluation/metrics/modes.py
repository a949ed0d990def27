"""Mode coverage: which classes the samples fall in, by the evaluation classifier's labels.

A class counts as covered when it receives at least ``MIN_SHARE`` (10%) of the samples the
data's class distribution would give it (1% of the samples for ten balanced classes), so that
a handful of misclassified samples does not make a mode. The KL divergence
KL(p_samples || p_data) = sum_c p_s(c) log(p_s(c) / p_data(c)) is 0 for the data's proportions
and log(C) when every sample falls in one of C balanced classes (mode collapse).
"""
from __future__ import annotations

import numpy as np

MIN_SHARE = 0.1


def class_distribution(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """(C,) share of each class among ``labels``."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes).astype(np.float64)
    return counts / max(counts.sum(), 1.0)


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p || q) in nats; terms with p = 0 are 0, and p > 0 where q = 0 is infinite."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    mask = p > 0
    if (q[mask] == 0).any():
        return float("inf")
    return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))


def mode_coverage(predicted: np.ndarray, data_distribution: np.ndarray) -> dict:
    """Label histogram of the samples, classes covered, and KL to the data's class distribution."""
    data_distribution = np.asarray(data_distribution, dtype=np.float64)
    counts = np.bincount(np.asarray(predicted, dtype=np.int64), minlength=len(data_distribution))
    share = counts / max(counts.sum(), 1)
    covered = share >= MIN_SHARE * data_distribution
    covered &= data_distribution > 0
    return {"classes_covered": int(covered.sum()), "classes": int((data_distribution > 0).sum()),
            "class_kl": kl_divergence(share, data_distribution), "label_histogram": counts.tolist()}
