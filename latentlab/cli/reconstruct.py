"""latentlab reconstruct RUN: test images above their reconstructions."""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from latentlab.errors import LatentlabError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reconstruct", help="reconstruct test images", description="Encode and decode test images: inputs above outputs.")
    p.add_argument("run", metavar="RUN", help="run folder")
    p.add_argument("--n", type=int, default=16, help="number of test images (default 16)")
    p.add_argument("-o", "--output", default=None, help="FILE.png (default RUN/reconstructed.png)")
    p.add_argument("--which", choices=("last", "best"), default="last", help="checkpoint to load")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentlab.training.run_folder import run_dataset
    from latentlab.viz.plots import save_grid
    from latentlab.training.run_folder import load
    model = load(args.run, args.which)
    if not model.can_encode:
        raise LatentlabError(f"a '{model.name}' model has no encoder, so it cannot reconstruct")
    if args.n < 1:
        raise LatentlabError(f"--n must be at least 1, got {args.n}")
    x = run_dataset(args.run).test.x[: args.n]
    with torch.no_grad():
        rec = model.reconstruct(x)
    out = Path(args.output) if args.output else Path(args.run) / "reconstructed.png"
    save_grid(torch.cat([x, rec]), out, nrow=len(x))
    err = (x - rec).pow(2).flatten(1).mean(1).mean().item()
    print(f"{out}\nmean squared error per pixel: {err:.5f}")
    return 0
