"""Evaluation: everything that turns a trained model into numbers.

    classifier.py  the evaluation classifier (features, labels, confidences); shipped weights in weights/
    metrics/       Frechet distance, precision/recall/density/coverage, mode coverage
    likelihood.py  importance-sampled (or exact) test log-likelihood (and `eval --nll`)
    parzen.py      Gaussian Parzen-window log-likelihood of samples (`eval --parzen`, Goodfellow et al. 2014)
    samples.py     sample quality of a model (`eval --samples`) or of any images (`score`, ``score_images``)
    loss.py        test-set loss terms (always computed by `eval`)

``latentlab eval RUN`` runs the plugins in ``PLUGINS``: each defines ``add_arguments(parser)``
and ``evaluate(args, ctx) -> dict | None`` (None when its options were not asked for).
A plugin's result is one group of keys (those starting with its prefixes in ``PLUGINS``, a key
going to the plugin with the longest matching prefix): ``merge`` lets a fresh group replace
the whole saved group in RUN/eval.json, so no key of an earlier, different request lingers.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType


@dataclass
class Context:
    """What an evaluation may need about a run; the model and data load on first use."""

    run_dir: Path
    which: str = "last"
    data_dir: str | None = None
    device: str = "cpu"
    cache: dict = field(default_factory=dict)

    @cached_property
    def info(self):
        """The run's RunInfo (config.json)."""
        from latentlab.training.run_folder import read_run
        return read_run(self.run_dir)

    @cached_property
    def model(self):
        from latentlab.training.run_folder import load
        return load(self.run_dir, self.which, self.device)

    @cached_property
    def data(self):
        from latentlab.training.run_folder import run_dataset
        return run_dataset(self.run_dir, self.data_dir)


# Modules of this package, run in this order, with the prefixes of the result keys each writes.
PLUGINS = {
    "loss": ("test_",),  # test_loss, test_rec, ...
    "likelihood": ("test_nll",),  # test_nll, test_nll_stderr, ...
    "parzen": ("test_parzen",),  # test_parzen, test_parzen_stderr, test_parzen_train_images, ...
    "samples": ("samples_", "evaluator"),  # samples_fd, ..., the evaluator's hash and source (shipped/local)
}


def plugins() -> list[ModuleType]:
    return [importlib.import_module(f"{__name__}.{name}") for name in PLUGINS]


def owner(key: str) -> str | None:
    """The plugin whose result group holds ``key``: the one with the longest matching prefix (None: no plugin)."""
    matches = [(len(prefix), name) for name, prefixes in PLUGINS.items() for prefix in prefixes if key.startswith(prefix)]
    return max(matches)[1] if matches else None


def merge(previous: dict, results: dict[str, dict]) -> dict:
    """``previous`` (the saved eval.json) updated by ``results`` (plugin name -> its fresh result).

    Each plugin in ``results`` rewrites its whole group: every saved key of that group goes first,
    so e.g. ``eval --samples N --label 7`` after ``eval --samples N`` leaves no unlabelled
    samples_* key behind. The groups of plugins that did not run are kept as saved."""
    kept = {k: v for k, v in previous.items() if owner(k) not in results}
    for result in results.values():
        kept.update(result)
    return kept
