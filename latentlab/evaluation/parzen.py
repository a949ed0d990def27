"""Gaussian Parzen-window log-likelihood of the test set (``latentlab eval RUN --parzen``).

The estimator of Breuleux et al. (2011) that Goodfellow et al. (2014, Table 1) scored the GAN with:
place an isotropic Gaussian of width sigma on each of N generated samples s_n and read the
test images' log-density under their mixture,

    p_sigma(x) = 1/N sum_n N(x; s_n, sigma^2 I)
    log p_sigma(x) = logsumexp_n(-||x - s_n||^2 / (2 sigma^2)) - log N - D/2 log(2 pi sigma^2)

(D = C*H*W pixels, real-valued grey levels in [0, 1]; nats per image, a density: often positive).
sigma is the value of a grid with the highest mean log p_sigma on the validation split
(``choose_sigma``); the figure is the mean over the test images with its standard error
(std over images / sqrt(n)). Paper's MNIST figures (N = 10,000 samples): adversarial nets
225 +- 2, deep GSN 214 +- 1.1, DBN 138 +- 2, stacked CAE 121 +- 1.6.

The same estimator fitted to N *training images* instead of samples (``test_parzen_train_images``)
is the figure to read the model's against: Theis et al. (2016, "A note on the evaluation of
generative models", section 3.2) show that a Parzen window in pixel space is a poor density
estimate even with 10^6 points, ranks models unlike their true likelihood, and can score the
training images themselves below a good model's samples. Use it to reproduce the paper's table,
not to choose models.

Cost and memory: the squared distances ||x - s||^2 = ||x||^2 - 2 x.s + ||s||^2 are computed in
float64 (in float32, ||x||^2 and 2 x.s cancel, and the error is multiplied by 1/(2 sigma^2))
in blocks of ``batch_size`` images x ``chunk`` samples, with a running log-sum-exp over sample
blocks: memory is batch_size x chunk whatever N and the test set are, and the distances of a
block serve every sigma of the grid at once.

    from latentlab.evaluation.parzen import parzen_log_likelihood, choose_sigma
    sigma, table = choose_sigma(samples, x_val)                  # table: sigma -> mean log p(x_val)
    ll = parzen_log_likelihood(samples, x_test, sigma)           # (B,) nats per image
"""
from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from latentlab.errors import LatentlabError
from latentlab.models.base import Sampler
from latentlab.nn.likelihoods import log_gaussian_kernel_mean

SIGMAS = tuple(float(s) for s in np.geomspace(0.05, 1.0, 14).round(4))  # the default grid, 0.05 .. 1 log-spaced
BATCH = 500  # test images per block of distances
CHUNK = 2_000  # samples per block of distances (a block is BATCH x CHUNK float64: 8 MB)


