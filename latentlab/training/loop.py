"""The one training loop. It drives every model through the interface of
``latentlab.models.base.GenerativeModel`` and never branches on the model's type.

Per batch: pick the optimiser group from the model's schedule, freeze every other
parameter, minimise ``terms["loss"]``, check every term is finite; every
``checkpoint_every`` minutes, a mid-epoch checkpoint. Per epoch: validation pass,
one line of metrics.jsonl, checkpoint (and the best checkpoint), the model's
per-epoch pictures (``latentlab.training.callbacks``; the ones drawn from the run's
files, training.gif and dynamics.png, only as often as keeps them a small share of
the loop's time, and whenever the loop ends), early stopping. A time budget
(``minutes``) ends the run at the first step past it, with that epoch's validation and
checkpoint; a learning-rate schedule (``lr_schedule``) sets each step's rate from the
run's progress (steps done, or time spent of the budget, whichever is further). Rank 0 also
writes TensorBoard event files (``latentlab.training.events``): the metrics per epoch,
the training terms every ``log_every`` steps, the sample grid per epoch.
Ctrl-C (or SIGTERM) finishes the current step, saves, and exits; --resume continues
exactly where the checkpoint was written, mid-epoch included (``LoopState`` is what
it needs). A checkpoint is one unit (``run_folder.write_checkpoint``), and the process
training holds the run folder's lock (``run_folder.lock_run``) from start to end.
With ``ema`` > 0 the loop keeps a moving average of the weights (``Average``) beside the model it
trains: validation, the pictures, TensorBoard's samples, model.safetensors and best.safetensors are
the average's (what users sample from); train_state.pt keeps the trained (raw) weights.

Steps, batches and epochs in messages count from 1: "step 25" is the 25th optimiser
step, and a checkpoint "at epoch 2, step 34" holds the first 34 steps.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from latentlab import data as datasets
from latentlab.config import TrainConfig, from_dict, split_settings, train_defaults
from latentlab.errors import ConfigError, DiskFull, LatentlabError, RunFolderError, TrainingDiverged
from latentlab.models import get_model_class
from latentlab.models.base import GenerativeModel
from latentlab.training import callbacks, events
from latentlab.training import distributed as dist
from latentlab.training.run_folder import (BEST, CONFIG, METRICS, PARTS, STATE, WEIGHTS, Checkpoint, check_model_fits_data,
                                           default_run_dir,
                                           find_checkpoint, finish_checkpoint, fit_weights, has_checkpoint, is_disk_full,
                                           last_checkpoint, load_state, lock_run, note, read_metrics, read_run, read_weights,
                                           state_bytes, versions, weights_bytes, write_checkpoint, write_json, write_metrics)

# Settings that may change when resuming (recorded in config.json, "resumed"); everything else must match
# the checkpoint. The learning rate and Adam's betas apply from the resumed step on: the advice after a NaN.
RESUMABLE = ("epochs", "minutes", "patience", "device", "amp", "progress", "checkpoint_every", "log_every", "lr",
             "lr_schedule", "lr_floor", "beta1", "beta2")
_clock = time.monotonic  # what checkpoint_every is measured with (tests replace it)
_budget_clock = time.monotonic  # what the time budget (minutes) and the schedule's time progress are measured with


@dataclass
class Run:
    """A finished (or stopped) training run."""

    dir: Path
    model: GenerativeModel
    config: TrainConfig
    metrics: list[dict]
    status: str  # "finished", "early-stopped", "time-budget"


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
    # like sums, since the last step/ point of TensorBoard (rank 0's); saved beside "loop", as "window"
    window: dict[str, tuple[float, int]] = field(default_factory=dict)
    seconds: float = 0.0  # time spent in the loop so far, over every resumed part: what ``minutes`` is measured against

    def to_dict(self) -> dict:
        """Everything but ``window``, which the checkpoint keeps apart (``save_checkpoint``)."""
        saved = dataclasses.asdict(self)
        del saved["window"]
        return saved

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
            for sums in (self.sums, self.window):
                total, count = sums.get(key, (0.0, 0))
                sums[key] = (total + v * n, count + n)

    def window_means(self) -> dict[str, float]:
        """The image-weighted mean of each term since the last call (the step/ scalars of TensorBoard)."""
        means = {k: total / count for k, (total, count) in self.window.items()}
        self.window = {}
        return means

    def next_epoch(self, val_loss: float) -> bool:
        """Close the epoch that just ended; True when ``val_loss`` is the best so far."""
        improved = val_loss < self.best
        self.epoch, self.batch, self.sums, self.seen = self.epoch + 1, 0, {}, 0
        self.best = val_loss if improved else self.best
        self.bad_epochs = 0 if improved else self.bad_epochs + 1
        return improved


class Average:
    """Exponential moving average of a model's weights (Polyak averaging; for GANs, Yazici et al. 2019,
    "The unusual effectiveness of averaging in GAN training"), in a copy of the model (``model``).

    After optimiser step t (1, 2, ... over the whole run, every group's step counting), every
    floating-point parameter and buffer moves towards the trained model's:  a <- a + w_t (theta - a),
    w_t = (1 - d) / (1 - d^t)  for decay d. That makes ``a`` after step t the average of the weights
    after steps 1..t with weights d^(t-i), normalised to sum 1: Adam's bias correction (Kingma & Ba
    2015, section 3), so the first steps are not pulled towards the initial weights and the average
    needs no warm-up. Buffers are averaged too (as parameters are): a batch norm's running mean is then
    that of the averaged weights, to first order, since a mean is linear in the weights. Integer buffers
    (counters) are copied. What ``fit_end`` sets (a fitted latent Gaussian, VaDE's mixture) is copied
    into the average as it is (``copy_changed``). Under DDP the average is the same on every rank, as
    the parameters are."""

    def __init__(self, model: GenerativeModel, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval()  # never trained: only validated, pictured and saved
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.watch(model)

    def watch(self, model: GenerativeModel) -> None:
        """Pair the average's tensors with those of the trained ``model`` (by name)."""
        mine = self.model.state_dict(keep_vars=True)
        theirs = model.state_dict(keep_vars=True)
        floats = [k for k, v in mine.items() if v.is_floating_point()]
        self.floats = ([mine[k].data for k in floats], [theirs[k].data for k in floats])
        others = [k for k in mine if k not in floats]
        self.others = ([mine[k].data for k in others], [theirs[k].data for k in others])

    @torch.no_grad()
    def update(self, step: int) -> None:
        """After optimiser step ``step`` (counted from 1)."""
        weight = (1.0 - self.decay) / (1.0 - self.decay ** step)
        torch._foreach_lerp_(self.floats[0], self.floats[1], weight)
        for a, b in zip(*self.others):
            a.copy_(b)

    @torch.no_grad()
    def copy_from(self, model: GenerativeModel) -> None:
        """Make the average equal to ``model`` (a fresh run, after ``fit_start``)."""
        self.model.load_state_dict(model.state_dict())

    @torch.no_grad()
    def copy_changed(self, before: dict[str, torch.Tensor], model: GenerativeModel) -> None:
        """Copy every tensor of ``model`` that differs from ``before`` (its state_dict before ``fit_end``)."""
        mine = self.model.state_dict()
        for k, v in model.state_dict().items():
            if not torch.equal(v, before[k]):
                mine[k].copy_(v)


def snapshot(model: GenerativeModel) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@dataclass
class Trainer:
    """What an optimiser step needs: the model, what the step calls (the model itself, or its DDP
    wrapper), the parameter groups and one optimiser per group; ``average``: the moving average of the
    weights (``ema``), or None."""

    model: GenerativeModel
    wrapped: torch.nn.Module
    groups: dict[str, list[torch.nn.Parameter]]
    opts: dict[str, torch.optim.Optimizer]
    amp: bool = False  # bfloat16 autocast
    average: Average | None = None

    @property
    def shown(self) -> GenerativeModel:
        """The model that is validated, pictured and saved: the average when there is one."""
        return self.average.model if self.average is not None else self.model

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


def lr_factor(cfg: TrainConfig, progress: float) -> float:
    """The learning rate's multiplier at ``progress`` in [0, 1] of the run (``cfg.lr_schedule``):
    constant 1; cosine  f + (1 - f) (1 + cos(pi p)) / 2  (Loshchilov & Hutter 2017, SGDR, one cycle);
    linear  1 - (1 - f) p; with f = ``cfg.lr_floor``."""
    p = min(max(progress, 0.0), 1.0)
    if cfg.lr_schedule == "cosine":
        return cfg.lr_floor + (1.0 - cfg.lr_floor) * 0.5 * (1.0 + math.cos(math.pi * p))
    if cfg.lr_schedule == "linear":
        return 1.0 - (1.0 - cfg.lr_floor) * p
    return 1.0


def set_lr(trainer: Trainer, lr: float) -> None:
    for opt in trainer.opts.values():
        for group in opt.param_groups:
            group["lr"] = lr


def train(model: str = "vae", resume: str | Path | None = None, data: datasets.Dataset | None = None, **settings: Any) -> Run:
    """Train ``model`` (a name from ``latentlab list``) with flat keyword settings, e.g.
    ``train("vae", dataset="mnist", epochs=5, latent_dim=2)``. A training setting not given takes the
    model's default (``latentlab.config.train_defaults``). ``resume`` continues a run folder (only the
    settings in ``RESUMABLE`` may change); ``data`` trains on an in-memory ``Dataset`` instead of loading
    ``dataset`` (its name is recorded, and so is the binarization it was loaded with)."""
    cls = get_model_class(model)
    if resume is not None:
        info = read_run(resume)
        if info.model_name != model:
            raise ConfigError(f"{resume} is a '{info.model_name}' run, not '{model}': resume it with `latentlab train {info.model_name} --resume {resume}`")
        fixed = sorted(k for k in settings if k not in RESUMABLE)
        if fixed:
            raise ConfigError(f"cannot change {', '.join(fixed)} when resuming; only {', '.join(RESUMABLE)} may change "
                              f"(to change the others, start a new run with another --out)")
        train_cfg = from_dict(TrainConfig, {**dataclasses.asdict(info.train), **settings})
        if data is not None:
            carried_settings(data, {"binarize": train_cfg.binarize, "threshold": train_cfg.threshold}, resuming=True)
        return fit(cls, train_cfg, info.model_cfg, run_dir=info.dir, resume=True, data=data)
    train_kw, model_kw = split_settings(cls.Config, settings)
    if data is not None:
        train_kw.setdefault("dataset", data.name)
        train_kw.update(carried_settings(data, train_kw))
    train_kw = {**train_defaults(cls), **train_kw}
    return fit(cls, from_dict(TrainConfig, train_kw), from_dict(cls.Config, model_kw, "model setting"), data=data)


def carried_settings(data: datasets.Dataset, given: dict[str, Any], resuming: bool = False) -> dict[str, Any]:
    """The settings ``data`` carries from ``load_dataset`` (``Dataset.binarize``, ``threshold`` for static
    binarization, and ``labels`` when only some training labels are kept): honoured and recorded. A different
    value ``given`` could not take effect and is a ConfigError, with one exception: "dynamic" for data loaded
    with "none" (the loop draws the Bernoulli pixels per batch, from the grey levels). A Dataset without the
    field carries nothing."""
    out: dict[str, Any] = {}
    labelled = getattr(data, "labelled", None)  # load_dataset(..., labels=N): only N training labels kept
    if labelled is not None:
        if given.get("labels") not in (None, len(labelled)):
            raise ConfigError(f"labels={given['labels']} cannot take effect: the data keep the labels of {len(labelled)} training "
                              f"images (load_dataset(..., labels={len(labelled)})); load them with labels={given['labels']}, "
                              f"or leave labels out here")
        out["labels"] = len(labelled)
    carried = getattr(data, "binarize", None)
    if carried is None:
        return out
    asked = given.get("binarize")
    if asked is not None and asked != carried and not (carried == "none" and asked == "dynamic"):
        what = "the run was trained with" if resuming else "the setting given here is"
        raise ConfigError(f"binarize={asked!r} cannot take effect: the data were loaded with load_dataset(..., binarize={carried!r}) "
                          f"and {what} binarize={asked!r}; load the data with binarize={asked!r}"
                          + ("" if resuming else ", or leave binarize out here (the data's is then used and recorded)"))
    out["binarize"] = asked or carried
    threshold = getattr(data, "threshold", None)
    if carried == "static" and threshold is not None:
        if given.get("threshold", threshold) != threshold:
            raise ConfigError(f"threshold={given['threshold']} cannot take effect: the data were thresholded at {threshold} when "
                              f"loaded (binarize='static'); load them with threshold={given['threshold']}, or leave threshold out here")
        out["threshold"] = threshold
    return out


class _StopFlag:
    """Turns Ctrl-C (SIGINT) and SIGTERM into a flag checked between steps, so a step is never cut in half.
    A second signal stops at once: the checkpoint being written, if any, is left incomplete and the last
    complete one is kept."""

    run_dir: Path | None = None  # named in the message of a second signal

    def __init__(self) -> None:
        self.set = False
        self.at_once = False  # a second signal stopped training at once
        self._old: dict[int, Any] = {}

    def __enter__(self) -> "_StopFlag":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.set:  # a second Ctrl-C stops at once
            self.at_once = True
            raise KeyboardInterrupt(self.stopped_at_once())
        self.set = True

    def stopped_at_once(self) -> str:
        if self.run_dir is None:
            return "interrupted again: stopped at once"
        kept = last_checkpoint(self.run_dir)
        if kept is None:
            return (f"interrupted again: stopped at once, before the first checkpoint; "
                    f"--resume {self.run_dir} starts the run over")
        return (f"interrupted again: stopped at once; the last complete checkpoint ({kept}) in {self.run_dir} is kept: "
                f"continue with --resume {self.run_dir}")

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def fit(cls: type[GenerativeModel], cfg: TrainConfig, model_cfg: Any, run_dir: Path | None = None, resume: bool = False,
        data: datasets.Dataset | None = None) -> Run:
    device = resolve_device(cfg.device)
    dist.init(device)  # joins the process group when launched by torchrun
    rank0 = dist.rank() == 0
    torch.manual_seed(cfg.seed)  # the same initial weights on every rank
    if data is None:
        # a resumed tabular run re-applies the standardisation it recorded instead of fitting it again
        standardization = read_run(run_dir).standardization if resume else None
        try:
            data = datasets.load_dataset(cfg.dataset, cfg.data_dir, cfg.val_fraction, cfg.seed, cfg.image_size,
                                         cfg.binarize, cfg.threshold, standardization=standardization, labels=cfg.labels)
        except KeyboardInterrupt:
            raise KeyboardInterrupt("interrupted while loading the data; nothing was written") from None
    else:
        data = datasets.keep_labels(data, cfg.labels, cfg.seed)  # semi-supervised: only cfg.labels training labels kept
    check_model_fits_data(cls, data)
    try:
        model: GenerativeModel = cls(model_cfg, data.shape, data.num_classes).to(device)
    except ValueError as e:  # an architecture that does not fit the data
        raise ConfigError(str(e)) from e
    if device.type == "cuda":  # channels-last convolutions are faster on tensor cores (a no-op for dense layers)
        model = model.to(memory_format=torch.channels_last)
    groups = model.optimizer_groups()
    trainer = Trainer(model, dist.wrap(model, device),  # DDP when launched by torchrun, else the model itself
                      groups, {g: make_optimizer(cfg, ps) for g, ps in groups.items()}, amp=device.type == "cuda" and cfg.amp)
    if cfg.ema > 0 and model.schedule():  # a model fitted in closed form takes no steps to average
        trainer.average = Average(model, cfg.ema)
    run_dir = Path(dist.broadcast(str(run_dir or cfg.out or default_run_dir(cls.name, cfg.dataset))))
    with contextlib.ExitStack() as writing, disk_full(run_dir):
        try:
            state = open_run(writing, run_dir, trainer, cls, cfg, model_cfg, data, resume)
            if state.step == 0 and state.epoch == 0:
                model.fit_start(data.train.x)  # a data-dependent initialisation, the same on every rank
                if trainer.average is not None:
                    trainer.average.copy_from(model)
            if dist.world_size() > 1:  # independent noise per rank, reproducible from (seed, rank, step)
                torch.manual_seed(cfg.seed + 7919 * dist.rank() + 104729 * state.step)
            dist.barrier()
            status = loop(trainer, data, cfg, run_dir, state)
            dist.barrier()
        except RuntimeError as e:
            if not dist.is_distributed():
                raise
            raise dist.DistributedError(
                f"rank {dist.rank()} lost the other processes ({str(e).splitlines()[0] if str(e) else type(e).__name__}): "
                f"one of them died or the network failed. {kept_advice(run_dir)}") from e
        metrics = read_metrics(run_dir)
        if rank0:
            callbacks.at_end(trainer.shown, data, run_dir, metrics)
    return Run(run_dir, trainer.shown.eval(), cfg, metrics, status)


def kept_advice(run_dir: Path, lr: float | None = None) -> str:
    """What is kept in ``run_dir`` and how to go on (``lr``: suggest a tenth of it)."""
    kept = last_checkpoint(run_dir)
    lower = f" --lr {lr / 10:.3g}" if lr else ""
    if kept is None:
        return (f"No checkpoint was written yet: --resume {run_dir}{lower} starts the run over"
                + (" with a lower learning rate" if lr else ""))
    return f"The last complete checkpoint ({kept}) in {run_dir} is kept; continue with --resume {run_dir}{lower}"


@contextlib.contextmanager
def disk_full(run_dir: Path) -> Iterator[None]:
    """A full disk (or quota) while writing the run folder becomes DiskFull (exit code 3), naming the
    checkpoint that is kept."""
    try:
        yield
    except OSError as e:
        if not is_disk_full(e):
            raise
        kept = last_checkpoint(run_dir) if (run_dir / CONFIG).exists() else None
        what = f"the last complete checkpoint ({kept}) is kept in {run_dir}" if kept else \
            f"no checkpoint was complete yet ({run_dir} can be resumed: it starts over)"
        raise DiskFull(f"the disk is full ({e.strerror or 'no space left'}{': ' + str(e.filename) if e.filename else ''}); "
                       f"{what}; free space and continue with --resume {run_dir}") from e


def open_run(writing: contextlib.ExitStack, run_dir: Path, trainer: Trainer, cls: type[GenerativeModel], cfg: TrainConfig,
             model_cfg: Any, data: datasets.Dataset, resume: bool) -> LoopState:
    """Rank 0 takes the run folder's lock (held until ``writing`` closes) and starts the folder, or readies
    it for resuming; then every rank restores the checkpoint. A problem on rank 0 is raised on every rank."""
    problem, checkpoint = None, None
    if dist.rank() == 0:
        try:
            writing.enter_context(lock_run(run_dir))
            if resume:
                checkpoint = ready_to_resume(run_dir, cfg)
            else:
                start_run_dir(run_dir, cls, cfg, model_cfg, data)
        except Exception as e:  # noqa: BLE001 (raised below, on every rank)
            problem = e
    if dist.is_distributed():
        shared = dist.broadcast(problem if problem is None or isinstance(problem, LatentlabError) else
                                RunFolderError(f"rank 0 could not open {run_dir}: {type(problem).__name__}: {problem}"))
        problem = problem or shared
    if problem is not None:
        raise problem
    if not resume:
        return LoopState()
    return restore(run_dir, trainer, cfg, checkpoint if dist.rank() == 0 else find_checkpoint(run_dir, (WEIGHTS, STATE)))


def start_run_dir(run_dir: Path, cls: type[GenerativeModel], cfg: TrainConfig, model_cfg: Any, data: datasets.Dataset) -> None:
    """config.json and an empty metrics.jsonl. A folder with a config.json but no checkpoint (its training
    stopped before the first save) is started over; one with a checkpoint is never overwritten."""
    if (run_dir / CONFIG).exists():
        if has_checkpoint(run_dir):
            raise ConfigError(f"{run_dir} already holds a run: continue it with --resume {run_dir}, or choose another --out")
        note(f"{run_dir} holds a run that stopped before its first checkpoint: starting it over")
        finish_checkpoint(None, run_dir)
    from latentlab.training.run_folder import data_record
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / CONFIG, {
        "model": cls.name,
        "train": dataclasses.asdict(cfg),
        "model_config": dataclasses.asdict(model_cfg),
        "data": data_record(data),  # with a tabular dataset's standardisation, which run_dataset re-applies
        "versions": versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    })
    write_metrics(run_dir, [])


