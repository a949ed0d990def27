"""Command-line options generated from the flat config dataclasses (one ``--option`` per field)."""
from __future__ import annotations

import argparse
import dataclasses

from latentlab.config import field_type


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
