"""latentlab sample RUN: draw new images from a trained model.

Autoencoder runs take ``--prior``: ``fitted`` (a Gaussian fitted to the training
codes, the default), ``standard`` (N(0, I)) or ``uniform`` (U[0, 1), the lecture
notes' ``np.random.rand``): the notes' experiment that a plain AE's decoder turns
draws that ignore where its codes live into noise.

A run on tabular data (an (N, D) array) samples rows: they are written as an (N, D) .npy in the
data's own units (the run's standardisation undone), RUN/sampled.npy by default; there is no picture.

Requests are checked before anything is drawn: a ``--n`` whose images (and the model's activations)
would not fit in the memory available is refused with the amount it needs, and so is an output
file whose folder does not exist or cannot be written.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch import nn

from latentlab.config import check_seed
from latentlab.errors import LatentlabError
from latentlab.models.ae import AE
from latentlab.models.base import Sampler


def register(sub: argparse._SubParsersAction, help: str) -> None:
    p = sub.add_parser("sample", help=help, description="Draw new images from a trained model.")
    p.add_argument("run", metavar="RUN", help="run folder")
    p.add_argument("--n", type=int, default=64, help="number of images (default 64)")
    p.add_argument("--label", type=int, default=None, help="class to draw (conditional models)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latent draws (default 0)")
    p.add_argument("-o", "--output", default=None,
                   help="FILE.png (grid) or FILE.npy (array (N, C, H, W) in [0,1]); default RUN/sampled.png, or "
                        "RUN/sampled_PRIOR_prior.png with --prior. Tabular runs: FILE.npy of rows (N, D) in the data's "
                        "units (default RUN/sampled.npy)")
    p.add_argument("--which", choices=("last", "best"), default="last", help="checkpoint to load")
    p.add_argument("--prior", choices=AE.PRIORS, default=None,
                   help="autoencoder runs: decode draws from the Gaussian fitted to the training codes (fitted, default), "
                        "from N(0, I) (standard) or from U[0, 1) (uniform)")
    p.add_argument("--steps", type=int, default=None,
                   help="diffusion runs: denoising steps of the sampler (default: the run's --sample-steps for DDIM, "
                        "T for the full DDPM chain); fewer is faster")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentlab.training.run_folder import check_output_file, load, read_metrics, read_run
    from latentlab.viz.plots import save_grid, write_report
    if args.n < 1:
        raise LatentlabError(f"--n must be at least 1, got {args.n}")
    check_seed(args.seed, "--seed")
    info = read_run(args.run)
    tabular = info.standardization is not None
    suffix = ".npy" if tabular else ".png"
    default = f"sampled{suffix}" if args.prior is None else f"sampled_{args.prior}_prior{suffix}"
    out = Path(args.output) if args.output else Path(args.run) / default
    if out.suffix not in (".png", ".npy"):
        raise LatentlabError(f"output {out} must end in .png (a picture) or .npy (an array)")
    if tabular and out.suffix == ".png":
        raise LatentlabError(f"{args.run} was trained on tabular data (rows of {info.shape[-1]} features), which makes no "
                             f"picture: write the rows with -o FILE.npy")
    check_output_file(out)
    model = load(args.run, args.which)
    if not isinstance(model, Sampler):
        raise LatentlabError(f"a '{model.name}' model cannot sample new images")
    kwargs = {}
    if args.prior is not None:
        if not isinstance(model, AE):
            raise LatentlabError(f"--prior applies to autoencoder runs; a '{model.name}' model samples from its own prior: drop --prior")
        kwargs["prior"] = args.prior
    if args.steps is not None:
        from latentlab.models.ddpm import DDPM
        if not isinstance(model, DDPM):
            raise LatentlabError(f"--steps applies to diffusion (ddpm) runs; a '{model.name}' model draws in one pass: drop --steps")
        if args.steps < 1:
            raise LatentlabError(f"--steps must be at least 1, got {args.steps}")
        kwargs["steps"] = args.steps
    check_memory(model, args.n, picture=out.suffix == ".png")
    generator = torch.Generator(model.device).manual_seed(args.seed)
    images = model.sample(args.n, args.label, generator=generator, **kwargs)
    if tabular:  # rows in the data's own units
        np.save(out, info.standardization.invert(images))
    elif out.suffix == ".npy":
        np.save(out, images.cpu().numpy().astype(np.float32))
    else:
        save_grid(images, out)
        if out.parent.resolve() == Path(args.run).resolve():  # the run's report shows every picture in its folder
            write_report(Path(args.run), read_metrics(args.run))
    print(out)
    return 0


def bytes_per_image(model: nn.Module, picture: bool) -> int:
    """Rough peak memory of one drawn image: the image itself three times over (the decoder's output,
    the image, the copy written), four times the model's largest activation (a Linear layer's outputs,
    a convolution's at full image size), and for a picture the grid's float and byte tiles."""
    c, h, w = model.shape
    largest = c * h * w
    for m in model.modules():
        if isinstance(m, nn.Linear):
            largest = max(largest, m.out_features)
        elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            largest = max(largest, m.out_channels * h * w)
    grid = (4 + 1) * c * (h + 1) * (w + 1) if picture else 0
    return 4 * (3 * c * h * w + 4 * largest) + grid


def check_memory(model: nn.Module, n: int, picture: bool, available: int | None = None) -> None:
    """Refuse a --n whose images would not fit in memory, saying how much it needs and how many would fit."""
    from latentlab.data.memory import available_bytes, check_fits
    per = bytes_per_image(model, picture)
    available = available_bytes() if available is None else available
    if available is None:
        return
    fits = max(1, available // per)
    check_fits(n * per, f"--n {n} ({n} images of {'x'.join(map(str, model.shape))})",
               f"ask for fewer (at most about --n {fits} here), and draw more with several runs of different --seed",
               available=available)