def ready_to_resume(run_dir: Path, cfg: TrainConfig) -> Checkpoint | None:
    """Rank 0, holding the lock: verify the last complete checkpoint against its manifest (a mismatched
    pair is refused), finish a commit that was cut short, drop what an unfinished one left, and record
    the resume (and any setting it changes) in config.json. None: no checkpoint yet, the run starts over."""
    checkpoint = find_checkpoint(run_dir, PARTS, optional=(BEST,))
    if checkpoint is not None and STATE not in checkpoint.files:
        raise RunFolderError(f"{run_dir} has {WEIGHTS} but no {STATE} (the optimiser and RNG states --resume needs): it cannot "
                             f"be continued exactly; start a new run with another --out (the weights still load)")
    for line in finish_checkpoint(checkpoint, run_dir):
        note(line)
    if checkpoint is None:
        note(f"{run_dir} has no checkpoint yet (its training stopped before the first save): starting the run over")
        write_metrics(run_dir, [])
    config = json.loads((run_dir / CONFIG).read_text())
    before = dataclasses.asdict(read_run(run_dir).train)
    after = dataclasses.asdict(cfg)
    changed = {k: {"from": before[k], "to": after[k]} for k in RESUMABLE if before[k] != after[k]}
    config["train"] = {**config["train"], **{k: after[k] for k in changed}}
    config.setdefault("resumed", []).append({
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "from": checkpoint.describe() if checkpoint is not None else "the start (no checkpoint yet)",
        "changed": changed})
    write_json(run_dir / CONFIG, config)
    return checkpoint


