"""The `latentlab` command: the dispatcher. Each module named in ``COMMANDS`` (a file of
``latentlab/cli``) is one sub-command: it defines ``register(subparsers)`` and sets ``func``
on its parser. ``latentlab.cli.options`` turns config dataclasses into options.

Exit codes: 0 done, 1 training diverged or a distributed process was lost,
2 bad input (message, no traceback), 130 interrupted (a checkpoint was saved).
"""
from __future__ import annotations

import argparse
import importlib
import sys

from latentlab.errors import LatentlabError, TrainingStopped


# The sub-commands, in the order `latentlab --help` lists them.
COMMANDS = ("train", "sample", "reconstruct", "eval", "compare", "explore", "denoise", "pca", "anomaly",
            "cluster", "calo", "data", "list")


def build_parser() -> argparse.ArgumentParser:
    from latentlab import __version__
    parser = argparse.ArgumentParser(prog="latentlab", description="Train, evaluate, sample and explore autoencoders, VAEs and GANs.")
    parser.add_argument("--version", action="version", version=f"latentlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"latentlab.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv  # the words as typed, for commands that re-launch themselves (train --nproc)
    try:
        return args.func(args) or 0
    except TrainingStopped as e:  # a NaN, or a lost distributed process
        print(f"latentlab: training stopped: {e}", file=sys.stderr)
        return 1
    except LatentlabError as e:
        print(f"latentlab: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print(f"\nlatentlab: {e or 'interrupted'}", file=sys.stderr)
        return 130
