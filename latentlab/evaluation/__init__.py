"""Evaluations that `latentlab eval RUN` can run. Each module in this package
defines ``add_arguments(parser)`` and ``evaluate(args, ctx) -> dict | None``
(None when its options were not asked for); their results are merged into
RUN/eval.json and printed."""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType

from latentlab.run import RunInfo, load, read_run, run_dataset


@dataclass
class Context:
    """What an evaluation may need about a run; the model and data load on first use."""

    run_dir: Path
    which: str = "last"
    data_dir: str | None = None
    device: str = "cpu"
    cache: dict = field(default_factory=dict)

    @cached_property
    def info(self) -> RunInfo:
        return read_run(self.run_dir)

    @cached_property
    def model(self):
        return load(self.run_dir, self.which, self.device)

    @cached_property
    def data(self):
        return run_dataset(self.run_dir, self.data_dir)


def plugins() -> list[ModuleType]:
    return [importlib.import_module(f"{__name__}.{i.name}") for i in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name)]
