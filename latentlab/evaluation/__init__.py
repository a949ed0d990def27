"""Evaluation: everything that turns a trained model into numbers.

    classifier.py  the evaluation classifier (features and labels for the sample metrics)
    metrics/       Frechet distance, precision/recall/density/coverage, mode coverage
    likelihood.py  importance-sampled test log-likelihood (and `eval --nll`)
    samples.py     sample quality of a model (`eval --samples`)
    loss.py        test-set loss terms (always computed by `eval`)

``latentlab eval RUN`` runs the plugins in ``PLUGINS``: each defines ``add_arguments(parser)``
and ``evaluate(args, ctx) -> dict | None`` (None when its options were not asked for).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType

from latentlab.training.run_folder import RunInfo, load, read_run, run_dataset


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


PLUGINS = ("loss", "likelihood", "samples")  # modules of this package, run in this order


def plugins() -> list[ModuleType]:
    return [importlib.import_module(f"{__name__}.{name}") for name in PLUGINS]
