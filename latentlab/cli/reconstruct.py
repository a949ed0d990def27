"""latentlab reconstruct RUN: test images above their reconstructions.

A run on tabular data (an (N, D) array) reconstructs test rows: RUN/reconstructed.npz holds ``x`` and
``reconstruction``, (n, D) each in the data's own units (the run's standardisation undone); the mean
squared error printed is per feature in standardised units, the scale the model was trained on.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from latentlab.errors import LatentlabError


def register(sub: argparse._SubParsersAction, help: str) -> None:
    p = sub.add_parser("reconstruct", help=help, description="Encode and decode test images: inputs above outputs.")
    p.add_argument("run", metavar="RUN", help="run folder")
    p.add_argument("--n", type=int, default=16, help="number of test images (default 16)")
    p.add_argument("-o", "--output", default=None,
                   help="FILE.png (default RUN/reconstructed.png); tabular runs: FILE.npz (default RUN/reconstructed.npz)")
    p.add_argument("--which", choices=("last", "best"), default="last", help="checkpoint to load")
    p.add_argument("--data-dir", default=None, help="folder holding the run's dataset, if it moved since training")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentlab.models.base import ConditionalEncoder, Encoder
    from latentlab.training.run_folder import check_output_file, load, read_run, run_dataset
    from latentlab.viz.plots import save_grid
    if args.n < 1:
        raise LatentlabError(f"--n must be at least 1, got {args.n}")
    info = read_run(args.run)
    tabular = info.standardization is not None
    out = Path(args.output) if args.output else Path(args.run) / ("reconstructed.npz" if tabular else "reconstructed.png")
    wanted = ".npz" if tabular else ".png"
    if out.suffix != wanted:
        kind = f"tabular data (rows of {info.shape[-1]} features): an .npz of the rows and their reconstructions" if tabular \
            else "images: a .png of the inputs above their reconstructions"
        raise LatentlabError(f"output {out} must end in {wanted}; this run holds {kind}")
    check_output_file(out)
    model = load(args.run, args.which)
    if not isinstance(model, Encoder):
        raise LatentlabError(f"a '{model.name}' model has no encoder, so it cannot reconstruct")
    test = run_dataset(args.run, args.data_dir).test
    if not len(test):
        raise LatentlabError(f"the run's test split is empty (its dataset is too small to hold test images out): "
                             f"nothing to reconstruct; train on more data")
    x = test.x[: args.n]
    y = None
    if isinstance(model, ConditionalEncoder):  # encodes each image together with its label
        if test.y is None:
            raise LatentlabError(f"a '{model.name}' model encodes an image together with its label, and the test split has no labels")
        y = test.y[: args.n]
    rec = model.reconstruct(x, y)
    err = (x - rec).pow(2).flatten(1).mean(1).mean().item()
    if tabular:
        np.savez(out, x=info.standardization.invert(x), reconstruction=info.standardization.invert(rec))
        print(f"{out}\nmean squared error per feature (standardised units): {err:.5f}")
        return 0
    save_grid(torch.cat([x, rec]), out, nrow=len(x))
    print(f"{out}\nmean squared error per pixel: {err:.5f}")
    return 0
