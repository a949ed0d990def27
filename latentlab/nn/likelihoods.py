"""Per-image reconstruction negative log-likelihoods, in nats.

Each function takes decoder logits (B, C, H, W) and targets x in [0, 1] and
returns (B,) values summed over pixels; the caller averages over the batch.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LIKELIHOODS = ("bernoulli", "gaussian")


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log p(x|z) = -sum_i [x_i log p_i + (1 - x_i) log(1 - p_i)], p = sigmoid(logits) (binary cross-entropy)."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def gaussian_nll(logits: torch.Tensor, x: torch.Tensor, sigma: float) -> torch.Tensor:
    """-log N(x; mu, sigma^2 I) = sum_i (x_i - mu_i)^2 / (2 sigma^2) + D log(sigma sqrt(2 pi)), mu = sigmoid(logits)."""
    sq = (x - torch.sigmoid(logits)).pow(2).flatten(1).sum(1)
    return sq / (2 * sigma**2) + x[0].numel() * math.log(sigma * math.sqrt(2 * math.pi))


def reconstruction_nll(logits: torch.Tensor, x: torch.Tensor, likelihood: str, sigma: float = 0.1) -> torch.Tensor:
    if likelihood == "bernoulli":
        return bernoulli_nll(logits, x)
    if likelihood == "gaussian":
        return gaussian_nll(logits, x, sigma)
    raise ValueError(f"unknown likelihood {likelihood!r}; choose from {LIKELIHOODS}")


def squared_error(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """sum_i (x_i - sigmoid(logits)_i)^2 per image."""
    return (x - torch.sigmoid(logits)).pow(2).flatten(1).sum(1)