def restore(run_dir: Path, trainer: Trainer, cfg: TrainConfig, checkpoint: Checkpoint | None) -> LoopState:
    """Weights, optimiser states, RNG states and the loop's place from the run's last complete checkpoint
    (none: a fresh start). ``cfg``'s learning rate and Adam betas apply from here on."""
    if checkpoint is None:
        return LoopState(world_size=dist.world_size())
    saved = load_state(checkpoint.files[STATE])
    fit_weights(trainer.shown, read_weights(checkpoint.files[WEIGHTS]), checkpoint.files[WEIGHTS])
    if trainer.average is not None:  # model.safetensors holds the average; train_state.pt the trained weights
        if "weights" not in saved:
            raise RunFolderError(f"{checkpoint.files[STATE]} lacks the trained weights that a run with ema keeps beside "
                                 f"the average: it comes from another run; restore it from the original run, or start "
                                 f"over with another --out")
        fit_weights(trainer.model, saved["weights"], checkpoint.files[STATE])
    try:
        for g, opt in trainer.opts.items():
            opt.load_state_dict(saved["optimizers"][g])
        torch.set_rng_state(saved["rng"])
        state = LoopState.from_dict(saved["loop"])
        state.window = dict(saved.get("window", {}))
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise RunFolderError(f"{checkpoint.files[STATE]} does not fit this run ({type(e).__name__}: {e}): it comes from another "
                             f"run or model; restore it from the original run, or start over with another --out") from None
    for opt in trainer.opts.values():  # --lr, --beta1, --beta2 given with --resume take effect (else: the same values)
        for group in opt.param_groups:  # (a schedule sets the step's learning rate before each step)
            group["lr"] = cfg.lr
            if "betas" in group:
                group["betas"] = (cfg.beta1, cfg.beta2)
    if torch.cuda.is_available() and saved.get("cuda_rng") is not None:
        torch.cuda.set_rng_state_all(saved["cuda_rng"])
    if saved.get("sums_of_all_ranks") and dist.rank() != 0:  # the epoch's running sums are rank 0's to carry
        state.sums, state.seen = {}, 0
    if state.batch and state.world_size != dist.world_size():
        # mid-epoch checkpoint from another number of processes: continue after as many images as were seen
        state.batch = round(state.batch * state.world_size / dist.world_size())
    state.world_size = dist.world_size()
    # metrics.jsonl keeps only the epochs the checkpoint has seen
    rows = [r for r in read_metrics(run_dir) if r["epoch"] <= state.epoch]
    if dist.rank() == 0:
        write_metrics(run_dir, rows)
    return state


