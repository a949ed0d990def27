"""latentlab data fetch|info NAME: download (verified) or describe a named dataset."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction, help: str) -> None:
    p = sub.add_parser("data", help=help, description="Download (verified by sha256) or describe a dataset.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    fetch = actions.add_parser("fetch", help="download a named dataset into the cache (or --data-dir)")
    fetch.add_argument("name", help="mnist or fashion-mnist")
    fetch.add_argument("--data-dir", default=None, help="folder to download into (default ~/.cache/latentlab/NAME)")
    fetch.set_defaults(func=run_fetch)
    info = actions.add_parser("info", help="where a dataset is found, its files, sizes and checksums")
    info.add_argument("name", help="a named dataset, or a path to a .npy/.npz file or an image folder (its splits, shape "
                                    "and classes as training sees them)")
    info.add_argument("--data-dir", default=None, help="folder holding the dataset's files")
    info.set_defaults(func=run_info)


def run_fetch(args: argparse.Namespace) -> int:
    from latentlab.data.download import fetch
    print(fetch(args.name, args.data_dir))
    return 0


def run_info(args: argparse.Namespace) -> int:
    import json
    from latentlab.data.info import info
    print(json.dumps(info(args.name, args.data_dir), indent=2, default=str))
    return 0
