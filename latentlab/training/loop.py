"""The one training loop. It drives every model through the interface of
``latentlab.models.base.GenerativeModel`` and never branches on the model's type.

Per batch: pick the optimiser group from the model's schedule, freeze every other
parameter, minimise ``terms["loss"]``, check every term is finite. Per epoch:
validation pass, one line of metrics.jsonl, checkpoint (and the best checkpoint),
the model's per-epoch pictures (``latentlab.training.callbacks``), early stopping.
Ctrl-C finishes the current step, saves, and exits; --resume continues exactly
where the checkpoint was written, mid-epoch included (``LoopState`` is what it needs).
"""
from __future__ import annotations

import dataclasses
import math
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from latentlab import data as datasets
from latentlab.config import TrainConfig, from_dict, split_settings, train_defaults
from latentlab.errors import ConfigError, LatentlabError, TrainingDiverged
from latentlab.models import get_model_class
from latentlab.models.base import GenerativeModel
from latentlab.training import callbacks
from latentlab.training import distributed as dist
from latentlab.training.run_folder import (BEST, CONFIG, METRICS, STATE, WEIGHTS, default_run_dir, load_state, read_metrics,
                                           read_run, save_state, save_weights, versions, write_json)

# Settings that may change when resuming; everything else must match the checkpoint.
RESUMABLE = ("epochs", "patience", "device", "amp", "progress")


@dataclass
class Run:
    """A finished (or stopped) training run."""

    dir: Path
    model: GenerativeModel
    config: TrainConfig
    metrics: list[dict]
    status: str  # "finished", "early-stopped"


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA GPU is visible to PyTorch; use --device cpu or auto")
    if name == "cuda" and dist.is_distributed():
        return torch.device("cuda", dist.local_rank())
    return torch.device(name)