def checkpoint(run_dir: Path, trainer: Trainer, state: LoopState, best: bool = False) -> None:
    """Every rank calls it at the same step; rank 0 writes. Mid-epoch under DDP, the epoch's running sums
    are first summed over the ranks, so that the resumed epoch's metrics count every image once."""
    loop = {**state.to_dict(), "world_size": dist.world_size()}
    over_ranks = dist.is_distributed() and state.batch > 0
    if over_ranks:
        keys = sorted(state.sums)
        totals = dist.all_reduce_sum([v for k in keys for v in state.sums[k]] + [state.seen])
        loop["sums"] = {k: (totals[2 * i], int(totals[2 * i + 1])) for i, k in enumerate(keys)}
        loop["seen"] = int(totals[-1])
    if dist.rank() == 0:
        save_checkpoint(run_dir, trainer, state, best, loop, over_ranks)


def save_checkpoint(run_dir: Path, trainer: Trainer, state: LoopState, best: bool = False, loop: dict | None = None,
                    sums_of_all_ranks: bool = False) -> None:
    """Write the checkpoint as one unit (``run_folder.write_checkpoint``): weights, optimiser and RNG states, the loop."""
    state.world_size = dist.world_size()
    saved = {
        "optimizers": {g: o.state_dict() for g, o in trainer.opts.items()},
        "rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "loop": loop or state.to_dict(),
        "window": state.window,  # the step/ scalars' running sums: a resumed run logs what an unstopped one would
    }
    if sums_of_all_ranks:
        saved["sums_of_all_ranks"] = True
    if trainer.average is not None:  # the trained weights, which --resume goes on from (the average is model.safetensors)
        saved["weights"] = {k: v.detach().cpu().clone() for k, v in trainer.model.state_dict().items()}
    write_checkpoint(run_dir, weights_bytes(trainer.shown, epoch=state.epoch, batch=state.batch, step=state.step),
                     state_bytes(saved), state.epoch, state.batch, state.step, best=best)


