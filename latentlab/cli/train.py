"""latentlab train MODEL [options] | latentlab train --recipe NAME [options]

One sub-parser per model, options generated from its configs. ``--config FILE`` (TOML or JSON,
a run's config.json included) supplies settings that the options given beside it override.
``--recipe NAME`` (an option of ``train`` itself, before any MODEL) runs a lecture recipe of
``latentlab.recipes``: the recipe names the model; every word after NAME is parsed by that
model's options (so ``--epochs 3`` or ``--config FILE`` override the recipe); after training,
the recipe's report is printed and its follow-up commands run (``--train-only`` skips them).
"""
from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys

from latentlab.cli.options import add_config_options
from latentlab.config import TrainConfig, train_defaults
from latentlab.errors import LatentlabError
from latentlab.models import MODELS
from latentlab.recipes import as_options


def register(sub: argparse._SubParsersAction, help: str) -> None:
    p = sub.add_parser("train", help=help, description="Train a model and write its run folder; or run a lecture recipe "
                       "with --recipe NAME (`latentlab recipes` lists them).")
    p.add_argument("--recipe", nargs=argparse.REMAINDER, metavar="NAME [OPTION ...]", default=None,
                   help="run the lecture recipe NAME (it names the model); the options after NAME override its settings "
                        "(`latentlab train --recipe NAME --help` lists them)")
    p.set_defaults(func=run)
    models = p.add_subparsers(dest="model", metavar="MODEL")  # not required: --recipe names the model
    for name, cls in sorted(MODELS.items()):
        doc = model_summary(cls)
        m = models.add_parser(name, help=doc, description=doc)
        add_model_options(m, name, cls)
        m.set_defaults(func=run)


def add_model_options(p: argparse.ArgumentParser, name: str, cls: type, defaults: dict | None = None) -> None:
    """The options of `latentlab train NAME`; ``defaults`` (e.g. a recipe's settings) are shown in the help."""
    defaults = {**train_defaults(cls), **(defaults or {})}
    p.add_argument("--config", metavar="FILE", default=None,
                   help="read settings from a TOML or JSON file (a run folder's config.json works too); "
                        "options given here override it")
    p.add_argument("--resume", metavar="RUN_DIR", default=None, help="continue the run in RUN_DIR exactly where its checkpoint stopped")
    p.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="train with N processes on this machine (launches torchrun; --batch-size is per process)")
    add_config_options(p.add_argument_group("training"), TrainConfig, defaults=defaults)
    add_config_options(p.add_argument_group(f"{name} model"), cls.Config, defaults=defaults)


def model_summary(cls: type) -> str:
    """First line of the model class's docstring, else of its module's."""
    doc = cls.__doc__ or sys.modules[cls.__module__].__doc__ or cls.name
    return doc.strip().splitlines()[0]


def launch_torchrun(nproc: int, argv: list[str]) -> int:
    """Re-run this command under `torchrun --standalone --nproc-per-node N` (PyTorch's own launcher)."""
    from latentlab.training import distributed as dist
    if dist.launched_by_torchrun():
        raise LatentlabError("--nproc was given inside a torchrun job: drop --nproc, torchrun already started the processes")
    rest, skip = [], False
    for a in argv:  # the same command without --nproc
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            rest.append(a)
    return dist.launch(nproc, rest)


def given_settings(args: argparse.Namespace, cls: type) -> dict:
    """The settings given as options (their defaults are suppressed, so only those typed are present)."""
    names = {f.name for f in dataclasses.fields(TrainConfig)} | {f.name for f in dataclasses.fields(cls.Config)}
    return {k: v for k, v in vars(args).items() if k in names}


def run(args: argparse.Namespace) -> int:
    if args.recipe is not None:
        if args.model is not None:
            raise LatentlabError("give either a MODEL or --recipe NAME, not both (the recipe names its model)")
        return run_recipe(args.recipe, args.argv)
    if args.model is None:
        raise LatentlabError("choose a MODEL (`latentlab train MODEL`, `latentlab list` names them) "
                             "or a lecture recipe (`latentlab train --recipe NAME`, `latentlab recipes` names them)")
    cls = MODELS[args.model]
    settings = settings_of(args, cls)
    check_out(settings.get("out"))
    if args.nproc > 1:
        return launch_torchrun(args.nproc, args.argv)
    train_and_report(args.model, args.resume, settings)
    return 0


