"""Importance-sampled log-likelihood of a latent-variable model (Burda et al. 2015, eq. 8).

For a model with prior p(z) = N(0, I), an encoder q(z|x) = N(mu, diag(exp(logvar)))
and a decoder p(x|z), each draw z_i ~ q(z|x) gives an importance weight

    w_i = p(x|z_i) p(z_i) / q(z_i|x),       log p(x) ~ log (1/k) sum_i w_i = logsumexp_i(log w_i) - log k.

The estimate is a lower bound in expectation (NLL_k >= -log p(x)) that tightens as k grows:
NLL_1 = -ELBO (in expectation) >= NLL_k >= NLL_{k+1} -> -log p(x) (Burda et al., theorem 1).

What a model must expose (the VAE family in ``latentlab.models.vae`` does):

    posterior(x, y)          -> (mu, logvar), each (B, D)
    log_px_given_z(x, z, y)  -> log p(x|z) summed over pixels, (S, B) for z of shape (S, B, D)

``y`` is None for unconditional models; a conditional VAE gets its labels and the
estimate is then the conditional likelihood log p(x|y). Bernoulli decoders give
log-probabilities in nats; a Gaussian decoder gives a log-density (also in nats, but
of continuous pixels: not comparable with Bernoulli figures).

    from latentlab.evaluation.likelihood import estimate_nll
    result = estimate_nll(model, test_x, k=5000)      # NLLResult(nll=..., stderr=..., ...)
"""
from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from latentlab.errors import LatentlabError

LOG_2PI = math.log(2 * math.pi)


def check_model(model) -> None:
    """Refuse a model that does not expose what the estimator needs."""
    missing = [m for m in ("posterior", "log_px_given_z") if not callable(getattr(model, m, None))]
    if missing:
        name = getattr(model, "name", type(model).__name__)
        raise LatentlabError(
            f"model '{name}' has no {' / '.join(missing)}: the importance-sampled likelihood needs an encoder "
            "q(z|x) and a decoder p(x|z) with a prior (a vae or cvae run); it cannot score this model")