def loop(trainer: Trainer, data: datasets.Dataset, cfg: TrainConfig, run_dir: Path, state: LoopState) -> str:
    """The epochs; returns "finished" or "early-stopped" (raises on Ctrl-C and on a NaN)."""
    rank0 = dist.rank() == 0
    model = trainer.model
    shown = trainer.shown  # validated, pictured and saved: the moving average of the weights when there is one
    average = trainer.average
    device = model.device
    schedule = model.schedule()
    several = len(trainer.groups) > 1  # the logged terms are then named by group
    dynamic = cfg.binarize == "dynamic"
    pictures = callbacks.Pictures(callbacks.for_model(model) if rank0 else [])
    rows = read_metrics(run_dir) if rank0 else []  # metrics.jsonl as the pictures read it, kept up to date below
    every = 60.0 * cfg.checkpoint_every  # seconds between mid-epoch checkpoints (0: none)
    saved_at = _clock()
    log_every = cfg.log_every  # steps between two points of the step/ scalars (0: none)
    budget = 60.0 * cfg.minutes  # seconds of loop time (0: none), counted over resumed parts too (state.seconds)
    n_batches = dist.num_batches(len(data.train), cfg.batch_size)
    total_steps = max(cfg.epochs * n_batches, 1)
    scheduled = cfg.lr_schedule != "constant"
    with _StopFlag() as stop, events.EventLog(run_dir, state.step, enabled=rank0) as board, _drawn_at_end(pictures, stop):
        stop.run_dir = run_dir
        clock = _Clock(state)  # started once the event file is open (importing TensorBoard is setup, not training)
        for epoch in range(state.epoch, cfg.epochs):
            if budget and clock.seconds() >= budget:  # a run resumed with the budget it already spent
                return "time-budget"
            model.train()
            started = time.perf_counter()
            bar = tqdm(total=n_batches, initial=state.batch,
                       desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not (cfg.progress and rank0), leave=False, dynamic_ncols=True)
            batches = datasets.iterate_batches(data.train, cfg.batch_size, shuffle=True, epoch=epoch, seed=cfg.seed,
                                               rank=dist.rank(), world_size=dist.world_size())
            if not schedule:  # a model fitted in closed form by fit_end (gaussian, kde) takes no optimiser steps
                batches = iter(())
            interrupted = spent = False
            for i, (x, y) in enumerate(batches):
                if i < state.batch:
                    continue  # done before the checkpoint this run resumed from
                x, y = to_device(x, y, device)
                if dynamic:
                    x = torch.bernoulli(x)
                group = schedule[state.step % len(schedule)]
                if scheduled:
                    progress = state.step / total_steps
                    if budget:  # the same on every rank: the mean of the ranks' clocks
                        progress = max(progress, dist.all_reduce_sum([clock.seconds()])[0] / dist.world_size() / budget)
                    set_lr(trainer, cfg.lr * lr_factor(cfg, progress))
                terms = trainer.step(group, x, y)
                if dist.any_rank(not all(map(math.isfinite, terms.values()))):
                    check_finite(terms, state, run_dir, cfg.lr)
                    raise TrainingDiverged(f"a loss became NaN or infinite on another rank at step {state.step + 1} "
                                           f"(epoch {state.epoch + 1}, batch {state.batch + 1}); training stopped. "
                                           f"{kept_advice(run_dir, cfg.lr)}, or start over with another --optimizer")
                state.accumulate(terms, group if several else "", len(x))
                state.batch += 1
                state.step += 1
                if average is not None:
                    average.update(state.step)
                if log_every and state.step % log_every == 0:  # the terms since the last point, on this rank's batches
                    board.scalars("step", state.window_means(), state.step)
                if not bar.disable:  # a hidden bar (--no-progress, ranks but 0) needs no terms formatted every step
                    bar.update()
                    bar.set_postfix({k: f"{v:.3g}" for k, v in terms.items()}, refresh=False)
                due = every > 0 and state.batch < n_batches and _clock() - saved_at >= every
                spent = clock.seconds() >= budget > 0
                interrupted, due, spent = dist.any_ranks([stop.set, due, spent])
                if interrupted or spent:
                    break
                if due:  # mid-epoch: at most checkpoint_every minutes of work are ever lost
                    checkpoint(run_dir, trainer, state)
                    saved_at = _clock()
            bar.close()
            if interrupted:
                checkpoint(run_dir, trainer, state)
                saved = Checkpoint(run_dir, state.epoch, state.batch, state.step, {}, True).describe()
                raise KeyboardInterrupt(f"interrupted: checkpoint saved in {run_dir} ({saved}); continue with --resume {run_dir}")
            row = end_epoch(model, data, cfg, state, started, average)
            if spent and state.batch < n_batches:
                row["batches"] = state.batch  # the time budget ended this epoch early
            if scheduled:
                row["lr"] = trainer.opts[next(iter(trainer.opts))].param_groups[0]["lr"]
            improved = state.next_epoch(row.get("val_loss", math.inf))
            if rank0:
                with open(run_dir / METRICS, "a") as f:
                    f.write(json_line(row))
            clock.seconds()  # the validation's time counts too
            checkpoint(run_dir, trainer, state, best=improved)
            saved_at = _clock()
            if rank0:
                rows.append(row)
                pictures.after_epoch(shown, run_dir, state.epoch, rows)
                board.scalars("epoch", row, state.step)
                board.samples(shown, state.step)
                if cfg.progress:
                    print(format_row(row), flush=True)
            if cfg.patience and state.bad_epochs >= cfg.patience:
                if rank0:
                    print(f"early stopping: no better validation loss for {cfg.patience} epochs", flush=True)
                return "early-stopped"
            if budget and clock.seconds() >= budget:
                if rank0 and cfg.progress:
                    print(f"time budget of {cfg.minutes:g} minutes spent after {state.epoch} epochs "
                          f"({state.step} steps)", flush=True)
                return "time-budget"
    return "finished"


