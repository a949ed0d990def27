"""Importance-sampled log-likelihood of a latent-variable model (Burda et al. 2015, eq. 8).

For a model with prior p(z) = N(0, I), an encoder q(z|x) = N(mu, diag(exp(logvar)))
and a decoder p(x|z), each draw z_i ~ q(z|x) gives an importance weight

    w_i = p(x|z_i) p(z_i) / q(z_i|x),       log p(x) ~ log (1/k) sum_i w_i = logsumexp_i(log w_i) - log k.

The estimate is a lower bound in expectation (NLL_k >= -log p(x)) that tightens as k grows:
NLL_1 = -ELBO (in expectation) >= NLL_k >= NLL_{k+1} -> -log p(x) (Burda et al., theorem 1).

What a model must be: a ``LikelihoodModel`` (``latentlab.models.base``; the VAE family is one):

    posterior(x, y)          -> (mu, logvar), each (B, D)
    log_px_given_z(x, z, y)  -> log p(x|z) summed over pixels, (S, B) for z of shape (S, B, D)

``y`` is None for unconditional models; a conditional VAE (a ConditionalEncoder) gets its labels and the
estimate is then the conditional likelihood log p(x|y). Bernoulli decoders give
log-probabilities in nats; a Gaussian decoder gives a log-density (also in nats, but
of continuous pixels: not comparable with Bernoulli figures).

    from latentlab.evaluation.likelihood import estimate_nll
    result = estimate_nll(model, test_x, k=5000)      # NLLResult(nll=..., stderr=..., ...)

The importance samples come from a ``torch.Generator`` (``seed`` or ``generator``), never from
the global RNG: the same model, data and seed give the same figure, whatever ran before.
The per-sample terms (``log_weight_terms``, ``log_bernoulli``) live in ``latentlab.nn.likelihoods``.
"""
from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from latentlab.errors import LatentlabError
from latentlab.models.base import ConditionalEncoder, ExactLikelihood, ImportanceSampled, LikelihoodModel
from latentlab.nn.likelihoods import log_weight_terms, sample_chunk


def check_model(model) -> None:
    """Refuse a model that is neither a LikelihoodModel (q(z|x) and p(x|z) to sample with) nor has an exact likelihood."""
    if not isinstance(model, (LikelihoodModel, ExactLikelihood, ImportanceSampled)):
        name = getattr(model, "name", type(model).__name__)
        raise LatentlabError(
            f"model '{name}' has no posterior q(z|x) and decoder p(x|z) with a prior: the importance-sampled "
            "likelihood needs a vae, cvae, vae2 or vade run, the exact one a pixelcnn, gaussian or kde run; it cannot score this model")


def log_weights(model: LikelihoodModel, x: torch.Tensor, y: torch.Tensor | None, k: int,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x) for k draws per image: (k, B)."""
    log_px, log_ratio = log_weight_terms(model, x, y, k, generator=generator)
    return log_px + log_ratio


@torch.no_grad()
def log_likelihood(model: LikelihoodModel, x: torch.Tensor, y: torch.Tensor | None = None, k: int = 5000,
                   chunk: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Importance-sampled log p(x) (or log p(x|y)) per image, (B,), in nats.

    The k samples are drawn ``chunk`` at a time (default: about 2,000 decoded images per
    chunk) from ``generator`` (else the global RNG) and combined with a running log-sum-exp,
    so memory does not grow with k."""
    check_model(model)
    if k < 1:
        raise LatentlabError(f"k (importance samples per image) must be at least 1, got {k}")
    if isinstance(model, ImportanceSampled):  # its own estimator (two stochastic layers, a mixture prior)
        return model.log_likelihood(x, k, generator, chunk)
    chunk = chunk or sample_chunk(k, len(x))
    q = model.posterior(x, y)
    total = None  # running logsumexp over the samples drawn so far, (B,)
    for start in range(0, k, chunk):
        log_px, log_ratio = log_weight_terms(model, x, y, min(chunk, k - start), q, generator)
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


def estimate_nll(model: LikelihoodModel, x: torch.Tensor, y: torch.Tensor | None = None, k: int = 5000,
                 batch_size: int = 100, chunk: int | None = None, seed: int = 0, progress: bool = False,
                 generator: torch.Generator | None = None) -> NLLResult:
    """-log p(x) averaged over the images ``x`` (N, C, H, W), batched over images and samples.

    ``x`` is used as given: binarize it first for a Bernoulli decoder (see ``binarize``).
    The importance samples come from ``generator``, else from a new one seeded with ``seed``
    (on the model's device), so the same model and data give the same figure."""
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
    if generator is None:
        generator = torch.Generator(device=device).manual_seed(seed)
    started = time.perf_counter()
    out = []
    batches = range(0, len(x), batch_size)
    if progress:
        from tqdm import tqdm
        batches = tqdm(batches, desc="log p(x), exact" if isinstance(model, ExactLikelihood) else f"log p(x), k={k}", leave=False, dynamic_ncols=True)
    for i in batches:
        xb = x[i:i + batch_size].to(device)
        yb = None if y is None else y[i:i + batch_size].to(device)
        if isinstance(model, ExactLikelihood):  # exact: no samples, k does not apply
            with torch.no_grad():
                out.append(-model.log_prob(xb).double().cpu())
        else:
            out.append(-log_likelihood(model, xb, yb, k, chunk, generator).double().cpu())
    model.train(was_training)
    per_image = torch.cat(out).numpy()
    n = len(per_image)
    stderr = float(per_image.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    k = 0 if isinstance(model, ExactLikelihood) else k  # 0: the exact likelihood, not an estimate
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
        return x, "log-density of grey levels (nats; not comparable with bernoulli figures)"
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
    if isinstance(model, (ExactLikelihood, ImportanceSampled)):
        likelihood = "gaussian" if model.continuous else "bernoulli"
    else:
        likelihood = model.cfg.likelihood
    x, note = test_images(ctx, likelihood, args.nll_seed)
    conditional = isinstance(model, ConditionalEncoder)  # q(z|x, y) and p(x|z, y): scored by log p(x|y)
    y = ctx.data.test.y if conditional else None
    if conditional and y is None:
        raise LatentlabError("a conditional model is scored by log p(x|y), but the test split has no labels")
    n = args.nll_images or len(x)
    result = estimate_nll(model, x[:n], None if y is None else y[:n], k=args.k, batch_size=args.nll_batch,
                          seed=args.nll_seed, progress=True)
    what = "-log p(x|y), conditional on the label" if conditional else "-log p(x)"
    if isinstance(model, ExactLikelihood):
        what += " (exact)"
    return {**result.as_dict("test_nll"), "test_nll_means": f"{what}; {note}; nats per image"}
