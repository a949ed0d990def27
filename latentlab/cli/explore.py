"""latentlab explore RUN: pictures of a trained model's latent space (see latentlab.analysis.explore).

    latentlab explore RUN --map                          test-set latent means coloured by label
    latentlab explore RUN --grid [--n 15] [--label 6]    decoded grid of prior quantiles (2-D latent)
    latentlab explore RUN --interpolate 3 42 [--steps 10] [--by class] [--method slerp]
    latentlab explore RUN --arithmetic 7 1 [--images 2 5 14]   z(image of a 1) + mean(7) - mean(1)
    latentlab explore RUN --edit 1 7 [--strength 0,0.5,1,1.5]  z + s (mean(7) - mean(1)), a column per s
    latentlab explore RUN --serve [--port 8000]          the same in a browser page (latentlab.explorer)

A GAN (no encoder, so no codes of test images) gets the same pictures from its noise z:

    latentlab explore GAN_RUN --interpolate 3 42         between the draws of seeds 3 and 42
    latentlab explore GAN_RUN --interpolate 0 1 --codes z.npy   between rows 0 and 1 of an (N, D) array
    latentlab explore GAN_RUN --arithmetic 7 1 [--per-class 16] [--pool 2000] [--seed 0]
    latentlab explore GAN_RUN --edit 1 7 [--strength 0,0.5,1,1.5]

its concepts being mean generator inputs of --per-class samples per class: the label they were drawn
with (cgan, acgan), or the class the evaluation classifier gives their images (gan, dcgan, wgan-gp,
infogan) among --pool draws.
"""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from latentlab.errors import LatentlabError

STRENGTHS = "0,0.5,1,1.5"


def strengths(text: str) -> list[float]:
    """--strength 0,0.5,1,1.5 -> [0.0, 0.5, 1.0, 1.5]."""
    import math
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"takes finite numbers separated by commas, e.g. {STRENGTHS}; got {text!r}")
    return values


def register(sub: argparse._SubParsersAction, help: str) -> None:
    p = sub.add_parser("explore", help=help, description="Pictures of a trained model's latent space, written as PNG files, "
                       "or explored in a local web page (--serve). A GAN's latent is its noise z: its interpolation runs "
                       "between seeded draws, its arithmetic and attribute vectors average several samples per class.")
    p.add_argument("run", metavar="RUN", help="run folder")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--map", action="store_true", help="2-D map of the test set's latent means, coloured by label")
    what.add_argument("--grid", action="store_true", help="decode a grid of prior quantiles of a 2-D latent")
    what.add_argument("--interpolate", nargs=2, type=int, metavar=("A", "B"),
                      help="interpolate between test images A and B (indices), classes A and B with --by class, the "
                           "prior draws of seeds A and B with --by seed (a GAN's default), or rows A and B of --codes FILE")
    what.add_argument("--arithmetic", nargs=2, type=int, metavar=("TO", "FROM"),
                      help="decode z + mean(TO) - mean(FROM) for codes z of class FROM (test images; a GAN's samples)")
    what.add_argument("--edit", nargs=2, type=int, metavar=("FROM", "TO"),
                      help="attribute editing: z + s (mean(TO) - mean(FROM)) for codes z of class FROM, one column per "
                           "strength s (--strength)")
    what.add_argument("--serve", action="store_true",
                      help="a local web page (127.0.0.1 only): the map with hover and click-to-decode, sliders along the "
                           "leading latent directions, interpolation between two test images, the label of a conditional model")
    p.add_argument("--port", type=int, default=None, help="port of --serve (default 0: a free one, printed)")
    p.add_argument("--steps", type=int, default=10, help="interpolation points, ends included (default 10)")
    p.add_argument("--by", choices=("image", "class", "seed"), default=None,
                   help="interpolate between test images (default with an encoder), class means, or seeded prior draws "
                        "(default for a GAN)")
    p.add_argument("--codes", default=None, metavar="FILE",
                   help="a .npy file of latent vectors (N, D), one per row: --interpolate A B runs between rows A and B")
    p.add_argument("--method", choices=("linear", "slerp", "both"), default="both",
                   help="linear or spherical interpolation, or one row of each (default both)")
    p.add_argument("--images", type=int, nargs="+", default=None, metavar="I",
                   help="test images for --arithmetic and --edit (default: 8 of class FROM)")
    p.add_argument("--strength", type=strengths, default=None, metavar="S,S,...",
                   help=f"strengths of the attribute vector for --edit, one column each (default {STRENGTHS}; 0 is the code itself)")
    p.add_argument("--per-class", type=int, default=None, metavar="N",
                   help="GANs: samples averaged per class for --arithmetic, --edit and --by class (default 16)")
    p.add_argument("--pool", type=int, default=None, metavar="N",
                   help="GANs without labels: samples drawn and classified to find those (default 2000)")
    p.add_argument("--seed", type=int, default=0,
                   help="GANs: seed of the samples (--arithmetic, --edit) and of the rest of the generator's input (default 0)")
    p.add_argument("--n", type=int, default=15, help="grid points per side (default 15)")
    p.add_argument("--label", type=int, default=None,
                   help="class of the --grid, or of an --interpolate path between seeds or --codes (conditional models)")
    p.add_argument("--points", type=int, default=5000, help="test images on the map (default 5000; --map and --serve)")
    p.add_argument("-o", "--output", default=None, help="PNG file (default RUN/explore-<what>.png)")
    p.add_argument("--which", choices=("last", "best"), default="last", help="checkpoint to load")
    p.add_argument("--data-dir", default=None, help="where the run's dataset lives, if it moved")
    p.set_defaults(func=run)