@dataclass
class LoopState:
    """Where training stands: train_state.pt keeps it (as a plain dict, ``"loop"``) so that --resume
    continues at the very batch it stopped at."""

    epoch: int = 0  # epochs finished
    batch: int = 0  # batches of the current epoch done (on this rank)
    step: int = 0  # optimiser steps over the whole run: picks the group from the model's schedule
    best: float = math.inf  # best validation loss so far
    bad_epochs: int = 0  # epochs in a row without a better validation loss (early stopping)
    sums: dict[str, tuple[float, int]] = field(default_factory=dict)  # term -> (image-weighted sum, images), this epoch
    seen: int = 0  # images of the current epoch (on this rank)
    world_size: int = 1  # processes when it was saved: a mid-epoch ``batch`` is rescaled when that changes

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, saved: dict) -> "LoopState":
        """Read the saved dict (any version: keys it lacks keep their defaults)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in saved.items() if k in names})

    def accumulate(self, terms: dict[str, float], prefix: str, n: int) -> None:
        """Running image-weighted sums of each term; ``prefix`` names the group when there are several."""
        self.seen += n
        for k, v in terms.items():
            key = f"{prefix}/{k}" if prefix else k
            total, count = self.sums.get(key, (0.0, 0))
            self.sums[key] = (total + v * n, count + n)

    def next_epoch(self, val_loss: float) -> bool:
        """Close the epoch that just ended; True when ``val_loss`` is the best so far."""
        improved = val_loss < self.best
        self.epoch, self.batch, self.sums, self.seen = self.epoch + 1, 0, {}, 0
        self.best = val_loss if improved else self.best
        self.bad_epochs = 0 if improved else self.bad_epochs + 1
        return improved


@dataclass
class Trainer:
    """What an optimiser step needs: the model, what the step calls (the model itself, or its DDP
    wrapper), the parameter groups and one optimiser per group."""

    model: GenerativeModel
    wrapped: torch.nn.Module
    groups: dict[str, list[torch.nn.Parameter]]
    opts: dict[str, torch.optim.Optimizer]
    amp: bool = False  # bfloat16 autocast

    def step(self, group: str, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, float]:
        """One optimiser step of ``group`` with every other parameter frozen; the loss terms as floats."""
        if len(self.groups) > 1:
            for g, ps in self.groups.items():
                if g != group:
                    for p in ps:
                        p.requires_grad_(False)
            for p in self.groups[group]:
                p.requires_grad_(True)
        opt = self.opts[group]
        opt.zero_grad(set_to_none=True)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.amp):
            terms = self.wrapped(x, y, group)  # GenerativeModel.forward -> loss terms (DDP needs forward)
        terms["loss"].backward()
        opt.step()
        names = list(terms)
        values = torch.stack([terms[k].detach().float() for k in names]).tolist()
        return dict(zip(names, values))


def make_optimizer(cfg: TrainConfig, params: list) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":  # fused: one kernel for the whole update (about a quarter faster per step on the CPU)
        return torch.optim.Adam(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay, fused=True)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def train(model: str = "vae", resume: str | Path | None = None, data: datasets.Dataset | None = None, **settings: Any) -> Run:
    """Train ``model`` (a name from ``latentlab list``) with flat keyword settings, e.g.
    ``train("vae", dataset="mnist", epochs=5, latent_dim=2)``. A training setting not given takes the
    model's default (``latentlab.config.train_defaults``). ``resume`` continues a run folder;
    ``data`` trains on an in-memory ``Dataset`` instead of loading ``dataset`` (its name is recorded)."""
    cls = get_model_class(model)
    if resume is not None:
        info = read_run(resume)
        if info.model_name != model:
            raise ConfigError(f"{resume} is a '{info.model_name}' run, not '{model}': resume it with `latentlab train {info.model_name} --resume {resume}`")
        fixed = sorted(k for k in settings if k not in RESUMABLE)
        if fixed:
            raise ConfigError(f"cannot change {', '.join(fixed)} when resuming; only {', '.join(RESUMABLE)} may change")
        train_cfg = dataclasses.replace(info.train, **settings)
        train_cfg.validate()
        return fit(cls, train_cfg, info.model_cfg, run_dir=info.dir, resume=True, data=data)
    train_kw, model_kw = split_settings(cls.Config, settings)
    if data is not None:
        train_kw.setdefault("dataset", data.name)
    train_kw = {**train_defaults(cls), **train_kw}
    return fit(cls, from_dict(TrainConfig, train_kw), from_dict(cls.Config, model_kw, "model setting"), data=data)


class _StopFlag:
    """Turns Ctrl-C into a flag checked between steps, so a step is never cut in half."""

    def __init__(self) -> None:
        self.set = False
        self._old = None

    def __enter__(self) -> "_StopFlag":
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.set:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.set = True

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def fit(cls: type[GenerativeModel], cfg: TrainConfig, model_cfg: Any, run_dir: Path | None = None, resume: bool = False,
        data: datasets.Dataset | None = None) -> Run:
    device = resolve_device(cfg.device)
    dist.init(device)  # joins the process group when launched by torchrun
    rank0 = dist.rank() == 0
    torch.manual_seed(cfg.seed)  # the same initial weights on every rank
    if data is None:
        data = datasets.load_dataset(cfg.dataset, cfg.data_dir, cfg.val_fraction, cfg.seed, cfg.image_size,
                                     cfg.binarize, cfg.threshold)
    try:
        model: GenerativeModel = cls(model_cfg, data.shape, data.num_classes).to(device)
    except ValueError as e:  # an architecture that does not fit the data
        raise ConfigError(str(e)) from e
    if device.type == "cuda":  # channels-last convolutions are faster on tensor cores (a no-op for dense layers)
        model = model.to(memory_format=torch.channels_last)
    groups = model.optimizer_groups()
    trainer = Trainer(model, dist.wrap(model, device),  # DDP when launched by torchrun, else the model itself
                      groups, {g: make_optimizer(cfg, ps) for g, ps in groups.items()}, amp=device.type == "cuda" and cfg.amp)
    run_dir = Path(dist.broadcast(str(run_dir or cfg.out or default_run_dir(cls.name, cfg.dataset))))
    state = LoopState()
    if resume:
        state = restore(run_dir, trainer)
    elif rank0:
        start_run_dir(run_dir, cls, cfg, model_cfg, data)
    if dist.world_size() > 1:  # independent noise per rank, reproducible from (seed, rank, step)
        torch.manual_seed(cfg.seed + 7919 * dist.rank() + 104729 * state.step)
    dist.barrier()
    try:
        status = loop(trainer, data, cfg, run_dir, state)
    except RuntimeError as e:
        if not dist.is_distributed():
            raise
        raise dist.DistributedError(
            f"rank {dist.rank()} lost the other processes ({str(e).splitlines()[0]}): one of them died or the network failed. "
            f"The last checkpoint in {run_dir} is kept; start the job again with --resume {run_dir}") from e
    dist.barrier()
    metrics = read_metrics(run_dir)
    if rank0:
        callbacks.at_end(model, data, run_dir, metrics)
    return Run(run_dir, model.eval(), cfg, metrics, status)


def loop(trainer: Trainer, data: datasets.Dataset, cfg: TrainConfig, run_dir: Path, state: LoopState) -> str:
    """The epochs; returns "finished" or "early-stopped" (raises on Ctrl-C and on a NaN)."""
    rank0 = dist.rank() == 0
    model = trainer.model
    device = model.device
    schedule = model.schedule()
    several = len(trainer.groups) > 1  # the logged terms are then named by group
    dynamic = cfg.binarize == "dynamic"
    after_epoch = callbacks.for_model(model) if rank0 else []
    with _StopFlag() as stop:
        for epoch in range(state.epoch, cfg.epochs):
            model.train()
            started = time.perf_counter()
            bar = tqdm(total=dist.num_batches(len(data.train), cfg.batch_size), initial=state.batch,
                       desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not (cfg.progress and rank0), leave=False, dynamic_ncols=True)
            batches = datasets.iterate_batches(data.train, cfg.batch_size, shuffle=True, epoch=epoch, seed=cfg.seed,
                                               rank=dist.rank(), world_size=dist.world_size())
            interrupted = False
            for i, (x, y) in enumerate(batches):
                if i < state.batch:
                    continue  # done before the checkpoint this run resumed from
                x, y = to_device(x, y, device)
                if dynamic:
                    x = torch.bernoulli(x)
                group = schedule[state.step % len(schedule)]
                terms = trainer.step(group, x, y)
                if dist.any_rank(not all(map(math.isfinite, terms.values()))):
                    check_finite(terms, state, run_dir)
                    raise TrainingDiverged(f"a loss became NaN or infinite on another rank at step {state.step}; "
                                           f"the last good checkpoint in {run_dir} is kept")
                state.accumulate(terms, group if several else "", len(x))
                state.batch += 1
                state.step += 1
                bar.update()
                bar.set_postfix({k: f"{v:.3g}" for k, v in terms.items()}, refresh=False)
                if dist.any_rank(stop.set):
                    interrupted = True
                    break
            bar.close()
            if interrupted:
                if rank0:
                    save_checkpoint(run_dir, trainer, state)
                raise KeyboardInterrupt(f"interrupted: checkpoint saved in {run_dir}; continue with --resume {run_dir}")
            row = end_epoch(model, data, cfg, state, started)
            improved = state.next_epoch(row.get("val_loss", math.inf))
            if rank0:
                with open(run_dir / METRICS, "a") as f:
                    f.write(json_line(row))
                save_checkpoint(run_dir, trainer, state, best=improved)
                callbacks.run(after_epoch, model, run_dir, state.epoch, read_metrics(run_dir))
                if cfg.progress:
                    print(format_row(row), flush=True)
            if cfg.patience and state.bad_epochs >= cfg.patience:
                if rank0:
                    print(f"early stopping: no better validation loss for {cfg.patience} epochs", flush=True)
                return "early-stopped"
    return "finished"


def end_epoch(model: GenerativeModel, data: datasets.Dataset, cfg: TrainConfig, state: LoopState, started: float) -> dict:
    """The epoch's metrics row (training terms summed over ranks, validation as rank 0 saw it); fit_end."""
    keys = sorted(state.sums)
    totals = dist.all_reduce_sum([v for k in keys for v in state.sums[k]] + [state.seen])
    row = {"epoch": state.epoch + 1, **{f"train_{k}": totals[2 * i] / totals[2 * i + 1] for i, k in enumerate(keys)}}
    model.eval()
    if len(data.val):
        val = evaluate(model, data.val, cfg.batch_size, cfg.binarize == "dynamic", cfg.seed)
        row.update({f"val_{k}": v for k, v in dist.broadcast(val).items()})  # one decision for early stopping
    row["seconds"] = round(time.perf_counter() - started, 3)
    row["images_per_s"] = round(totals[-1] / max(row["seconds"], 1e-9), 1)
    model.fit_end(data.train.x)
    return row


