"""latentlab reconstruct RUN: test images above their reconstructions."""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from latentlab.errors import LatentlabError


def register(sub: argparse._SubParsersAction, help: str) -> None:
    p = sub.add_parser("reconstruct", help=help, description="Encode and decode test images: inputs above outputs.")
    p.add_argument("run", metavar="RUN", help="run folder")
    p.add_argument("--n", type=int, default=16, help="number of test images (default 16)")
    p.add_argument("-o", "--output", default=None, help="FILE.png (default RUN/reconstructed.png)")
    p.add_argument("--which", choices=("last", "best"), default="last", help="checkpoint to load")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentlab.models.base import ConditionalEncoder, Encoder
    from latentlab.training.run_folder import load, run_dataset
    from latentlab.viz.plots import save_grid
    model = load(args.run, args.which)
    if not isinstance(model, Encoder):
        raise LatentlabError(f"a '{model.name}' model has no encoder, so it cannot reconstruct")
    if args.n < 1:
        raise LatentlabError(f"--n must be at least 1, got {args.n}")
    test = run_dataset(args.run).test
    x = test.x[: args.n]
    y = None
    if isinstance(model, ConditionalEncoder):  # encodes each image together with its label
        if test.y is None:
            raise LatentlabError(f"a '{model.name}' model encodes an image together with its label, and the test split has no labels")
        y = test.y[: args.n]
    rec = model.reconstruct(x, y)
    out = Path(args.output) if args.output else Path(args.run) / "reconstructed.png"
    save_grid(torch.cat([x, rec]), out, nrow=len(x))
    err = (x - rec).pow(2).flatten(1).mean(1).mean().item()
    print(f"{out}\nmean squared error per pixel: {err:.5f}")
    return 0
