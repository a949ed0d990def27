"""k-NN manifold metrics of generated (fake) against real features.

Each set's manifold is the union of balls around its points with radius the distance
to the k-th nearest neighbour in the same set.

- precision: share of fake points inside the real manifold; recall: share of real points
  inside the fake manifold (improved precision and recall, Kynkaanniemi et al. 2019, k = 3);
- density: how many real balls hold each fake point, divided by k (about 1 for matching sets);
  coverage: share of real points whose ball holds at least one fake point
  (Naeem et al. 2020, "Reliable fidelity and diversity metrics for generative models").
"""
from __future__ import annotations

import numpy as np
import torch

from latentlab.errors import LatentlabError

CHUNK = 1024  # rows of a distance matrix held at once: (1024, M) floats


def _distances(a: torch.Tensor, b: torch.Tensor):
    """Yield (start, rows of cdist(a, b)) in chunks of a."""
    for start in range(0, len(a), CHUNK):
        yield start, torch.cdist(a[start:start + CHUNK], b)


def knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """(N,) distance of each point to its k-th nearest other point of the same set."""
    radii = torch.empty(len(x), dtype=x.dtype)
    for start, d in _distances(x, x):
        radii[start:start + len(d)] = d.kthvalue(k + 1, dim=1).values  # k + 1: the point itself is at 0
    return radii


def prdc(real: np.ndarray, fake: np.ndarray, k: int = 3) -> dict[str, float]:
    """Precision, recall, density and coverage of (M, D) fake against (N, D) real features."""
    if min(len(real), len(fake)) <= k:
        raise LatentlabError(f"precision/recall with k = {k} need more than {k} images per set; "
                             f"got {len(real)} real and {len(fake)} fake")
    real, fake = torch.as_tensor(real, dtype=torch.float64), torch.as_tensor(fake, dtype=torch.float64)
    r_real, r_fake = knn_radii(real, k), knn_radii(fake, k)
    in_real = torch.zeros(len(fake), dtype=torch.bool)  # fake point i inside some real ball
    density = torch.zeros(len(fake), dtype=torch.float64)
    in_fake = torch.zeros(len(real), dtype=torch.bool)  # real point j inside some fake ball
    nearest_fake = torch.full((len(real),), float("inf"), dtype=torch.float64)
    for start, d in _distances(fake, real):  # d: (chunk of fake, N real)
        inside = d <= r_real[None, :]
        in_real[start:start + len(d)] = inside.any(1)
        density[start:start + len(d)] = inside.sum(1)
        in_fake |= (d <= r_fake[start:start + len(d), None]).any(0)
        nearest_fake = torch.minimum(nearest_fake, d.min(0).values)
    return {"precision": float(in_real.double().mean()), "recall": float(in_fake.double().mean()),
            "density": float(density.sum() / (k * len(fake))), "coverage": float((nearest_fake <= r_real).double().mean())}
