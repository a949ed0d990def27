"""Test-set loss terms (always computed): the model's own evaluate() over the test split."""
from __future__ import annotations

import argparse

import torch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=int, default=500, help="images per evaluation batch (default 500)")


def evaluate(args: argparse.Namespace, ctx) -> dict | None:
    from latentlab.training.loop import evaluate as evaluate_split
    if not len(ctx.data.test):
        return None
    t = ctx.info.train
    with torch.no_grad():
        terms = evaluate_split(ctx.model, ctx.data.test, args.batch_size, t.binarize == "dynamic", t.seed)
    return {f"test_{k}": v for k, v in terms.items()}