def check_options(args: argparse.Namespace, generator: bool) -> None:
    """Options that do not go with the chosen picture, or with this kind of model: a LatentlabError each."""
    if args.port is not None:
        raise LatentlabError("--port goes with --serve (the web page)")
    if args.label is not None and not (args.grid or args.interpolate):
        raise LatentlabError("--label only chooses the class of the --grid or of an --interpolate path (of a conditional model)")
    if args.codes is not None and not args.interpolate:
        raise LatentlabError("--codes holds the latent vectors of --interpolate A B (rows A and B)")
    if args.codes is not None and args.by is not None:
        raise LatentlabError("--codes gives the two ends itself (rows A and B): drop --by")
    if args.strength is not None and not args.edit:
        raise LatentlabError("--strength goes with --edit")
    if not generator and (args.per_class is not None or args.pool is not None):
        raise LatentlabError("--per-class and --pool choose a GAN's samples; an encoder's class means are taken over every "
                             "test image of the class")
    if generator and args.images is not None:
        raise LatentlabError("--images chooses test images, and a GAN has no encoder for them: it edits its own samples "
                             "of class FROM (--per-class, --pool, --seed)")
    if generator and args.by == "image":
        raise LatentlabError("a GAN has no encoder to interpolate between test images: use --by seed (the prior draws of "
                             "seeds A and B), --by class, or --codes FILE")


def run(args: argparse.Namespace) -> int:
    from latentlab.analysis import explore
    from latentlab.models.base import Encoder, LatentGenerator
    from latentlab.training.run_folder import load, read_run, run_dataset
    info = read_run(args.run)
    model = load(args.run, args.which)
    if args.serve:
        return serve(args, model, info)
    generator = isinstance(model, LatentGenerator) and not isinstance(model, Encoder)  # a GAN without encoder
    check_options(args, generator)
    kind = ("map" if args.map else "grid" if args.grid else "interpolate" if args.interpolate
            else "arithmetic" if args.arithmetic else "edit")
    out = Path(args.output) if args.output else Path(args.run) / f"explore-{kind}.png"
    if out.suffix != ".png":
        raise LatentlabError(f"output {out} must end in .png")
    if args.grid:
        explore.manifold_grid(model, out, args.n, args.label)
        print(out)
        return 0
    if generator or (args.interpolate and (args.codes or args.by == "seed")):
        lines = pictures_without_data(args, model, info, out)  # a GAN's pictures; any model's between seeds or given codes
    else:
        if not isinstance(model, Encoder):
            raise explore._no_latent_space(model)
        test = run_dataset(args.run, args.data_dir).test
        if not len(test):
            raise LatentlabError("the run's dataset has no test split to explore")
        lines = pictures_of_test_images(args, model, info, test, out)
    for line in lines:
        print(line)
    print(out)
    return 0


