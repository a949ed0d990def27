"""latentlab score PATH --dataset D: put samples from anywhere on latentlab's scale.

    latentlab score samples.npy --dataset mnist           # (N, 1, 28, 28) or (N, 28, 28), uint8 or float in [0, 1]
    latentlab score pngs/ --dataset fashion-mnist --out fashion.json

Every sample metric of ``latentlab eval RUN --samples N`` (FD, precision/recall, density/coverage,
recognisability, classes covered), each beside its floor or ceiling, and the evaluator's hash:
the shipped evaluators of digits, mnist and fashion-mnist are the same on every machine.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

from latentlab.errors import LatentlabError
from latentlab.training.run_folder import note


def register(sub: argparse._SubParsersAction, help: str) -> None:
    p = sub.add_parser("score", help=help, description=(
        "Score images made by any program against a dataset's test split: every sample metric beside its floor, "
        "printed and written as JSON. digits, mnist and fashion-mnist use the shipped evaluator (the same "
        "everywhere); the test and training images of the dataset must be on disk (they are the reference and "
        "the floor)."))
    p.add_argument("path", metavar="PATH", help="a .npy/.npz array of images, (N, C, H, W) or (N, H, W), uint8 or float in "
                                                "[0, 1] (a .npz may hold labels under 'y'), or a folder of PNG images")
    p.add_argument("--dataset", required=True, help="the dataset the images imitate: digits, mnist, fashion-mnist, "
                                                     "or the path of a labelled dataset")
    p.add_argument("--data-dir", default=None, help="where the dataset's files are (default: the usual search)")
    p.add_argument("--out", default=None, metavar="FILE.json", help="where the JSON goes (default: PATH's name + .score.json, beside it)")
    p.add_argument("--seed", type=int, default=0, help="seed of the training images drawn for the floor (default 0)")
    p.add_argument("--evaluator-cache", default=None, metavar="DIR",
                   help="folder of locally trained evaluators, for datasets without a shipped one "
                        "(default $XDG_CACHE_HOME/latentlab/evaluators)")
    p.set_defaults(func=run)


def default_out(path: Path) -> Path:
    """``samples.npy`` -> ``samples.score.json`` and ``pngs/`` -> ``pngs.score.json``, beside the input."""
    path = path.resolve()
    return path.parent / f"{path.stem if path.is_file() else path.name}.score.json"


def run(args: argparse.Namespace) -> int:
    from latentlab.evaluation.samples import read_images, score_images
    from latentlab.viz.summary import evaluator_line, format_rows, sample_rows
    from latentlab.training.run_folder import write_json
    path = Path(args.path)
    out = Path(args.out) if args.out else default_out(path) if path.exists() else None
    if out is not None and out.suffix != ".json":
        raise LatentlabError(f"--out {out}: give a file name ending in .json")
    images, labels = read_images(path)
    result = score_images(images, args.dataset, args.data_dir, labels=labels, seed=args.seed,
                          cache=args.evaluator_cache, source=str(path), log=note)
    print(format_rows(sample_rows(result)))
    print(evaluator_line(result))
    try:
        write_json(out, {"input": str(path), "dataset": args.dataset,
                         **{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in result.items()}})
    except OSError as e:
        raise LatentlabError(f"cannot write {out} ({e.strerror}); pass --out FILE.json in a writable folder") from e
    print(f"wrote {out}")
    return 0
