"""latentlab calo simulate|train|generate|validate|bench: fast simulation of calorimeter showers.

    latentlab calo simulate --particle eplus --n 100000 --out showers.h5
    latentlab calo train --data showers.h5 --model calo-wgan --epochs 30 --out runs/calo-wgan
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

from latentlab.errors import ConfigError

MODELS = ("calo-wgan", "calo-vae")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calo", help="simulate, learn, generate, validate and time calorimeter showers",
                       description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
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

    t = actions.add_parser("train", help="train an energy-conditioned shower model on an .h5 file")
    t.add_argument("--data", required=True, help="showers .h5 (CaloGAN layout)")
    t.add_argument("--model", choices=MODELS, default="calo-wgan", help="calo-wgan (WGAN-GP) or calo-vae (default calo-wgan)")
    t.add_argument("--epochs", type=int, default=None, help="passes over the training showers (default 30)")
    t.add_argument("--batch-size", type=int, default=None, help="showers per step (default 128)")
    t.add_argument("--lr", type=float, default=None, help="learning rate (default 1e-4 GAN, 1e-3 VAE)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    t.add_argument("--out", default=None, help="run folder (default runs/<model>-<data>-<time>)")
    t.add_argument("--val-fraction", type=float, default=0.1, help="showers held out for the per-epoch validation")
    t.add_argument("--test-fraction", type=float, default=0.1, help="showers held out for the final validation")
    t.add_argument("--validate-n", type=int, default=10_000, help="held-out showers to validate on after training (0: skip)")
    t.add_argument("--limit", type=int, default=None, help="read only the first N showers of the file")
    t.add_argument("--no-figures", dest="figures", action="store_false", help="validate without the PNG figures")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a model setting, e.g. --set latent_dim=32 --set n_critic=3 (see `latentlab calo train --help-model`)")
    t.add_argument("--help-model", action="store_true", help="list the model's settings and exit")
    t.add_argument("--no-progress", dest="progress", action="store_false")
    t.set_defaults(func=run_train)

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


def model_settings(model: str, pairs: list[str]) -> dict:
    """--set KEY=VALUE pairs -> typed model settings (unknown keys and bad values are errors)."""
    from latentlab.config import field_type
    from latentlab.models import get_model_class
    cls = get_model_class(model).Config
    fields = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in fields:
            raise ConfigError(f"--set {pair!r}: give KEY=VALUE with KEY one of {', '.join(fields)}")
        base, _ = field_type(cls, fields[key])
        try:
            out[key] = value.lower() in ("1", "true", "yes") if base is bool else base(value)
        except ValueError:
            raise ConfigError(f"--set {pair!r}: {key} takes a {base.__name__}") from None
    return out


def run_train(args: argparse.Namespace) -> int:
    from latentlab.calo.generate import train_showers
    if args.help_model:
        from latentlab.models import get_model_class
        cls = get_model_class(args.model).Config
        for f in dataclasses.fields(cls):
            print(f"{f.name:20s} {f.default!r:10}  {f.metadata.get('help', '')}")
        return 0
    _positive("--epochs", args.epochs)
    _positive("--batch-size", args.batch_size)
    settings = {k: getattr(args, k) for k in ("epochs", "batch_size", "lr", "out") if getattr(args, k) is not None}
    settings.update(seed=args.seed, device=args.device, progress=args.progress, val_fraction=args.val_fraction)
    settings.update(model_settings(args.model, args.set))
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
    from latentlab.calo.generate import generate_to_file, load_model
    _positive("--n", args.n)
    if args.energy is not None and args.n is None or args.energy_range is not None and args.n is None:
        raise ConfigError("give the number of showers with --n (only --spectrum can do without)")
    energy = args.energy if args.energy is not None else (tuple(args.energy_range) if args.energy_range else None)
    import latentlab
    model = load_model(latentlab.load(args.run, args.which))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = generate_to_file(model, args.out, energy, args.n, spectrum=args.spectrum, seed=args.seed)
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
