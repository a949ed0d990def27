"""latentlab sample RUN: draw new images from a trained model."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from latentlab.errors import LatentlabError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="draw new images from a trained model", description="Draw new images from a trained model.")
    p.add_argument("run", metavar="RUN", help="run folder")
    p.add_argument("--n", type=int, default=64, help="number of images (default 64)")
    p.add_argument("--label", type=int, default=None, help="class to draw (conditional models)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latent draws (default 0)")
    p.add_argument("-o", "--output", default=None, help="FILE.png (grid) or FILE.npy (array (N, C, H, W) in [0,1]); default RUN/sampled.png")
    p.add_argument("--which", choices=("last", "best"), default="last", help="checkpoint to load")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentlab.plots import save_grid
    from latentlab.run import load
    if args.n < 1:
        raise LatentlabError(f"--n must be at least 1, got {args.n}")
    out = Path(args.output) if args.output else Path(args.run) / "sampled.png"
    if out.suffix not in (".png", ".npy"):
        raise LatentlabError(f"output {out} must end in .png (a picture) or .npy (an array)")
    model = load(args.run, args.which)
    if not model.can_sample:
        raise LatentlabError(f"a '{model.name}' model cannot sample new images")
    torch.manual_seed(args.seed)
    with torch.no_grad():
        images = model.sample(args.n, args.label)
    if out.suffix == ".npy":
        np.save(out, images.cpu().numpy().astype(np.float32))
    else:
        save_grid(images, out)
    print(out)
    return 0
