"""Frechet distance between Gaussians fitted to two feature sets (Dowson and Landau 1982;
as FID, Heusel et al. 2017, but in the evaluation classifier's features, not Inception's):

    FD = |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))
"""
from __future__ import annotations

import numpy as np
from scipy import linalg

from latentlab.errors import LatentlabError


def min_samples(dim: int) -> int:
    """Images per set a full-rank (D, D) covariance needs: more than D."""
    return dim + 1


def gaussian(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of (N, D) features."""
    features = np.asarray(features, dtype=np.float64)
    n, dim = features.shape
    if n < min_samples(dim):
        raise LatentlabError(f"the Frechet distance needs at least {min_samples(dim)} images per set "
                             f"(more than the {dim} feature dimensions, for a full-rank covariance); got {n}")
    return features.mean(0), np.cov(features, rowvar=False)


def frechet_distance(a: np.ndarray, b: np.ndarray, eps: float = 1e-6) -> float:
    """FD between (N, D) and (M, D) feature sets; 0 for a set against itself."""
    mu_a, cov_a = gaussian(a)
    mu_b, cov_b = gaussian(b)
    if min(np.linalg.eigvalsh(cov_a)[0], np.linalg.eigvalsh(cov_b)[0]) < eps:
        # near-singular covariances (e.g. dead ReLU features): offset both diagonals by eps inside the root
        offset = eps * np.eye(len(cov_a))
        covmean = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    else:
        covmean = linalg.sqrtm(cov_a @ cov_b)
    covmean = np.real(covmean)  # round-off leaves a tiny imaginary part
    diff = mu_a - mu_b
    return float(max(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean), 0.0))
