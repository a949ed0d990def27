"""latentlab explore RUN: pictures of a trained model's latent space (see latentlab.analysis.explore).

    latentlab explore RUN --map                          test-set latent means coloured by label
    latentlab explore RUN --grid [--n 15] [--label 6]    decoded grid of prior quantiles (2-D latent)
    latentlab explore RUN --interpolate 3 42 [--steps 10] [--by class] [--method slerp]
    latentlab explore RUN --arithmetic 7 1 [--images 2 5 14]   z(image of a 1) + mean(7) - mean(1)
"""
from __future__ import annotations

import argparse
from pathlib import Path

from latentlab.errors import LatentlabError


def register(sub: argparse._SubParsersAction, help: str) -> None:
    p = sub.add_parser("explore", help=help, description="Pictures of a trained model's latent space, written as PNG files.")
    p.add_argument("run", metavar="RUN", help="run folder")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--map", action="store_true", help="2-D map of the test set's latent means, coloured by label")
    what.add_argument("--grid", action="store_true", help="decode a grid of prior quantiles of a 2-D latent")
    what.add_argument("--interpolate", nargs=2, type=int, metavar=("A", "B"),
                      help="interpolate between test images A and B (indices), or classes A and B with --by class")
    what.add_argument("--arithmetic", nargs=2, type=int, metavar=("TO", "FROM"),
                      help="decode z(x) + mean(TO) - mean(FROM) for test images x of class FROM")
    p.add_argument("--steps", type=int, default=10, help="interpolation points, ends included (default 10)")
    p.add_argument("--by", choices=("image", "class"), default="image", help="interpolate between images or class means")
    p.add_argument("--method", choices=("linear", "slerp", "both"), default="both",
                   help="linear or spherical interpolation, or one row of each (default both)")
    p.add_argument("--images", type=int, nargs="+", default=None, metavar="I", help="test images for --arithmetic (default: 8 of class FROM)")
    p.add_argument("--n", type=int, default=15, help="grid points per side (default 15)")
    p.add_argument("--label", type=int, default=None, help="class to draw the grid with (conditional models)")
    p.add_argument("--points", type=int, default=5000, help="test images on the map (default 5000)")
    p.add_argument("-o", "--output", default=None, help="PNG file (default RUN/explore-<what>.png)")
    p.add_argument("--which", choices=("last", "best"), default="last", help="checkpoint to load")
    p.add_argument("--data-dir", default=None, help="where the run's dataset lives, if it moved")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentlab.analysis import explore
    from latentlab.viz.plots import save_grid
    from latentlab.training.run_folder import load, read_run, run_dataset
    info = read_run(args.run)
    model = load(args.run, args.which)
    kind = "map" if args.map else "grid" if args.grid else "interpolate" if args.interpolate else "arithmetic"
    out = Path(args.output) if args.output else Path(args.run) / f"explore-{kind}.png"
    if out.suffix != ".png":
        raise LatentlabError(f"output {out} must end in .png")
    if args.label is not None and not args.grid:
        raise LatentlabError("--label only chooses the class of the --grid (of a conditional model)")
    if args.grid:
        explore.manifold_grid(model, out, args.n, args.label)
        print(out)
        return 0
    test = run_dataset(args.run, args.data_dir).test
    if not len(test):
        raise LatentlabError("the run's dataset has no test split to explore")
    if args.map:
        if args.points < 1:
            raise LatentlabError(f"--points must be at least 1, got {args.points}")
        path, note = explore.latent_map(model, test, out, info.classes, args.points)
        if note:
            print(f"note: {note}")
        print(path)
        return 0
    if args.interpolate:
        methods = explore.METHODS if args.method == "both" else (args.method,)
        images, per_row = explore.interpolate_images(model, test, *args.interpolate, steps=args.steps, methods=methods,
                                                     by=args.by, classes=info.classes)
        save_grid(images, out, nrow=per_row)
        print(f"rows: {', '.join(methods)}" + (" (inputs at both ends)" if args.by == "image" else ""))
    else:
        images = explore.arithmetic(model, test, *args.arithmetic, images=args.images, classes=info.classes)
        save_grid(images, out, nrow=len(images) // 3)
        print("rows: the images, their reconstructions, z + mean(TO) - mean(FROM)")
    print(out)
    return 0
