"""Log-likelihoods, in nats.

Reconstruction NLLs (``bernoulli_nll``, ``gaussian_nll``, ``reconstruction_nll``, ``squared_error``)
take decoder logits (B, C, H, W) and targets x in [0, 1] and return (B,) values summed over
pixels; the caller averages over the batch.

The importance-sampling pieces (Burda et al. 2015, eq. 8) are written against a
``LikelihoodModel`` (``posterior(x, y)`` and ``log_px_given_z(x, z, y)``, see
``latentlab.models.base``): ``log_weight_terms`` draws z ~ q(z|x) and returns log p(x|z)
and log p(z) - log q(z|x); the VAE's IWAE objective and the test-likelihood estimator
(``latentlab.evaluation.likelihood``) both use it.
"""
from __future__ import annotations

import math
import torch
import torch.nn.functional as F

LIKELIHOODS = ("bernoulli", "gaussian")
LOG_2PI = math.log(2 * math.pi)
DECODES_PER_CHUNK = 2_000  # decoded images per chunk of importance samples: the decoder's activations of a
# chunk stay in the CPU's cache (Burda network, one thread: 112,000 decoded images/s at 2,000 per chunk,
# 84,000 at 20,000)


def sample_chunk(k: int, images: int) -> int:
    """Importance samples per image to draw at a time for a batch of ``images``: about DECODES_PER_CHUNK
    decoded images per chunk, at least 1, at most k."""
    return max(1, min(k, DECODES_PER_CHUNK // max(1, images)))


def mean_pixel(x: torch.Tensor) -> torch.Tensor:
    """The mean training pixel, (N, C, H, W) -> (C, H, W), clamped to [1e-3, 1 - 1e-3]: its logit is the Bernoulli
    decoder's output bias that makes the untrained decoder draw the average image (``output_bias`` data)."""
    return x.float().mean(0).clamp(1e-3, 1 - 1e-3)


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


# --- importance sampling ------------------------------------------------------------------
def log_bernoulli(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x|z) of a Bernoulli decoder for S draws per image: logits (S, B, ...), x (B, ...) -> (S, B).

    sum_i x_i log p_i + (1 - x_i) log(1 - p_i) = sum_i x_i l_i - softplus(l_i) for logits l, p = sigmoid(l)
    (the negative of ``bernoulli_nll``), computed without copying x S times (x is broadcast)."""
    s, b = logits.shape[:2]
    logits = logits.reshape(s, b, -1)  # (S, B, D)
    target = x.reshape(1, b, -1).expand_as(logits)  # (S, B, D), a view: no copy
    return -F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(-1)


def log_normal(x: torch.Tensor, mu: torch.Tensor | None = None, logvar: torch.Tensor | None = None) -> torch.Tensor:
    """log N(x; mu, diag(exp(logvar))) summed over the last dimension (mu = 0, logvar = 0 when not given):
    -1/2 sum_j [(x_j - mu_j)^2 / exp(logvar_j) + logvar_j + log 2 pi]."""
    d = x if mu is None else x - mu
    if logvar is None:
        return -0.5 * (d.pow(2) + LOG_2PI).sum(-1)
    return -0.5 * (d.pow(2) * torch.exp(-logvar) + logvar + LOG_2PI).sum(-1)


def log_weight_terms(model, x: torch.Tensor, y: torch.Tensor | None, k: int,
                     q: tuple[torch.Tensor, torch.Tensor] | None = None,
                     generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """k draws z ~ q(z|x) per image; returns (log p(x|z), log p(z) - log q(z|x)), each (k, B).

    ``q`` = (mu, logvar) when the posterior of this batch is already known (saves the encoder pass).
    The draws (from ``generator``, else the global RNG) are reparameterized, z = mu + sigma * eps,
    so the terms are differentiable (IWAE training uses them); log q(z|x) = log N(eps; 0, I) - sum_j log sigma_j."""
    mu, logvar = q if q is not None else model.posterior(x, y)  # (B, D) each
    eps = torch.randn(k, *mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)  # (k, B, D)
    z = mu + torch.exp(0.5 * logvar) * eps  # (k, B, D)
    log_q = log_normal(eps) - 0.5 * logvar.sum(-1)  # log N(z; mu, sigma^2), (k, B)
    log_pz = log_normal(z)  # log N(z; 0, I), (k, B)
    log_px = model.log_px_given_z(x, z, y)  # (k, B)
    return log_px, log_pz - log_q


def log_gaussian_kernel_mean(x: torch.Tensor, centres: torch.Tensor, widths: torch.Tensor,
                             chunk: int = 1024) -> torch.Tensor:
    """log (1/N) sum_n N(x; c_n, h^2 I) for every width h: the Gaussian kernel density (Parzen window)
    at x, centred on the N ``centres``. x (B, D), centres (N, D), widths (K,) -> (B, K), in x's dtype.

    With d_n = ||x - c_n||^2:  logsumexp_n(-d_n / (2 h^2)) - log N - D/2 log(2 pi h^2); the centres are
    taken ``chunk`` at a time and the widths one by one, so memory stays at (B, chunk)."""
    h2 = widths.to(x).reshape(-1).pow(2)  # (K,)
    x2 = x.pow(2).sum(1, keepdim=True)  # (B, 1)
    acc = torch.full((len(x), len(h2)), -math.inf, dtype=x.dtype, device=x.device)  # (B, K)
    for c in centres.split(chunk):
        c = c.to(x)  # (n, D)
        d2 = (x2 - 2 * x @ c.T + c.pow(2).sum(1)).clamp_min(0)  # (B, n) squared distances
        acc = torch.logaddexp(acc, torch.stack([torch.logsumexp(-d2 / (2 * h), 1) for h in h2], 1))  # (B, K)
    return acc - math.log(len(centres)) - 0.5 * x.shape[1] * torch.log(2 * math.pi * h2)  # (B, K)
