"""latentlab: train, evaluate, sample and explore autoencoders, VAEs and GANs.

    import latentlab
    run = latentlab.train("vae", dataset="digits", epochs=5)
    model = latentlab.load(run.dir)
    images = model.sample(16)            # (16, 1, 8, 8) in [0, 1]

The package, layer by layer (each folder imports only from the ones listed before it):

    config.py, errors.py   settings dataclasses and the errors a user fixes
    files.py               atomic file writes and notes to the user (used by every layer)
    data/                  datasets, batches, preprocessing, corruption noise
    nn/                    building blocks: networks, lecture presets, likelihoods and divergences
    models/                one file per model family, maths only, and the registry
    training/              the loop, the run folder and its checkpoints, distributed training, callbacks
    viz/                   pictures, animations and the HTML report
    evaluation/            evaluation classifier, sample metrics, likelihood, test-set losses
    analysis/              anomaly detection, clustering, latent exploration, linear AE vs PCA
    calo/                  calorimeter showers: formats, simulator, shower models, validation
    cli/                   the `latentlab` command, one module per sub-command

Importing ``latentlab`` loads none of this until it is used (``latentlab.train`` imports the loop).
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.1.0"

# Public API name -> the module that defines it (imported on first use).
_API = {
    "train": "latentlab.training.loop", "Run": "latentlab.training.loop",
    "load": "latentlab.training.run_folder", "load_decoder": "latentlab.training.run_folder",
    "read_run": "latentlab.training.run_folder", "read_metrics": "latentlab.training.run_folder",
    "load_dataset": "latentlab.data", "MODELS": "latentlab.models",
    "LatentlabError": "latentlab.errors", "DataError": "latentlab.errors", "ConfigError": "latentlab.errors",
    "TrainingDiverged": "latentlab.errors", "DiskFull": "latentlab.errors", "RunFolderError": "latentlab.errors",
    "AutoEncoderOD": "latentlab.analysis.estimators", "VAEOD": "latentlab.analysis.estimators",
}
__all__ = [*_API, "__version__"]


def __getattr__(name: str):
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'latentlab' has no attribute {name!r}")


# Import paths of version 0.1 that moved in the re-layout: `from latentlab.anomaly import Detector`
# keeps working and gives the module at its new place.
MOVED = {
    "latentlab.anomaly": "latentlab.analysis.anomaly",
    "latentlab.cluster": "latentlab.analysis.cluster",
    "latentlab.explore": "latentlab.analysis.explore",
    "latentlab.linear": "latentlab.analysis.linear",
    "latentlab.likelihood": "latentlab.evaluation.likelihood",
    "latentlab.evaluator": "latentlab.evaluation.classifier",
    "latentlab.metrics": "latentlab.evaluation.metrics",
    "latentlab.noise": "latentlab.data.noise",
    "latentlab.run": "latentlab.training.run_folder",
    "latentlab.distributed": "latentlab.training.distributed",
    "latentlab.plots": "latentlab.viz.plots",
    "latentlab.gif": "latentlab.viz.gif",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves an old import path to the module at its new place (the same module object)."""

    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name in MOVED else None

    def create_module(self, spec):
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module) -> None:
        pass


if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
    sys.meta_path.append(_MovedModules())