def check_out(out: str | None) -> None:
    """Refuse an --out that cannot be a run folder before the data are loaded (the lock says so too, later)."""
    from pathlib import Path
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise LatentlabError(f"--out {out} is a file, not a run folder: choose another --out (a new or existing folder)")


def settings_of(args: argparse.Namespace, cls: type, base: dict | None = None) -> dict:
    """``base`` (a recipe's settings), then the --config file, then the options typed: later ones win."""
    from latentlab.recipes import read_settings_file
    if args.nproc < 1:
        raise LatentlabError(f"--nproc must be at least 1, got {args.nproc}")
    file = read_settings_file(args.config, cls) if args.config else {}
    return {**(base or {}), **file, **given_settings(args, cls)}


def train_and_report(model: str, resume: str | None, settings: dict):
    """Train; on rank 0 print the run folder, its pictures and the last epoch's losses. The Run, or None off rank 0."""
    from latentlab.training import distributed as dist
    from latentlab.training.loop import train
    result = train(model, resume=resume, **settings)
    if dist.rank() != 0:
        return None
    print(f"run folder: {result.dir}")
    for name in ("samples.png", "reconstructions.png", "losses.png", "latent.png", "report.html"):
        if (result.dir / name).exists():
            print(f"  {result.dir / name}")
    if result.metrics:
        last = result.metrics[-1]
        print("last epoch: " + ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k.endswith(("loss", "elbo", "accuracy"))))
    return result


# --- recipes ---------------------------------------------------------------------------------
def recipe_parser(recipe) -> argparse.ArgumentParser:
    """The options of the recipe's model, with the recipe's settings shown as their defaults."""
    cls = MODELS[recipe.model]
    p = argparse.ArgumentParser(
        prog=f"latentlab train --recipe {recipe.name}", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"{recipe.lecture}\n\n{recipe.about}\n\nmodel: {recipe.model}; settings: "
                    f"{' '.join(shlex.quote(w) for w in as_options(recipe.settings))}\n\n{recipe.notes}")
    p.add_argument("--train-only", action="store_true", help="train only; skip the recipe's report and follow-up commands")
    add_model_options(p, recipe.model, cls, defaults=recipe.settings)
    return p


def run_recipe(words: list[str], argv: list[str]) -> int:
    from latentlab import recipes
    from latentlab.training.run_folder import default_run_dir, write_json
    if not words or words[0].startswith("-"):
        raise LatentlabError("--recipe needs a NAME; `latentlab recipes` lists them: " + ", ".join(recipes.names()))
    recipe = recipes.load(words[0])
    args = recipe_parser(recipe).parse_args(words[1:])  # argparse's own errors: exit 2
    cls = MODELS[recipe.model]
    if args.resume:  # the run keeps the settings it started with; only the resumable ones may be typed
        settings = settings_of(args, cls)
    else:
        settings = settings_of(args, cls, base=recipe.settings)
        settings.setdefault("out", str(default_run_dir(recipe.name, settings.get("dataset", "digits"))))
        check_out(settings["out"])
    if args.nproc > 1:
        return launch_torchrun(args.nproc, argv)
    print(f"recipe {recipe.name}: {recipe.lecture}\n  {recipe.about}", flush=True)
    result = train_and_report(recipe.model, args.resume, settings)
    if result is None:  # not rank 0
        return 0
    if args.resume:  # the follow-ups see the settings the run started with (recipe + overrides typed now)
        settings = {**recipe.settings, **settings}
    commands = recipe.commands(result.dir, settings)
    record = {"recipe": recipe.name, "lecture": recipe.lecture, "about": recipe.about, "model": recipe.model,
              "recipe_settings": recipe.settings, "settings": settings, "notes": recipe.notes,
              "then": [shlex.join(c) for c in commands]}
    if args.train_only:
        write_json(result.dir / "recipe.json", record)
        return 0
    if recipe.report:
        rows = recipes.lecture_report(recipe, result.dir)
        record["report"] = rows
        print(f"\nthe lecture's figures beside this run's ({recipe.report['kind']}; see the recipe's notes):")
        print(recipes.format_report(rows))
    write_json(result.dir / "recipe.json", record)
    print(f"  {result.dir / 'recipe.json'}")
    from latentlab.cli.main import main
    for command in commands:
        print(f"\n$ latentlab {shlex.join(command)}", flush=True)
        code = main(command)
        if code:
            print(f"latentlab: the recipe's follow-up command stopped with exit code {code}", file=sys.stderr)
            return code
    return 0