def pictures_of_test_images(args: argparse.Namespace, model, info, test, out: Path) -> list[str]:
    """--map, --interpolate, --arithmetic, --edit of an encoder, on the run's test split."""
    from latentlab.analysis import explore
    from latentlab.viz.plots import save_grid
    if args.map:
        if args.points < 1:
            raise LatentlabError(f"--points must be at least 1, got {args.points}")
        _, note = explore.latent_map(model, test, out, info.classes, args.points)
        return [f"note: {note}"] if note else []
    if args.interpolate:
        methods = explore.METHODS if args.method == "both" else (args.method,)
        by = args.by or "image"
        if args.label is not None:
            raise LatentlabError("--label goes with --by seed or --codes (the class of the path, for a conditional model); "
                                 "between test images or class means there is no label to choose")
        images, per_row = explore.interpolate_images(model, test, *args.interpolate, steps=args.steps, methods=methods,
                                                     by=by, classes=info.classes)
        save_grid(images, out, nrow=per_row)
        return [f"rows: {', '.join(methods)}" + (" (inputs at both ends)" if by == "image" else "")]
    if args.arithmetic:
        images = explore.arithmetic(model, test, *args.arithmetic, images=args.images, classes=info.classes)
        save_grid(images, out, nrow=len(images) // 3)
        return ["rows: the images, their reconstructions, z + mean(TO) - mean(FROM)"]
    frm, to = args.edit
    strength_list = args.strength or strengths(STRENGTHS)
    concepts = explore.image_concepts(model, test, info.classes)
    concepts.check(frm, to)
    base = None if args.images is None else explore.codes_of(model, test, args.images)
    n = len(concepts.codes[frm][:8]) if base is None else len(base)
    images = explore.edit(model, concepts, frm, to, strength_list, base=base)
    save_grid(images, out, nrow=len(strength_list))
    return [f"direction: mean code of class {concepts.name(to)} ({concepts.found[to]} test images) minus that of class "
            f"{concepts.name(frm)} ({concepts.found[frm]})",
            f"rows: {n} test images ({'chosen' if base is not None else f'the first of class {frm}'}); columns: strength "
            f"{', '.join(f'{s:g}' for s in strength_list)} (0: the reconstruction)"]


def pictures_without_data(args: argparse.Namespace, model, info, out: Path) -> list[str]:
    """A GAN's --interpolate, --arithmetic, --edit (and any model's interpolation between seeds or --codes)."""
    import torch
    from latentlab.analysis import explore
    from latentlab.models.base import ConditionalSampler
    from latentlab.viz.plots import save_grid
    if args.map:
        raise LatentlabError(f"the map shows the codes of test images, and a '{model.name}' model has no encoder: "
                             "interpolate between its draws (--interpolate SEED_A SEED_B), or use --serve")
    methods = explore.METHODS if args.method == "both" else (args.method,)
    if args.interpolate and args.codes is not None:
        z = explore.load_codes(args.codes, explore.space_dim(model))
        a, b = args.interpolate
        if not (0 <= a < len(z) and 0 <= b < len(z)):
            raise LatentlabError(f"--interpolate {a} {b}: {args.codes} has rows 0..{len(z) - 1}")
        images = torch.cat([explore.interpolate(model, z[a], z[b], args.steps, m, args.label, args.seed) for m in methods])
        save_grid(images, out, nrow=args.steps)
        return [f"rows: {', '.join(methods)}, from row {a} to row {b} of {args.codes}"]
    if args.interpolate and (args.by or "seed") == "seed":
        images, per_row = explore.interpolate_seeds(model, *args.interpolate, steps=args.steps, methods=methods,
                                                    label=args.label, seed=args.seed)
        save_grid(images, out, nrow=per_row)
        return [f"rows: {', '.join(methods)}, from the prior draw of seed {args.interpolate[0]} to that of seed "
                f"{args.interpolate[1]}"]
    if args.label is not None:
        raise LatentlabError("--label chooses the class of a path between seeds or --codes; class means take their own labels")
    # concepts: several samples per class
    per_class = explore.PER_CLASS if args.per_class is None else args.per_class
    pool = explore.POOL if args.pool is None else args.pool
    conditional = isinstance(model, ConditionalSampler)
    if conditional and args.pool is not None:
        raise LatentlabError(f"a '{model.name}' draws its samples of each class with that label: --pool is for GANs "
                             "without labels, whose samples are classified")
    evaluator = None if conditional else explore.evaluator_of_run(args.run, args.data_dir)
    classes = info.classes if conditional else evaluator.classes
    generator = torch.Generator(device=model.device).manual_seed(args.seed)
    concepts = explore.sample_concepts(model, None if evaluator is None else evaluator.predict, classes, pool,
                                       per_class, generator)
    lines = [f"concepts: {concepts.source}" + (f" (seed {args.seed})" if conditional else
                                               f" (seed {args.seed}; {evaluator.source} {evaluator.dataset} evaluator)")]
    if args.interpolate:  # --by class
        a, b = args.interpolate
        images, per_row = explore.interpolate_concepts(model, concepts, a, b, args.steps, methods)
        save_grid(images, out, nrow=per_row)
        lines += [mean_line(concepts, a, b), f"rows: {', '.join(methods)}, from mean({a}) to mean({b})"]
        return lines
    if args.arithmetic:
        to, frm = args.arithmetic
        images = explore.sample_arithmetic(model, concepts, to, frm)
        n = len(images) // 2
        save_grid(images, out, nrow=n)
        lines += [mean_line(concepts, to, frm),
                  f"rows: {n} samples of class {concepts.name(frm)}, the same + mean({to}) - mean({frm})"]
        if evaluator is not None:
            hits = int((evaluator.predict(images[n:]) == to).sum())
            lines.append(f"the evaluation classifier puts {hits} of the {n} results in class {concepts.name(to)}")
        return lines
    frm, to = args.edit
    strength_list = args.strength or strengths(STRENGTHS)
    images = explore.edit(model, concepts, frm, to, strength_list)
    s = len(strength_list)
    n = len(images) // s
    save_grid(images, out, nrow=s)
    lines += [mean_line(concepts, to, frm),
              f"rows: {n} samples of class {concepts.name(frm)}; columns: strength {', '.join(f'{v:g}' for v in strength_list)} "
              "(0: the sample itself)"]
    if evaluator is not None:
        hits = (evaluator.predict(images).reshape(n, s) == to).sum(0)  # (S,) per strength
        lines.append(f"classified {concepts.name(to)} by the evaluation classifier, of {n}: " +
                     ", ".join(f"strength {v:g}: {h}" for v, h in zip(strength_list, hits)))
    return lines


def mean_line(concepts, to: int, frm: int) -> str:
    """How many samples each of the two concept vectors averages."""
    concepts.check(to, frm)
    return (f"means over {len(concepts.codes[to])} samples of class {concepts.name(to)} and {len(concepts.codes[frm])} "
            f"of class {concepts.name(frm)}" + ("" if concepts.pool is None else
                                                 f" ({concepts.found[to]} and {concepts.found[frm]} of the {concepts.pool:,} draws)"))

def serve(args: argparse.Namespace, model, info) -> int:
    """Serve the explorer page until Ctrl-C."""
    from latentlab.models.base import Encoder
    from latentlab.training.run_folder import run_dataset
    from latentlab.explorer import Explorer, make_server
    port = 0 if args.port is None else args.port
    if not 0 <= port <= 65535:
        raise LatentlabError(f"--port must be in 0..65535 (0: a free one), got {port}")
    if args.output is not None:
        raise LatentlabError("-o/--output names a PNG file; --serve writes none")
    if args.points < 1:
        raise LatentlabError(f"--points must be at least 1, got {args.points}")
    if args.label is not None:
        raise LatentlabError("--label only chooses the class of the --grid; the page has its own label menu")
    test = run_dataset(args.run, args.data_dir).test if isinstance(model, Encoder) else None  # a GAN needs no data
    # refuses a model without a latent space (ddpm, pixelcnn, the density baselines)
    explorer = Explorer(model, test, info.classes, title=Path(args.run).name, points=args.points)
    server = make_server(explorer, port)
    url = f"http://{server.host}:{server.port}/"
    print(f"latentlab explorer: {url}  (Ctrl-C stops it)", flush=True)
    # Ctrl-C stops it even when the parent process started it with SIGINT ignored (as shells and some
    # test runners do for background children), as the training loop's own handler does
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        server.serve_forever()  # werkzeug's returns on Ctrl-C
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print(f"latentlab: stopped the explorer at {url}", file=sys.stderr, flush=True)
    return 0
