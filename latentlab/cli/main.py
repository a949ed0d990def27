"""The `latentlab` command: the dispatcher. Each module named in ``COMMANDS`` (a file of
``latentlab/cli``) is one sub-command: it defines ``register(subparsers, help)`` and sets
``func`` on its parser. ``latentlab.cli.options`` turns config dataclasses into options.

Exit codes: 0 done, 1 training diverged or a distributed process was lost,
2 bad input (message, no traceback), 3 the disk is full (the last complete checkpoint is kept),
130 interrupted (a checkpoint was saved).
"""
from __future__ import annotations

import argparse
import importlib
import sys

from latentlab.errors import LatentlabError, TrainingStopped


# The sub-commands (modules of latentlab/cli), in the order `latentlab --help` lists them, with their one-line help.
COMMANDS = {
    "train": "train a model; writes a run folder",
    "sample": "draw new images from a trained model",
    "reconstruct": "reconstruct test images",
    "eval": "evaluate a trained model on the test split",
    "compare": "one table of the sample metrics of several runs; --dynamics: GAN runs' gradient signal",
    "score": "score samples from any program (.npy/.npz, PNGs) against a dataset",
    "explore": "pictures of the latent space: map, grid, interpolation, arithmetic; --serve: in the browser",
    "denoise": "corrupt test images and reconstruct them (denoising autoencoders)",
    "pca": "compare a linear autoencoder with PCA (MSE and principal angles)",
    "anomaly": "one-class anomaly detection: ROC-AUC per normal class; anomaly RUN: score a trained run",
    "cluster": "cluster the latent space of a trained AE/VAE",
    "calo": "simulate, learn, generate, validate and time calorimeter showers",
    "data": "fetch or describe a dataset",
    "list": "list models and datasets",
    "recipes": "list the lecture recipes (latentlab train --recipe NAME runs one)",
    "export": "export a trained decoder / generator (and encoder) as an ONNX file",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with ``command``, only that sub-command is built in full (the others are
    listed by name and help), so `latentlab --help` and each command start without importing them all."""
    from latentlab import __version__
    parser = argparse.ArgumentParser(prog="latentlab", description="Train, evaluate, sample and explore autoencoders, VAEs and GANs.")
    parser.add_argument("--version", action="version", version=f"latentlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help in COMMANDS.items():
        if command is None or name == command:
            importlib.import_module(f"latentlab.cli.{name}").register(sub, help)
        else:
            sub.add_parser(name, help=help)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else "")
    args = parser.parse_args(argv)
    args.argv = argv  # the words as typed, for commands that re-launch themselves (train --nproc)
    try:
        return args.func(args) or 0
    except TrainingStopped as e:  # a NaN, or a lost distributed process
        print(f"latentlab: training stopped: {e}", file=sys.stderr)
        return e.exit_code
    except LatentlabError as e:  # 2, or 3 for DiskFull (the disk is full)
        print(f"latentlab: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt as e:
        print(f"\nlatentlab: {str(e) or 'interrupted'}", file=sys.stderr)
        return 130