def start_run_dir(run_dir: Path, cls: type[GenerativeModel], cfg: TrainConfig, model_cfg: Any, data: datasets.Dataset) -> None:
    if (run_dir / CONFIG).exists():
        raise ConfigError(f"{run_dir} already holds a run: continue it with --resume {run_dir}, or choose another --out")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / CONFIG, {
        "model": cls.name,
        "train": dataclasses.asdict(cfg),
        "model_config": dataclasses.asdict(model_cfg),
        "data": {"name": data.name, "shape": list(data.shape), "num_classes": data.num_classes, "classes": data.classes,
                 "sizes": {"train": len(data.train), "val": len(data.val), "test": len(data.test)}},
        "versions": versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    })
    (run_dir / METRICS).write_text("")


def restore(run_dir: Path, trainer: Trainer) -> LoopState:
    """Weights, optimiser states, RNG states and the loop's place from the run's last checkpoint."""
    from safetensors.torch import load_file
    if not (run_dir / STATE).is_file():
        raise LatentlabError(f"{run_dir} has no {STATE}: it has no checkpoint to resume from")
    saved = load_state(run_dir / STATE)
    trainer.model.load_state_dict(load_file(run_dir / WEIGHTS))
    for g, opt in trainer.opts.items():
        opt.load_state_dict(saved["optimizers"][g])
    torch.set_rng_state(saved["rng"])
    if torch.cuda.is_available() and saved.get("cuda_rng") is not None:
        torch.cuda.set_rng_state_all(saved["cuda_rng"])
    state = LoopState.from_dict(saved["loop"])
    if state.batch and state.world_size != dist.world_size():
        # mid-epoch checkpoint from another number of processes: continue after as many images as were seen
        state.batch = round(state.batch * state.world_size / dist.world_size())
    state.world_size = dist.world_size()
    # metrics.jsonl keeps only the epochs the checkpoint has seen
    rows = [r for r in read_metrics(run_dir) if r["epoch"] <= state.epoch]
    if dist.rank() == 0:
        (run_dir / METRICS).write_text("".join(json_line(r) for r in rows))
    return state


