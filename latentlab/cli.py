"""The `latentlab` command. Each module in ``latentlab/commands`` is one
sub-command: it defines ``register(subparsers)`` and sets ``func`` on its parser.

Exit codes: 0 done, 1 training diverged or a distributed process was lost,
2 bad input (message, no traceback), 130 interrupted (a checkpoint was saved).
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import pkgutil
import sys

from latentlab.config import field_type
from latentlab.distributed import DistributedError
from latentlab.errors import LatentlabError, TrainingDiverged


def add_config_options(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = (),
                       defaults: dict | None = None) -> None:
    """One --option per dataclass field; defaults are SUPPRESSed so only given options are set.
    ``defaults`` overrides the default shown in the help (e.g. a model's own learning rate)."""
    defaults = defaults or {}
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        base, _ = field_type(cls, f)
        flag = "--" + f.name.replace("_", "-")
        help = f"{f.metadata.get('help', '')} (default: {defaults.get(f.name, f.default)})"
        if base is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help)
        else:
            parser.add_argument(flag, dest=f.name, type=base, choices=f.metadata.get("choices"),
                                default=argparse.SUPPRESS, help=help, metavar=None if f.metadata.get("choices") else base.__name__.upper())


def build_parser() -> argparse.ArgumentParser:
    from latentlab import __version__, commands
    parser = argparse.ArgumentParser(prog="latentlab", description="Train, evaluate, sample and explore autoencoders, VAEs and GANs.")
    parser.add_argument("--version", action="version", version=f"latentlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        importlib.import_module(f"{commands.__name__}.{info.name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv  # the words as typed, for commands that re-launch themselves (train --nproc)
    try:
        return args.func(args) or 0
    except (TrainingDiverged, DistributedError) as e:
        print(f"latentlab: training stopped: {e}", file=sys.stderr)
        return 1
    except LatentlabError as e:
        print(f"latentlab: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print(f"\nlatentlab: {e or 'interrupted'}", file=sys.stderr)
        return 130
