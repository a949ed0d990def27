"""The one training loop. It drives every model through the interface of
``latentlab.models.base.GenerativeModel`` and never branches on the model's type.

Per batch: pick the optimiser group from the model's schedule, freeze every other
parameter, minimise ``terms["loss"]``, check every term is finite. Per epoch:
validation pass, one line of metrics.jsonl, checkpoint (and the best checkpoint),
early stopping. Ctrl-C finishes the current step, saves, and exits; --resume
continues exactly where the checkpoint was written, mid-epoch included.
"""
from __future__ import annotations

import dataclasses
import math
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from latentlab import data as datasets
from latentlab.training import distributed as dist
from latentlab.viz import plots
from latentlab.config import TrainConfig, from_dict, split_settings
from latentlab.errors import ConfigError, LatentlabError, TrainingDiverged
from latentlab.models import get_model_class
from latentlab.models.base import GenerativeModel
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


def make_optimizer(cfg: TrainConfig, params: list, betas: tuple[float, float]) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":  # fused: one kernel for the whole update (about a quarter faster per step on the CPU)
        return torch.optim.Adam(params, lr=cfg.lr, betas=betas, weight_decay=cfg.weight_decay, fused=True)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def train(model: str = "vae", resume: str | Path | None = None, data: datasets.Dataset | None = None, **settings: Any) -> Run:
    """Train ``model`` (a name from ``latentlab list``) with flat keyword settings, e.g.
    ``train("vae", dataset="mnist", epochs=5, latent_dim=2)``. ``resume`` continues a run folder;
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
    if "lr" not in settings and cls.default_lr is not None:
        settings = {**settings, "lr": cls.default_lr}
    train_kw, model_kw = split_settings(cls.Config, settings)
    if data is not None:
        train_kw.setdefault("dataset", data.name)
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
    wrapped = dist.wrap(model, device)  # DDP when launched by torchrun, else the model itself
    opts = {g: make_optimizer(cfg, ps, model.adam_betas) for g, ps in groups.items()}
    run_dir = Path(dist.broadcast(str(run_dir or cfg.out or default_run_dir(cls.name, cfg.dataset))))
    state = {"epoch": 0, "batch": 0, "step": 0, "best": math.inf, "bad_epochs": 0, "sums": {}, "seen": 0}
    if resume:
        state = restore(run_dir, model, opts)
    elif rank0:
        start_run_dir(run_dir, cls, cfg, model_cfg, data)
    if dist.world_size() > 1:  # independent noise per rank, reproducible from (seed, rank, step)
        torch.manual_seed(cfg.seed + 7919 * dist.rank() + 104729 * state["step"])
    dist.barrier()
    try:
        status = loop(model, wrapped, opts, groups, data, cfg, device, run_dir, state)
    except RuntimeError as e:
        if not dist.is_distributed():
            raise
        raise dist.DistributedError(
            f"rank {dist.rank()} lost the other processes ({str(e).splitlines()[0]}): one of them died or the network failed. "
            f"The last checkpoint in {run_dir} is kept; start the job again with --resume {run_dir}") from e
    dist.barrier()
    metrics = read_metrics(run_dir)
    if rank0:
        plots.make_pictures(model, data, run_dir, metrics)
    return Run(run_dir, model.eval(), cfg, metrics, status)


def loop(model: GenerativeModel, wrapped: torch.nn.Module, opts: dict, groups: dict, data: datasets.Dataset,
         cfg: TrainConfig, device: torch.device, run_dir: Path, state: dict) -> str:
    """The epochs; returns "finished" or "early-stopped" (raises on Ctrl-C and on a NaN)."""
    rank0 = dist.rank() == 0
    schedule = model.schedule()
    amp = device.type == "cuda" and cfg.amp
    dynamic = cfg.binarize == "dynamic"
    with _StopFlag() as stop:
        for epoch in range(state["epoch"], cfg.epochs):
            model.train()
            started = time.perf_counter()
            bar = tqdm(total=dist.num_batches(len(data.train), cfg.batch_size), initial=state["batch"],
                       desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not (cfg.progress and rank0), leave=False, dynamic_ncols=True)
            batches = datasets.iterate_batches(data.train, cfg.batch_size, shuffle=True, epoch=epoch, seed=cfg.seed,
                                               rank=dist.rank(), world_size=dist.world_size())
            interrupted = False
            for i, (x, y) in enumerate(batches):
                if i < state["batch"]:
                    continue  # done before the checkpoint this run resumed from
                x, y = to_device(x, y, device)
                if dynamic:
                    x = torch.bernoulli(x)
                group = schedule[state["step"] % len(schedule)]
                terms = step(wrapped, model, opts, groups, group, x, y, amp)
                if dist.any_rank(not all(map(math.isfinite, terms.values()))):
                    check_finite(terms, state, run_dir)
                    raise TrainingDiverged(f"a loss became NaN or infinite on another rank at step {state['step']}; "
                                           f"the last good checkpoint in {run_dir} is kept")
                accumulate(state, terms, group if len(groups) > 1 else "", len(x))
                state["batch"] += 1
                state["step"] += 1
                bar.update()
                bar.set_postfix({k: f"{v:.3g}" for k, v in terms.items()}, refresh=False)
                if dist.any_rank(stop.set):
                    interrupted = True
                    break
            bar.close()
            if interrupted:
                if rank0:
                    save_checkpoint(run_dir, model, opts, state)
                raise KeyboardInterrupt(f"interrupted: checkpoint saved in {run_dir}; continue with --resume {run_dir}")
            row = end_epoch(model, data, cfg, state, epoch, started)
            improved = row.get("val_loss", math.inf) < state["best"]
            state.update(epoch=epoch + 1, batch=0, sums={}, seen=0,
                         best=row["val_loss"] if improved else state["best"],
                         bad_epochs=0 if improved else state["bad_epochs"] + 1)
            if rank0:
                with open(run_dir / METRICS, "a") as f:
                    f.write(json_line(row))
                save_checkpoint(run_dir, model, opts, state, best=improved)
                model.epoch_end(str(run_dir), epoch + 1)
                if cfg.progress:
                    print(format_row(row), flush=True)
            if cfg.patience and state["bad_epochs"] >= cfg.patience:
                if rank0:
                    print(f"early stopping: no better validation loss for {cfg.patience} epochs", flush=True)
                return "early-stopped"
    return "finished"


def end_epoch(model: GenerativeModel, data: datasets.Dataset, cfg: TrainConfig, state: dict, epoch: int, started: float) -> dict:
    """The epoch's metrics row (training terms summed over ranks, validation as rank 0 saw it); fit_end."""
    keys = sorted(state["sums"])
    totals = dist.all_reduce_sum([v for k in keys for v in state["sums"][k]] + [state["seen"]])
    row = {"epoch": epoch + 1, **{f"train_{k}": totals[2 * i] / totals[2 * i + 1] for i, k in enumerate(keys)}}
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