def log_bernoulli(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x|z) of a Bernoulli decoder for S draws per image: logits (S, B, ...), x (B, ...) -> (S, B).

    sum_i x_i log p_i + (1 - x_i) log(1 - p_i) = sum_i x_i l_i - softplus(l_i) for logits l, p = sigmoid(l)
    (the negative of ``likelihoods.bernoulli_nll``), computed without copying x S times."""
    s, b = logits.shape[:2]
    logits = logits.reshape(s, b, -1)  # (S, B, D)
    return torch.einsum("sbd,bd->sb", logits, x.reshape(b, -1)) - F.softplus(logits).sum(-1)


def log_weight_terms(model, x: torch.Tensor, y: torch.Tensor | None, k: int,
                     q: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """k draws z ~ q(z|x) per image; returns (log p(x|z), log p(z) - log q(z|x)), each (k, B).

    ``q`` = (mu, logvar) when the posterior of this batch is already known (saves the encoder pass).
    The draws are reparameterized, so the terms are differentiable (IWAE training uses them)."""
    mu, logvar = q if q is not None else model.posterior(x, y)  # (B, D) each
    eps = torch.randn(k, *mu.shape, device=mu.device, dtype=mu.dtype)  # (k, B, D)
    z = mu + torch.exp(0.5 * logvar) * eps  # (k, B, D)
    log_q = -0.5 * (eps.pow(2) + logvar + LOG_2PI).sum(-1)  # log N(z; mu, sigma^2), (k, B)
    log_pz = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)  # log N(z; 0, I), (k, B)
    log_px = model.log_px_given_z(x, z, y)  # (k, B)
    return log_px, log_pz - log_q


def log_weights(model, x: torch.Tensor, y: torch.Tensor | None, k: int) -> torch.Tensor:
    """log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x) for k draws per image: (k, B)."""
    log_px, log_ratio = log_weight_terms(model, x, y, k)
    return log_px + log_ratio


@torch.no_grad()
def log_likelihood(model, x: torch.Tensor, y: torch.Tensor | None = None, k: int = 5000,
                   chunk: int | None = None) -> torch.Tensor:
    """Importance-sampled log p(x) (or log p(x|y)) per image, (B,), in nats.

    The k samples are drawn ``chunk`` at a time (default: about 20,000 decoded images per
    chunk) and combined with a running log-sum-exp, so memory does not grow with k."""
    check_model(model)
    if k < 1:
        raise LatentlabError(f"k (importance samples per image) must be at least 1, got {k}")
    chunk = chunk or max(1, min(k, 20_000 // max(1, len(x))))
    q = model.posterior(x, y)
    total = None  # running logsumexp over the samples drawn so far, (B,)
    for start in range(0, k, chunk):
        log_px, log_ratio = log_weight_terms(model, x, y, min(chunk, k - start), q)
        part = torch.logsumexp(log_px + log_ratio, dim=0)  # (B,)
        total = part if total is None else torch.logaddexp(total, part)
    return total - math.log(k)


@dataclass
class NLLResult:
    """Test negative log-likelihood: mean over images, its standard error, and the settings."""

    nll: float  # mean of -log p(x) over images, nats
    stderr: float  # standard error of that mean (std over images / sqrt(n))
    k: int
    n: int
    seconds: float
    per_image: np.ndarray = field(repr=False)  # (n,) -log p(x) per image

    def as_dict(self, prefix: str = "test_nll") -> dict:
        return {prefix: self.nll, f"{prefix}_stderr": self.stderr, f"{prefix}_k": self.k,
                f"{prefix}_images": self.n, f"{prefix}_seconds": round(self.seconds, 2)}


def estimate_nll(model, x: torch.Tensor, y: torch.Tensor | None = None, k: int = 5000, batch_size: int = 100,
                 chunk: int | None = None, seed: int = 0, progress: bool = False) -> NLLResult:
    """-log p(x) averaged over the images ``x`` (N, C, H, W), batched over images and samples.

    ``x`` is used as given: binarize it first for a Bernoulli decoder (see ``binarize``).
    ``seed`` fixes the importance samples, so the same model and data give the same figure."""
    check_model(model)
    if k < 1:
        raise LatentlabError(f"k (importance samples per image) must be at least 1, got {k}")
    if batch_size < 1:
        raise LatentlabError(f"batch size must be at least 1, got {batch_size}")
    if len(x) == 0:
        raise LatentlabError("no images to score: the split is empty")
    device = model.device
    was_training = model.training
    model.eval()
    torch.manual_seed(seed)
    started = time.perf_counter()
    out = []
    batches = range(0, len(x), batch_size)
    if progress:
        from tqdm import tqdm
        batches = tqdm(batches, desc=f"log p(x), k={k}", leave=False, dynamic_ncols=True)
    for i in batches:
        xb = x[i:i + batch_size].to(device)
        yb = None if y is None else y[i:i + batch_size].to(device)
        out.append(-log_likelihood(model, xb, yb, k, chunk).double().cpu())
    model.train(was_training)
    per_image = torch.cat(out).numpy()
    n = len(per_image)
    stderr = float(per_image.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    return NLLResult(float(per_image.mean()), stderr, k, n, time.perf_counter() - started, per_image)


def binarize(x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """One fixed Bernoulli draw of grey-level images (dynamic binarization of a test set, seeded)."""
    return torch.bernoulli(x, generator=torch.Generator().manual_seed(seed))


# --- `latentlab eval RUN --nll` ---------------------------------------------------------
# Test negative log-likelihood by importance sampling (only with --nll):
# 
#     latentlab eval RUN --nll --k 5000
# 
# -log p(x) ~ -log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x) per test image (Burda et al. 2015), in nats,
# averaged over the test split, with its standard error over images (see latentlab.evaluation.likelihood).
# A conditional VAE is scored by log p(x|y). Runs trained with dynamic binarization are scored on
# one fixed Bernoulli draw of the test images (--nll-seed), the standard "dynamically binarized
# MNIST" test set; a Gaussian decoder gives a log-density of grey levels (nats, not comparable).
def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("test log-likelihood (importance sampling)")
    g.add_argument("--nll", action="store_true", help="estimate the test negative log-likelihood in nats")
    g.add_argument("--k", type=int, default=5000, help="importance samples per image (default 5000, as Burda et al.)")
    g.add_argument("--nll-images", type=int, default=None, metavar="N", help="score only the first N test images (default all)")
    g.add_argument("--nll-batch", type=int, default=100, metavar="B", help="images per batch (default 100)")
    g.add_argument("--nll-seed", type=int, default=0, help="seed of the test binarization and of the samples (default 0)")


def test_images(ctx, likelihood: str, seed: int) -> tuple[torch.Tensor, str]:
    """The test images as the likelihood sees them, and a note on what the number means."""
    x, how = ctx.data.test.x, ctx.info.train.binarize
    if likelihood == "gaussian":
        return x, "log-density of grey levels under a gaussian decoder (nats; not comparable with bernoulli figures)"
    if how == "dynamic":
        return binarize(x, seed), f"bernoulli, test set binarized once with seed {seed}"
    if how == "static" or bool(((x == 0) | (x == 1)).all()):
        return x, "bernoulli, binary test images"
    raise LatentlabError("the test images are grey levels, and a bernoulli decoder gives them no probability: "
                         "train with --binarize dynamic (or static) to get a likelihood in nats")


def evaluate(args: argparse.Namespace, ctx) -> dict | None:
    if not args.nll:
        return None
    if args.k < 1:
        raise LatentlabError(f"--k must be at least 1 (importance samples per image), got {args.k}")
    if args.nll_images is not None and args.nll_images < 1:
        raise LatentlabError(f"--nll-images must be at least 1, got {args.nll_images}")
    model = ctx.model
    check_model(model)
    if not len(ctx.data.test):
        raise LatentlabError("the run's dataset has no test split to score")
    x, note = test_images(ctx, getattr(model.cfg, "likelihood", "bernoulli"), args.nll_seed)
    y = ctx.data.test.y if model.conditional else None
    if model.conditional and y is None:
        raise LatentlabError("a conditional model is scored by log p(x|y), but the test split has no labels")
    n = args.nll_images or len(x)
    result = estimate_nll(model, x[:n], None if y is None else y[:n], k=args.k, batch_size=args.nll_batch,
                          seed=args.nll_seed, progress=True)
    what = "-log p(x|y), conditional on the label" if model.conditional else "-log p(x)"
    return {**result.as_dict("test_nll"), "test_nll_means": f"{what}; {note}; nats per image"}
