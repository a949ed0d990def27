"""latentlab list: the models and datasets latentlab knows."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction, help: str) -> None:
    p = sub.add_parser("list", help=help, description="List the models and named datasets.")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentlab.cli.train import model_summary
    from latentlab.data import DATASETS
    from latentlab.models import MODELS
    print("models:")
    for name, cls in sorted(MODELS.items()):
        print(f"  {name:<10} {model_summary(cls)}")
    print("datasets:")
    for name in DATASETS:
        print(f"  {name}")
    print("  PATH       a .npy/.npz array file (images, or an (N, D) table of features: ae/vae with --arch mlp)")
    print("             or a folder of PNG/JPEG images")
    return 0