def save_checkpoint(run_dir: Path, trainer: Trainer, state: LoopState, best: bool = False) -> None:
    save_weights(trainer.model, run_dir / WEIGHTS)
    if best:
        save_weights(trainer.model, run_dir / BEST)
    state.world_size = dist.world_size()
    save_state(run_dir / STATE, {
        "optimizers": {g: o.state_dict() for g, o in trainer.opts.items()},
        "rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "loop": state.to_dict(),
    })


def to_device(x: torch.Tensor, y: torch.Tensor | None, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    if device.type == "cpu":
        return x, y
    x = x.pin_memory().to(device, non_blocking=True)
    if x.dim() == 4:  # matches the channels-last weights of the conv layers (see fit)
        x = x.contiguous(memory_format=torch.channels_last)
    return x, (y.to(device, non_blocking=True) if y is not None else None)


def check_finite(terms: dict[str, float], state: LoopState, run_dir: Path) -> None:
    for k, v in terms.items():
        if not math.isfinite(v):
            raise TrainingDiverged(
                f"loss term '{k}' became {v} at step {state.step} (epoch {state.epoch + 1}, batch {state.batch + 1}); "
                f"training stopped and the last good checkpoint in {run_dir} is kept. Try a lower --lr, or another --optimizer")


@torch.no_grad()
def evaluate(model: GenerativeModel, split: datasets.Split, batch_size: int, dynamic: bool, seed: int) -> dict[str, float]:
    """Average of model.evaluate over a split: repeatable (its own seeded RNG for binarization and any
    noise the model draws) and invisible to training's RNG (forked and restored)."""
    device = model.device
    gen = torch.Generator().manual_seed(seed + 12345)
    sums: dict[str, float] = {}
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed + 12345)
        for x, y in datasets.iterate_batches(split, batch_size, shuffle=False):
            if dynamic:
                x = torch.bernoulli(x, generator=gen)
            x, y = to_device(x, y, device)
            terms = model.evaluate(x, y)
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v) * len(x)
    return {k: v / len(split) for k, v in sums.items()}


def json_line(row: dict) -> str:
    import json
    return json.dumps(row) + "\n"


def format_row(row: dict) -> str:
    keys = [k for k in row if k.endswith("loss")] or [k for k in row if k.startswith(("train_", "val_"))][:4]
    return f"epoch {row['epoch']}: " + "  ".join(f"{k} {row[k]:.4g}" for k in keys) + f"  ({row['seconds']:.1f}s)"
