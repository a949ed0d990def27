"""latentlab calo simulate|train|generate|validate|bench|demo: fast simulation of calorimeter showers.

    latentlab calo demo --out calo-demo                  (simulate, train, generate, validate: a few minutes)
    latentlab calo simulate --particle eplus --n 100000 --out showers.h5
    latentlab calo simulate --geometry calochallenge-ds2 --n 10000 --out ds2.h5   (electrons, 1 GeV - 1 TeV)
    latentlab calo train calo-wgan --data showers.h5 --epochs 30 --out runs/calo-wgan   (or calo-vae)
    latentlab calo train calo-vae --help                 (every option, with the model's defaults)
    latentlab calo generate runs/calo-wgan --energy 50 --n 1000 --out gen.h5
    latentlab calo generate runs/calo-wgan --energy-range 1 100 --n 10000 --out gen.h5
    latentlab calo generate runs/calo-wgan --spectrum ref.h5 --out gen.h5     (one shower per reference energy)
    latentlab calo validate --reference ref.h5 --generated gen.h5 --out report/
    latentlab calo bench [RUN] --out timing.md

CaloGAN files (CaloGAN's geometry) and CaloChallenge files (incident_energies, showers; 6480
voxels are dataset 2 unless the file says otherwise) work everywhere; a model generates in
the geometry and layout it was trained on.

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
from latentlab.calo.generate import SIMULATED_GEOMETRIES
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
    s.add_argument("--geometry", default="calogan", metavar="GEOMETRY",
                   help=f"{', '.join(SIMULATED_GEOMETRIES)} (default calogan; the CaloChallenge ones write the "
                        "CaloChallenge layout)")
    s.add_argument("--particle", default=None, help="eplus, eminus or gamma (default: eplus for calogan, eminus for "
                                                     "the CaloChallenge geometries, as their published files)")
    s.add_argument("--n", type=int, required=True, help="number of showers")
    s.add_argument("--energy", type=float, default=None, help="one incident energy, GeV")
    s.add_argument("--energy-range", type=float, nargs=2, metavar=("LOW", "HIGH"), default=None,
                   help="incident energies, GeV (default: 1 100 uniform for calogan, 1 1000 log-uniform for "
                        "the CaloChallenge geometries)")
    s.add_argument("--distribution", choices=("uniform", "log-uniform"), default=None,
                   help="how --energy-range is drawn (default: the geometry's, see above)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True, help="output .h5 (the geometry's layout)")
    s.set_defaults(func=run_simulate)

    t = actions.add_parser("train", help="train an energy-conditioned shower model on an .h5 file",
                           description="Train a shower model on an .h5 file, then validate it on held-out showers.")
    models = t.add_subparsers(dest="model", metavar="MODEL", required=True)
    for name, cls in SHOWER_MODELS.items():
        doc = (cls.__doc__ or name).strip().splitlines()[0]
        m = models.add_parser(name, help=doc, description=doc)
        m.add_argument("--data", required=True, help="showers .h5 (CaloGAN or CaloChallenge layout)")
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
    e.add_argument("--energy-range", type=float, nargs=2, metavar=("LOW", "HIGH"),
                   help="energies, GeV, drawn uniformly (CaloGAN) or log-uniformly (CaloChallenge)")
    e.add_argument("--spectrum", help="an .h5 file whose incident energies to copy (one shower each)")
    g.add_argument("--distribution", choices=("uniform", "log-uniform"), default=None,
                   help="how --energy-range is drawn (default: the model's geometry's, see above)")
    g.add_argument("--n", type=int, default=None, help="number of showers (with --spectrum: the first N energies)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--which", choices=("last", "best"), default="last")
    g.add_argument("--out", required=True, help="output .h5 (the layout of the model's geometry)")
    g.set_defaults(func=run_generate)

    v = actions.add_parser("validate", help="compare generated with reference showers: plots, tables, AUC")
    v.add_argument("--reference", required=True, help="reference .h5")
    v.add_argument("--generated", required=True, help="generated .h5")
    v.add_argument("--out", required=True, help="report folder")
    v.add_argument("--limit", type=int, default=None, help="use only the first N showers of each file")
    v.add_argument("--classifier", default="dnn",
                   help="dnn (the CaloChallenge DNN, on voxels and on high-level features), hgb, mlp, or several joined "
                        "by '+', e.g. dnn+hgb (default: dnn)")
    v.add_argument("--floor", default=None, help="an independent reference .h5 (another seed): the floor of each measure")
    v.add_argument("--no-figures", dest="figures", action="store_false", help="numbers and tables only, no PNGs")
    v.set_defaults(func=run_validate)

    d = actions.add_parser("demo", help="simulate, train, generate and validate a small sample in one go",
                           description="Simulate training and reference showers, train a shower model, generate one "
                                       "shower per reference energy and validate them: the whole chain on a small "
                                       "sample (a few CPU minutes with the defaults).")
    d.add_argument("--out", default="calo-demo",
                   help="folder for the files, the run and the report (default calo-demo)")
    d.add_argument("--geometry", default="calochallenge-ds2", metavar="GEOMETRY",
                   help=f"{', '.join(SIMULATED_GEOMETRIES)} (default calochallenge-ds2)")
    d.add_argument("--model", default="calo-vae", metavar="MODEL",
                   help=f"{', '.join(SHOWER_MODELS)} (default calo-vae)")
    d.add_argument("--n", type=int, default=2000, help="training showers (default 2000)")
    d.add_argument("--n-reference", type=int, default=500, help="reference showers to validate on (default 500)")
    d.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--no-figures", dest="figures", action="store_false", help="numbers and tables only, no PNGs")
    d.set_defaults(func=run_demo)

    b = actions.add_parser("bench", help="ms per shower: simulator and (with RUN) the trained generator")
    b.add_argument("run", metavar="RUN", nargs="?", default=None, help="run folder of a trained generator")
    b.add_argument("--batch-sizes", type=int, nargs="+", default=None,
                   help="default: the convention's (calogan: 1 10 128 1024; calochallenge: 1 100 10000)")
    b.add_argument("--convention", choices=("calogan", "calochallenge"), default="calogan",
                   help="whose batch sizes to time (default calogan)")
    b.add_argument("--min-seconds", type=float, default=1.0, help="time each batch size at least this long")
    b.add_argument("--min-showers", type=int, default=1024, help="and make at least this many showers")
    b.add_argument("--threads", type=int, default=1, help="torch threads for the generator (default 1)")
    b.add_argument("--out", default=None, help="also write the Markdown table here")
    b.set_defaults(func=run_bench)


def _positive(name: str, n: int | None) -> None:
    if n is not None and n < 1:
        raise ConfigError(f"{name} must be at least 1, got {n}")


def _geometry(name: str):
    from latentlab.calo.geometry import from_spec
    if name not in SIMULATED_GEOMETRIES:
        raise ConfigError(f"unknown geometry {name!r}; the simulator knows {', '.join(SIMULATED_GEOMETRIES)}")
    return from_spec(name)


def run_simulate(args: argparse.Namespace) -> int:
    from latentlab.calo.simulate import default_energies, simulate_to_file
    geometry = _geometry(args.geometry)
    _positive("--n", args.n)
    if args.energy is not None and args.energy_range is not None:
        raise ConfigError("give either --energy or --energy-range, not both")
    energy = args.energy if args.energy is not None else tuple(args.energy_range or default_energies(geometry)[0])
    for value in ([energy] if args.energy is not None else list(energy)):
        if not value > 0:
            raise ConfigError(f"incident energies must be > 0 GeV, got {value}")
    particle = args.particle or ("eplus" if args.geometry == "calogan" else "eminus")
    print(simulate_to_file(particle, args.n, args.out, energy=energy, seed=args.seed, geometry=geometry,
                           distribution=args.distribution))
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
                                which=args.which, distribution=args.distribution)
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
                                figures=args.figures, floor=args.floor)
    for w in caught:
        print(f"latentlab: warning: {w.message}")
    print(f"classifier AUC {result['classifier']['auc']:.3f}; mean separation power "
          f"{result['mean_separation_power']:.4f}; worst: " + ", ".join(
              f"{k} {v:.3f}" for k, v in sorted(result["separation_power"].items(), key=lambda kv: -kv[1])[:3]))
    c = result["classifier"]
    if "dnn_low_level" in c:
        print(f"CaloChallenge DNN AUC: low level {c['dnn_low_level']['auc']:.3f}, high level "
              f"{c['dnn_high_level']['auc']:.3f}")
    print(f"report: {Path(args.out) / 'report.html'}")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from latentlab.calo.generate import demo
    from latentlab.calo.validate import stderr_line
    _geometry(args.geometry)  # a bad choice fails before anything runs
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = demo(args.out, args.geometry, args.n, args.n_reference, args.epochs, args.model, args.seed,
                 figures=args.figures, log=stderr_line)
    for w in caught:
        print(f"latentlab: warning: {w.message}")
    worst = ", ".join(f"{k} {v:.3f}" for k, v in s["worst_separation_power"].items())
    print(f"{s['model']} on {s['n_train']} simulated {s['geometry']} showers, {s['epochs']} epochs; "
          f"validated on {s['n_reference']} reference showers")
    print(f"classifier AUC {s['classifier_auc']:.3f} (0.5: indistinguishable); mean separation power "
          f"{s['mean_separation_power']:.4f}; worst: {worst}; FPD {s['fpd']:.4g}; KPD {s['kpd']:.4g}")
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in s["seconds"].items()))
    print(f"run folder: {s['run']}")
    print(f"report: {s['report']}")
    return 0


def run_bench(args: argparse.Namespace) -> int:
    from latentlab.calo.bench_sim import bench_table
    for b in args.batch_sizes or ():
        _positive("--batch-sizes", b)
    text = bench_table(args.run, tuple(args.batch_sizes) if args.batch_sizes else None, args.min_seconds, args.threads,
                       args.min_showers, convention=args.convention)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0