@contextlib.contextmanager
def _drawn_at_end(pictures: callbacks.Pictures, stop: _StopFlag) -> Iterator[None]:
    """However the loop ends (finished, stopped early, Ctrl-C, a NaN), the pictures it put off are drawn; unless a
    second Ctrl-C stopped it at once."""
    try:
        yield
    finally:
        if not stop.at_once:
            pictures.close()


class _Clock:
    """Seconds spent in the loop: those of earlier parts of the run (``state.seconds``, saved in every
    checkpoint) plus this part's, kept up to date in ``state.seconds`` whenever it is read."""

    def __init__(self, state: LoopState):
        self.state, self.last = state, _budget_clock()

    def seconds(self) -> float:
        now = _budget_clock()
        self.state.seconds += now - self.last
        self.last = now
        return self.state.seconds


def end_epoch(model: GenerativeModel, data: datasets.Dataset, cfg: TrainConfig, state: LoopState, started: float,
              average: Average | None = None) -> dict:
    """The epoch's metrics row (training terms summed over ranks, validation as rank 0 saw it); fit_end
    (on the trained model; what it sets is copied into the ``average``, which is then validated)."""
    keys = sorted(state.sums)
    totals = dist.all_reduce_sum([v for k in keys for v in state.sums[k]] + [state.seen])
    row = {"epoch": state.epoch + 1, **{f"train_{k}": totals[2 * i] / totals[2 * i + 1] for i, k in enumerate(keys)}}
    model.eval()
    before = snapshot(model) if average is not None else None
    model.fit_end(data.train.x)  # before the validation pass, so that it scores the fitted model (gaussian, kde)
    if average is not None:
        average.copy_changed(before, model)
        model = average.model.eval()
    if len(data.val):
        split = data.val.first(cfg.val_images) if cfg.val_images else data.val  # the same images every epoch
        val = evaluate(model, split, cfg.batch_size, cfg.binarize == "dynamic", cfg.seed)
        row.update({f"val_{k}": v for k, v in dist.broadcast(val).items()})  # one decision for early stopping
    row["seconds"] = round(time.perf_counter() - started, 3)
    row["images_per_s"] = round(totals[-1] / max(row["seconds"], 1e-9), 1)
    return row


def to_device(x: torch.Tensor, y: torch.Tensor | None, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    if device.type == "cpu":
        return x, y
    x = x.pin_memory().to(device, non_blocking=True)
    if x.dim() == 4:  # matches the channels-last weights of the conv layers (see fit)
        x = x.contiguous(memory_format=torch.channels_last)
    return x, (y.to(device, non_blocking=True) if y is not None else None)


def check_finite(terms: dict[str, float], state: LoopState, run_dir: Path, lr: float | None = None) -> None:
    """TrainingDiverged naming the first term that is not finite, where (1-based), and what is kept."""
    for k, v in terms.items():
        if not math.isfinite(v):
            raise TrainingDiverged(
                f"loss term '{k}' became {v} at step {state.step + 1} (epoch {state.epoch + 1}, batch {state.batch + 1}); "
                f"training stopped. {kept_advice(run_dir, lr)}, or start over with another --optimizer")


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
