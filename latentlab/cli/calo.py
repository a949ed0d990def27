"""latentlab calo simulate|train|generate|validate|bench: fast simulation of calorimeter showers.

    latentlab calo simulate --particle eplus --n 100000 --out showers.h5
    latentlab calo train calo-wgan --data showers.h5 --epochs 30 --out runs/calo-wgan   (or calo-vae)
    latentlab calo train calo-vae --help                 (every option, with the model's defaults)
    latentlab calo generate runs/calo-wgan --energy 50 --n 1000 --out gen.h5
    latentlab calo generate runs/calo-wgan --energy-range 1 100 --n 10000 --out gen.h5
    latentlab calo generate runs/calo-wgan --spectrum ref.h5 --out gen.h5     (one shower per reference energy)
    latentlab calo validate --reference ref.h5 --generated gen.h5 --out report/
    latentlab calo bench [RUN] --out timing.md

Bad input (missing datasets, shapes that do not fit the geometry, NaN or negative energies,
unknown models) exits with code 2 and a message; energies outside a model's training range
are generated with a warning naming that range.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import warnings
from pathlib import Path

from latentlab.calo.modelbase import FITTED
from latentlab.cli.options import add_config_options
from latentlab.config import TrainConfig, train_defaults
from latentlab.errors import ConfigError
from latentlab.models import SHOWER_MODELS

# Options of `latentlab train` that do not apply to showers: the showers come from --data.
IMAGE_ONLY = ("dataset", "data_dir", "image_size", "binarize", "threshold", "labels")


def register(sub: argparse._SubParsersAction, help: str) -> None:
    p = sub.add_parser("calo", help=help, description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=__doc__.split("\n\n", 1)[1])
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    s = actions.add_parser("simulate", help="simulate showers with the Grindhammer-Peters parameterisation")
    s.add_argument("--particle", default="eplus", help="eplus, eminus or gamma (default eplus)")
    s.add_argument("--n", type=int, required=True, help="number of showers")
    s.add_argument("--energy", type=float, default=None, help="one incident energy, GeV")
    s.add_argument("--energy-range", type=float, nargs=2, metavar=("LOW", "HIGH"), default=(1.0, 100.0),
                   help="uniform incident energies, GeV (default 1 100, as CaloGAN)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True, help="output .h5 (CaloGAN layout)")
    s.set_defaults(func=run_simulate)

    t = actions.add_parser("train", help="train an energy-conditioned shower model on an .h5 file",
                           description="Train a shower model on an .h5 file, then validate it on held-out showers.")
    models = t.add_subparsers(dest="model", metavar="MODEL", required=True)
    for name, cls in SHOWER_MODELS.items():
        doc = (cls.__doc__ or name).strip().splitlines()[0]
        m = models.add_parser(name, help=doc, description=doc)
        m.add_argument("--data", required=True, help="showers .h5 (CaloGAN layout)")
        m.add_argument("--test-fraction", type=float, default=0.1, help="showers held out for the final validation "
                                                                         "(default: 0.1)")
        m.add_argument("--validate-n", type=int, default=10_000,
                       help="held-out showers to validate on after training, 0: skip (default: 10000)")
        m.add_argument("--limit", type=int, default=None, help="read only the first N showers of the file")
        m.add_argument("--no-figures", dest="figures", action="store_false", help="validate without the PNG figures")
        add_config_options(m.add_argument_group("training"), TrainConfig, skip=IMAGE_ONLY, defaults=train_defaults(cls))
        add_config_options(m.add_argument_group(f"{name} model"), cls.Config, skip=FITTED)  # fitted: no options
        m.set_defaults(func=run_train)

    g = actions.add_parser("generate", help="generate showers from a trained run")
    g.add_argument("run", metavar="RUN", help="run folder of calo-wgan / calo-vae")
    e = g.add_mutually_exclusive_group(required=True)
    e.add_argument("--energy", type=float, help="one incident energy for every shower, GeV")
    e.add_argument("--energy-range", type=float, nargs=2, metavar=("LOW", "HIGH"), help="uniform energies, GeV")
    e.add_argument("--spectrum", help="an .h5 file whose incident energies to copy (one shower each)")
    g.add_argument("--n", type=int, default=None, help="number of showers (with --spectrum: the first N energies)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--which", choices=("last", "best"), default="last")
    g.add_argument("--out", required=True, help="output .h5 (CaloGAN layout)")
    g.set_defaults(func=run_generate)

    v = actions.add_parser("validate", help="compare generated with reference showers: plots, tables, AUC")
    v.add_argument("--reference", required=True, help="reference .h5")
    v.add_argument("--generated", required=True, help="generated .h5")
    v.add_argument("--out", required=True, help="report folder")
    v.add_argument("--limit", type=int, default=None, help="use only the first N showers of each file")
    v.add_argument("--classifier", choices=("hgb", "mlp"), default="hgb", help="reference-vs-generated classifier")
    v.add_argument("--no-figures", dest="figures", action="store_false", help="numbers and tables only, no PNGs")
    v.set_defaults(func=run_validate)

    b = actions.add_parser("bench", help="ms per shower: simulator and (with RUN) the trained generator")
    b.add_argument("run", metavar="RUN", nargs="?", default=None, help="run folder of a trained generator")
    b.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 10, 128, 1024])
    b.add_argument("--min-seconds", type=float, default=1.0, help="time each batch size at least this long")
    b.add_argument("--min-showers", type=int, default=1024, help="and make at least this many showers")
    b.add_argument("--threads", type=int, default=1, help="torch threads for the generator (default 1)")
    b.add_argument("--out", default=None, help="also write the Markdown table here")
    b.set_defaults(func=run_bench)


def _positive(name: str, n: int | None) -> None:
    if n is not None and n < 1:
        raise ConfigError(f"{name} must be at least 1, got {n}")


def run_simulate(args: argparse.Namespace) -> int:
    from latentlab.calo.simulate import simulate_to_file
    _positive("--n", args.n)
    energy = args.energy if args.energy is not None else tuple(args.energy_range)
    for value in ([energy] if args.energy is not None else list(energy)):
        if not value > 0:
            raise ConfigError(f"incident energies must be > 0 GeV, got {value}")
    print(simulate_to_file(args.particle, args.n, args.out, energy=energy, seed=args.seed))
    return 0


def run_train(args: argparse.Namespace) -> int:
    from latentlab.calo.generate import train_showers
    _positive("--limit", args.limit)
    names = {f.name for f in dataclasses.fields(TrainConfig)} | {f.name for f in dataclasses.fields(SHOWER_MODELS[args.model].Config)}
    settings = {k: v for k, v in vars(args).items() if k in names}  # only the options given (the rest: defaults)
    run = train_showers(args.data, args.model, test_fraction=args.test_fraction, validate_n=args.validate_n,
                        limit=args.limit, figures=args.figures, **settings)
    print(f"run folder: {run.dir}")
    summary = run.dir / "eval_calo.json"
    if summary.exists():
        s = json.loads(summary.read_text())
        print(f"held-out validation: classifier AUC {s['classifier_auc']:.3f}, mean separation power "
              f"{s['calo_validation']['mean_separation_power']:.3f} (report: {run.dir / s['report']})")
    return 0


def run_generate(args: argparse.Namespace) -> int:
    from latentlab.calo.generate import generate_to_file
    _positive("--n", args.n)
    if args.energy is not None and args.n is None or args.energy_range is not None and args.n is None:
        raise ConfigError("give the number of showers with --n (only --spectrum can do without)")
    energy = args.energy if args.energy is not None else (tuple(args.energy_range) if args.energy_range else None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = generate_to_file(args.run, args.out, energy, args.n, spectrum=args.spectrum, seed=args.seed,
                                which=args.which)
    for w in caught:
        print(f"latentlab: warning: {w.message}", flush=True)
    print(path)
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from latentlab.calo.validate import validate_files
    _positive("--limit", args.limit)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = validate_files(args.reference, args.generated, args.out, limit=args.limit, classifier=args.classifier,
                                figures=args.figures)
    for w in caught:
        print(f"latentlab: warning: {w.message}")
    print(f"classifier AUC {result['classifier']['auc']:.3f}; mean separation power "
          f"{result['mean_separation_power']:.4f}; worst: " + ", ".join(
              f"{k} {v:.3f}" for k, v in sorted(result["separation_power"].items(), key=lambda kv: -kv[1])[:3]))
    print(f"report: {Path(args.out) / 'report.html'}")
    return 0


def run_bench(args: argparse.Namespace) -> int:
    from latentlab.calo.bench_sim import bench_table
    for b in args.batch_sizes:
        _positive("--batch-sizes", b)
    text = bench_table(args.run, tuple(args.batch_sizes), args.min_seconds, args.threads, args.min_showers)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0
