"""latentlab sample RUN: draw new images from a trained model.

Autoencoder runs take ``--prior``: ``fitted`` (a Gaussian fitted to the training
codes, the default), ``standard`` (N(0, I)) or ``uniform`` (U[0, 1), the lecture
notes' ``np.random.rand``): the notes' experiment that a plain AE's decoder turns
draws that ignore where its codes live into noise.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from latentlab.errors import LatentlabError
from latentlab.models.ae import AE
from latentlab.models.base import Sampler


def register(sub: argparse._SubParsersAction, help: str) -> None:
    p = sub.add_parser("sample", help=help, description="Draw new images from a trained model.")
    p.add_argument("run", metavar="RUN", help="run folder")
    p.add_argument("--n", type=int, default=64, help="number of images (default 64)")
    p.add_argument("--label", type=int, default=None, help="class to draw (conditional models)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latent draws (default 0)")
    p.add_argument("-o", "--output", default=None, help="FILE.png (grid) or FILE.npy (array (N, C, H, W) in [0,1]); default RUN/sampled.png, or RUN/sampled_PRIOR_prior.png with --prior")
    p.add_argument("--which", choices=("last", "best"), default="last", help="checkpoint to load")
    p.add_argument("--prior", choices=AE.PRIORS, default=None,
                   help="autoencoder runs: decode draws from the Gaussian fitted to the training codes (fitted, default), "
                        "from N(0, I) (standard) or from U[0, 1) (uniform)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentlab.viz.plots import save_grid, write_report
    from latentlab.training.run_folder import load, read_metrics
    if args.n < 1:
        raise LatentlabError(f"--n must be at least 1, got {args.n}")
    default = "sampled.png" if args.prior is None else f"sampled_{args.prior}_prior.png"
    out = Path(args.output) if args.output else Path(args.run) / default
    if out.suffix not in (".png", ".npy"):
        raise LatentlabError(f"output {out} must end in .png (a picture) or .npy (an array)")
    model = load(args.run, args.which)
    if not isinstance(model, Sampler):
        raise LatentlabError(f"a '{model.name}' model cannot sample new images")
    kwargs = {}
    if args.prior is not None:
        if not isinstance(model, AE):
            raise LatentlabError(f"--prior applies to autoencoder runs; a '{model.name}' model samples from its own prior: drop --prior")
        kwargs["prior"] = args.prior
    generator = torch.Generator(model.device).manual_seed(args.seed)
    images = model.sample(args.n, args.label, generator=generator, **kwargs)
    if out.suffix == ".npy":
        np.save(out, images.cpu().numpy().astype(np.float32))
    else:
        save_grid(images, out)
        if out.parent.resolve() == Path(args.run).resolve():  # the run's report shows every picture in its folder
            write_report(Path(args.run), read_metrics(args.run))
    print(out)
    return 0