def flat(x: torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
    """(B, C, H, W) or (B, D) -> (B, D) float64."""
    return x.reshape(len(x), -1).to(device if device is not None else x.device, torch.float64)


@torch.no_grad()
def parzen_log_likelihoods(samples: torch.Tensor, x: torch.Tensor, sigmas, batch_size: int = BATCH,
                           chunk: int = CHUNK) -> torch.Tensor:
    """log p_sigma(x) for every sigma of the grid: samples (N, ...), x (B, ...) -> (B, K) float64.

    Computed on the device of ``samples``, in blocks of ``batch_size`` images x ``chunk`` samples."""
    if len(samples) == 0:
        raise LatentlabError("the Parzen window needs at least one sample to place a Gaussian on")
    if batch_size < 1 or chunk < 1:
        raise LatentlabError(f"batch_size and chunk must be at least 1, got {batch_size} and {chunk}")
    sig = torch.as_tensor(sigmas, dtype=torch.float64).reshape(-1)  # (K,)
    if not len(sig) or not bool((sig > 0).all()) or not bool(torch.isfinite(sig).all()):
        raise LatentlabError(f"Parzen window widths must be positive numbers, got {sig.tolist()}")
    device = samples.device
    s = flat(samples, device)  # (N, D)
    if s.shape[1] != x[0].numel():
        raise LatentlabError(f"samples of {s.shape[1]} values and images of {x[0].numel()} values: "
                             "score the model's samples against images of the same shape")
    sig = sig.to(device)
    return torch.cat([log_gaussian_kernel_mean(flat(xb, device), s, sig, chunk) for xb in x.split(batch_size)])  # (B, K)


def parzen_log_likelihood(samples: torch.Tensor, x: torch.Tensor, sigma: float, batch_size: int = BATCH,
                          chunk: int = CHUNK) -> torch.Tensor:
    """log p_sigma(x) per image, (B,) float64, for the window 1/N sum_n N(.; samples_n, sigma^2 I)."""
    return parzen_log_likelihoods(samples, x, [sigma], batch_size, chunk)[:, 0]


def choose_sigma(samples: torch.Tensor, x_val: torch.Tensor, sigmas=SIGMAS, batch_size: int = BATCH,
                 chunk: int = CHUNK) -> tuple[float, dict[float, float]]:
    """The width of the grid with the highest mean log p_sigma(x_val), and the table sigma -> that mean."""
    if len(x_val) == 0:
        raise LatentlabError("no validation images to choose the Parzen window's width on")
    means = parzen_log_likelihoods(samples, x_val, sigmas, batch_size, chunk).mean(0)  # (K,)
    table = {float(s): float(m) for s, m in zip(torch.as_tensor(sigmas, dtype=torch.float64).reshape(-1), means)}
    return max(table, key=table.get), table


@dataclass
class ParzenResult:
    """Mean test log p_sigma(x) over images (nats), its standard error, the chosen width and the grid's table."""

    mean: float
    stderr: float
    sigma: float
    table: dict  # sigma -> mean validation log-likelihood
    centres: int  # N, the Gaussians of the window
    images: int  # test images scored
    seconds: float

    @property
    def at_edge(self) -> bool:
        """The chosen width is the smallest or largest of a grid of several: the optimum may lie outside it."""
        return len(self.table) > 1 and self.sigma in (min(self.table), max(self.table))


def parzen_score(centres: torch.Tensor, x_test: torch.Tensor, x_val: torch.Tensor | None, sigmas=SIGMAS,
                 batch_size: int = BATCH, chunk: int = CHUNK) -> ParzenResult:
    """Choose sigma on ``x_val`` (not needed with one width), then score ``x_test``: Goodfellow et al.'s protocol."""
    started = time.perf_counter()
    sigmas = [float(s) for s in sigmas]
    if len(sigmas) == 1:
        sigma, table = sigmas[0], {sigmas[0]: math.nan}
    else:
        if x_val is None or len(x_val) == 0:
            raise LatentlabError("the run has no validation images to choose the Parzen window's width on: "
                                 "give one width, e.g. --parzen-sigmas 0.2")
        sigma, table = choose_sigma(centres, x_val, sigmas, batch_size, chunk)
    if len(x_test) == 0:
        raise LatentlabError("no test images to score: the split is empty")
    ll = parzen_log_likelihood(centres, x_test, sigma, batch_size, chunk).cpu()  # (B,)
    n = len(ll)
    stderr = float(ll.std() / math.sqrt(n)) if n > 1 else math.nan
    return ParzenResult(float(ll.mean()), stderr, sigma, table, len(centres), n, time.perf_counter() - started)


# --- `latentlab eval RUN --parzen` ---------------------------------------------------------
def parse_sigmas(text: str) -> list[float]:
    """"0.1,0.2" -> [0.1, 0.2]; LatentlabError unless every value is a positive number."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or not all(v > 0 and math.isfinite(v) for v in values):
        raise LatentlabError(f"--parzen-sigmas takes comma-separated positive widths, e.g. 0.1,0.2,0.3; got {text!r}")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("Parzen-window log-likelihood (Goodfellow et al. 2014, Table 1; models that can sample)")
    g.add_argument("--parzen", action="store_true",
                   help="fit a Gaussian Parzen window to samples and report the test log-likelihood in nats "
                        "(and the same for training images, the figure to read it against)")
    g.add_argument("--parzen-samples", type=int, default=10_000, metavar="N",
                   help="samples (and training images) the window is fitted to (default 10000, as the paper)")
    g.add_argument("--parzen-sigmas", default=",".join(f"{s:g}" for s in SIGMAS), metavar="S1,S2,...",
                   help="candidate widths, in grey levels: the best on the validation split is used "
                        "(default 14 log-spaced from 0.05 to 1; one value skips the choice)")
    g.add_argument("--parzen-seed", type=int, default=0,
                   help="seed of the samples, their labels and the choice of training images (default 0)")
    g.add_argument("--parzen-images", type=int, default=None, metavar="N",
                   help="score only the first N test images and choose sigma on the first N validation images "
                        "(default all)")


def evaluate(args: argparse.Namespace, ctx) -> dict | None:
    if not args.parzen:
        return None
    from latentlab.evaluation.samples import draw, sample_labels
    if args.parzen_samples < 1:
        raise LatentlabError(f"--parzen-samples must be at least 1, got {args.parzen_samples}")
    if args.parzen_images is not None and args.parzen_images < 1:
        raise LatentlabError(f"--parzen-images must be at least 1, got {args.parzen_images}")
    sigmas = parse_sigmas(args.parzen_sigmas)
    model = ctx.model
    if not isinstance(model, Sampler):
        raise LatentlabError(f"a '{model.name}' model cannot sample new images, so there is nothing to fit a "
                             "Parzen window to; evaluate a run of a model that samples (a GAN, VAE, AE, ...)")
    data = ctx.data
    if data.tabular:
        raise LatentlabError("the Parzen window scores images in [0, 1]; this run was trained on a table of features")
    n_images = args.parzen_images
    x_test, x_val = data.test.x[:n_images], data.val.x[:n_images]
    n = args.parzen_samples
    if n > len(data.train):
        raise LatentlabError(f"--parzen-samples {n} is more than the {len(data.train)} training images the "
                             f"comparison window is fitted to: use at most {len(data.train)}")
    labels = sample_labels(model, data.test, n, None, args.parzen_seed)  # conditional: the test split's proportions
    samples = draw(model, n, labels, args.parzen_seed)  # (n, C, H, W) on the CPU, from a generator seeded --parzen-seed
    device = model.device
    fake = parzen_score(samples.to(device), x_test, x_val, sigmas)
    pick = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(args.parzen_seed))[:n]
    real = parzen_score(data.train.x[pick].to(device), x_test, x_val, sigmas)
    grey = bool(((x_test > 0) & (x_test < 1)).any())
    means = ("mean log p(x) of the test images under a Gaussian Parzen window on the samples "
             f"(nats per image, a density of {'grey levels' if grey else 'binary pixels'}); "
             "test_parzen_train_images: the same window on training images "
             "(Theis et al. 2016: not a likelihood to rank models by)")
    edge = [what for what, r in (("samples", fake), ("training images", real)) if r.at_edge]
    if edge:
        means += f"; the width for the {' and '.join(edge)} is at the edge of the grid: widen --parzen-sigmas"
    return {
        "test_parzen": fake.mean, "test_parzen_stderr": fake.stderr, "test_parzen_sigma": fake.sigma,
        "test_parzen_samples": fake.centres, "test_parzen_images": fake.images, "test_parzen_val_images": len(x_val),
        "test_parzen_seed": args.parzen_seed,
        "test_parzen_train_images": real.mean, "test_parzen_train_images_stderr": real.stderr,
        "test_parzen_train_images_sigma": real.sigma,
        "test_parzen_seconds": round(fake.seconds + real.seconds, 2),
        "test_parzen_means": means,
    }
