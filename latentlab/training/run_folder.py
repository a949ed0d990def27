"""The run folder: everything a trained model leaves behind, and how to reload it.

    config.json          every setting, the data's shape and classes, library versions
    model.safetensors    weights after the last finished epoch (metadata: model name, config)
    best.safetensors     weights of the best validation epoch
    train_state.pt       optimiser states, epoch, RNG states: what --resume needs
    metrics.jsonl        one JSON line per epoch
    *.png, report.html   pictures (see latentlab.viz.plots)

Nothing here is unpickled: weights are safetensors, settings JSON, and the
training state is read with ``torch.load(weights_only=True)``. Every file is
written to a temporary name and renamed, so a crash never leaves half a file.
"""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from latentlab.config import TrainConfig, from_dict, train_defaults
from latentlab.errors import LatentlabError
from latentlab.models import get_model_class
from latentlab.models.base import GenerativeModel, LatentGenerator

CONFIG, WEIGHTS, BEST, STATE, METRICS = "config.json", "model.safetensors", "best.safetensors", "train_state.pt", "metrics.jsonl"


def versions() -> dict[str, str]:
    import numpy, safetensors, sklearn  # noqa: E401  (recorded, not used)
    from latentlab import __version__
    return {"latentlab": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "scikit-learn": sklearn.__version__, "safetensors": safetensors.__version__, "python": platform.python_version()}


def default_run_dir(model: str, dataset: str) -> Path:
    data = Path(dataset).stem if os.sep in dataset or "." in dataset else dataset
    return Path("runs") / f"{model}-{data}-{time.strftime('%Y%m%d-%H%M%S')}"


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path`` (same folder, so the rename is atomic)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(obj, indent=2) + "\n"))


def save_weights(model: GenerativeModel, path: Path) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {"model": model.name, "config": json.dumps(dataclasses.asdict(model.cfg))}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=meta))


def save_state(path: Path, state: dict) -> None:
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


@dataclass
class RunInfo:
    """The parsed config.json of a run folder."""

    dir: Path
    model_name: str
    train: TrainConfig
    model_cfg: Any
    shape: tuple[int, int, int]
    num_classes: int | None
    classes: list[str] | None


def read_run(run_dir: str | Path) -> RunInfo:
    """Parse RUN/config.json. A TrainConfig field the file lacks (it was written before the field existed,
    e.g. beta1/beta2) takes the model's default, the value such a run was trained with."""
    run_dir = Path(run_dir)
    path = run_dir / CONFIG
    if not path.is_file():
        raise LatentlabError(f"{run_dir} is not a latentlab run folder: {CONFIG} is missing (train one with `latentlab train`)")
    try:
        cfg = json.loads(path.read_text())
        cls = get_model_class(cfg["model"])
        train = from_dict(TrainConfig, {**train_defaults(cls), **cfg["train"]})
        return RunInfo(run_dir, cfg["model"], train, from_dict(cls.Config, cfg["model_config"], "model setting"),
                       tuple(cfg["data"]["shape"]), cfg["data"]["num_classes"], cfg["data"]["classes"])
    except (KeyError, TypeError, json.JSONDecodeError) as e:
        raise LatentlabError(f"{path} is damaged ({type(e).__name__}: {e}); retrain, or restore it from the original run") from e


def build_model(info: RunInfo) -> GenerativeModel:
    return get_model_class(info.model_name)(info.model_cfg, info.shape, info.num_classes)


def load(run_dir: str | Path, which: str = "last", device: str = "cpu") -> GenerativeModel:
    """Rebuild a trained model from its run folder (``which``: "last" or "best" epoch)."""
    info = read_run(run_dir)
    path = info.dir / {"last": WEIGHTS, "best": BEST}[which]
    if not path.is_file():
        raise LatentlabError(f"{path} is missing: the run has no {which} checkpoint yet")
    model = build_model(info)
    model.load_state_dict(load_file(path))
    return model.to(device).eval()


def load_decoder(run_dir: str | Path, device: str = "cpu") -> torch.nn.Module:
    """Only the decoder (or generator) of a run, read without loading the encoder's weights."""
    info = read_run(run_dir)
    model = build_model(info)
    part = "generator" if isinstance(model, LatentGenerator) else "decoder"
    with safe_open(str(info.dir / WEIGHTS), framework="pt") as f:
        state = {k[len(part) + 1:]: f.get_tensor(k) for k in f.keys() if k.startswith(part + ".")}
    module = getattr(model, part)
    module.load_state_dict(state)
    return module.to(device).eval()


def read_metrics(run_dir: str | Path) -> list[dict]:
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_dataset(run_dir: str | Path, data_dir: str | None = None):
    """The dataset a run was trained on, split exactly as in training."""
    from latentlab.data import load_dataset
    t = read_run(run_dir).train
    return load_dataset(t.dataset, data_dir or t.data_dir, t.val_fraction, t.seed, t.image_size, t.binarize, t.threshold)