def restore(run_dir: Path, model: GenerativeModel, opts: dict) -> dict:
    from safetensors.torch import load_file
    if not (run_dir / STATE).is_file():
        raise LatentlabError(f"{run_dir} has no {STATE}: it has no checkpoint to resume from")
    saved = load_state(run_dir / STATE)
    model.load_state_dict(load_file(run_dir / WEIGHTS))
    for g, opt in opts.items():
        opt.load_state_dict(saved["optimizers"][g])
    torch.set_rng_state(saved["rng"])
    if torch.cuda.is_available() and saved.get("cuda_rng") is not None:
        torch.cuda.set_rng_state_all(saved["cuda_rng"])
    loop_state = saved["loop"]
    old_world = loop_state.get("world_size", 1)
    if loop_state["batch"] and old_world != dist.world_size():
        # mid-epoch checkpoint from another number of processes: continue after as many images as were seen
        loop_state["batch"] = round(loop_state["batch"] * old_world / dist.world_size())
    # metrics.jsonl keeps only the epochs the checkpoint has seen
    rows = [r for r in read_metrics(run_dir) if r["epoch"] <= saved["loop"]["epoch"]]
    if dist.rank() == 0:
        (run_dir / METRICS).write_text("".join(json_line(r) for r in rows))
    return loop_state


def save_checkpoint(run_dir: Path, model: GenerativeModel, opts: dict, state: dict, best: bool = False) -> None:
    save_weights(model, run_dir / WEIGHTS)
    if best:
        save_weights(model, run_dir / BEST)
    save_state(run_dir / STATE, {
        "optimizers": {g: o.state_dict() for g, o in opts.items()},
        "rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "loop": {**state, "world_size": dist.world_size()},
    })


def to_device(x: torch.Tensor, y: torch.Tensor | None, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    if device.type == "cpu":
        return x, y
    x = x.pin_memory().to(device, non_blocking=True)
    if x.dim() == 4:  # matches the channels-last weights of the conv layers (see fit)
        x = x.contiguous(memory_format=torch.channels_last)
    return x, (y.to(device, non_blocking=True) if y is not None else None)


def step(wrapped: torch.nn.Module, model: GenerativeModel, opts: dict, groups: dict, group: str,
         x: torch.Tensor, y: torch.Tensor | None, amp: bool) -> dict[str, float]:
    """One optimiser step of ``group`` with every other parameter frozen."""
    if len(groups) > 1:
        for g, ps in groups.items():
            if g != group:
                for p in ps:
                    p.requires_grad_(False)
        for p in groups[group]:
            p.requires_grad_(True)
    opt = opts[group]
    opt.zero_grad(set_to_none=True)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
        terms = wrapped(x, y, group)  # GenerativeModel.forward -> loss terms (DDP needs forward)
    terms["loss"].backward()
    opt.step()
    names = list(terms)
    values = torch.stack([terms[k].detach().float() for k in names]).tolist()
    return dict(zip(names, values))


def check_finite(terms: dict[str, float], state: dict, run_dir: Path) -> None:
    for k, v in terms.items():
        if not math.isfinite(v):
            raise TrainingDiverged(
                f"loss term '{k}' became {v} at step {state['step']} (epoch {state['epoch'] + 1}, batch {state['batch'] + 1}); "
                f"training stopped and the last good checkpoint in {run_dir} is kept. Try a lower --lr, or another --optimizer")


def accumulate(state: dict, terms: dict[str, float], prefix: str, n: int) -> None:
    """Running image-weighted sums of each term; ``prefix`` names the group when there are several."""
    state["seen"] += n
    for k, v in terms.items():
        key = f"{prefix}/{k}" if prefix else k
        total, count = state["sums"].get(key, (0.0, 0))
        state["sums"][key] = (total + v * n, count + n)


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
