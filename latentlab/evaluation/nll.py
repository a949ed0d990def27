"""Test negative log-likelihood by importance sampling (only with --nll):

    latentlab eval RUN --nll --k 5000

-log p(x) ~ -log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x) per test image (Burda et al. 2015), in nats,
averaged over the test split, with its standard error over images (see latentlab.likelihood).
A conditional VAE is scored by log p(x|y). Runs trained with dynamic binarization are scored on
one fixed Bernoulli draw of the test images (--nll-seed), the standard "dynamically binarized
MNIST" test set; a Gaussian decoder gives a log-density of grey levels (nats, not comparable).
"""
from __future__ import annotations

import argparse

import torch

from latentlab.errors import LatentlabError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("test log-likelihood (importance sampling)")
    g.add_argument("--nll", action="store_true", help="estimate the test negative log-likelihood in nats")
    g.add_argument("--k", type=int, default=5000, help="importance samples per image (default 5000, as Burda et al.)")
    g.add_argument("--nll-images", type=int, default=None, metavar="N", help="score only the first N test images (default all)")
    g.add_argument("--nll-batch", type=int, default=100, metavar="B", help="images per batch (default 100)")
    g.add_argument("--nll-seed", type=int, default=0, help="seed of the test binarization and of the samples (default 0)")


def test_images(ctx, likelihood: str, seed: int) -> tuple[torch.Tensor, str]:
    """The test images as the likelihood sees them, and a note on what the number means."""
    from latentlab.likelihood import binarize
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
    from latentlab.likelihood import check_model, estimate_nll
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
