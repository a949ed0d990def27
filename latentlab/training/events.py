"""TensorBoard event files beside every run, in RUN/tensorboard/ (``tensorboard --logdir runs``).

Everything is on one axis, the optimiser step (step k: after the k-th step, as in the loop's messages):

    epoch/<key>   every value of the epoch's metrics.jsonl row (epoch, train_*, val_*, seconds,
                  images_per_s), at the step that ended the epoch
    step/<key>    every ``log_every`` steps (a TrainConfig setting, 50 by default): each training term, averaged over the images of those steps
                  (``<group>/<term>`` for a model with several optimiser groups), on rank 0's batches; the
                  running sums are part of the checkpoint (``LoopState.window``), so a resumed run logs
                  the same values as one that never stopped
    samples       after every epoch: a LatentGenerator's (GAN's) images of its fixed code batch, or a few
                  samples of any other Sampler drawn from a generator seeded 0 (the same draws every epoch;
                  a conditional sampler: two per class, one column per class)

Only rank 0 writes, with the real writer (``torch.utils.tensorboard.SummaryWriter``). A run that
(re)starts at step s opens a new event file with ``purge_step = s + 1``: TensorBoard then hides what an
earlier process logged after the checkpoint it resumes from (a crash after a checkpoint), so no step
shows twice. TensorBoard is an optional extra (``pip install 'latentlab[tensorboard]'``): without it,
training goes on without event files and says so once per process.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import torch

from latentlab.models.base import ConditionalSampler, GenerativeModel, LatentGenerator, Sampler

DIR = "tensorboard"  # RUN/tensorboard/
SAMPLES = 16  # images in the epoch's sample grid of a (non-GAN) Sampler, 4 x 4
PER_CLASS = 2  # rows of a conditional sampler's grid (one column per class)
MIN_PIXELS = 256  # the grid is upscaled (nearest) to at least this size, so that 8x8 digits stay visible
MISSING = ("TensorBoard is not installed, so runs write no TensorBoard event files; "
           "pip install 'latentlab[tensorboard]' (or tensorboard) to get them")
_told = False  # the notice above is printed once per process


def summary_writer() -> type | None:
    """``torch.utils.tensorboard.SummaryWriter``, or None (and the notice, once) without the tensorboard package."""
    global _told
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        if not _told:
            from latentlab.training.run_folder import note
            note(MISSING)
            _told = True
        return None
    return SummaryWriter


class EventLog:
    """The event file of one training process: ``with EventLog(run_dir, step) as log: ...``. Every method is a
    no-op when ``enabled`` is False (the other ranks) or TensorBoard is not installed."""

    def __init__(self, run_dir: str | Path, step: int, enabled: bool = True):
        self.writer = None
        writer_class = summary_writer() if enabled else None
        if writer_class is not None:
            log_dir = Path(run_dir) / DIR
            after_existing(log_dir)
            self.writer = writer_class(str(log_dir), purge_step=step + 1)

    def __enter__(self) -> "EventLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Flush and close the event file (also when training stops on Ctrl-C or a NaN)."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def scalars(self, section: str, values: dict, step: int) -> None:
        """``section/<key>`` for every number in ``values`` (a metrics.jsonl row, or the terms of the last steps)."""
        if self.writer is None:
            return
        for key, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(f"{section}/{key}", float(value), step)

    def samples(self, model: GenerativeModel, step: int) -> None:
        """The model's sample grid (``sample_grid``), if it samples; then the file is flushed, so that a live
        ``tensorboard --logdir runs`` shows each epoch as it ends."""
        if self.writer is None:
            return
        tiles = sample_grid(model)
        if tiles is not None:
            self.writer.add_image("samples", tiles, step, dataformats="HWC")
        self.writer.flush()


def sample_grid(model: GenerativeModel):
    """(H, W, C) uint8 tile image of the epoch's samples (module docstring), or None for a model that does not
    sample. The model is put in eval mode without autograd and restored; the global RNG is not touched."""
    from latentlab.viz.plots import grid
    if not isinstance(model, Sampler):
        return None
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            generator = torch.Generator(device=model.device).manual_seed(0)
            if isinstance(model, LatentGenerator):  # the GAN's fixed code batch, as in training.gif
                images, cols = model.generate(model.fixed_input), model.grid_cols
            elif isinstance(model, ConditionalSampler):
                y = torch.arange(model.num_classes, device=model.device).repeat(PER_CLASS)  # (PER_CLASS * K,)
                images, cols = model.sample(len(y), y, generator=generator), model.num_classes
            else:
                images, cols = model.sample(SAMPLES, generator=generator), None
    finally:
        model.train(was_training)
    tiles = grid(images, cols)  # (H, W, C) uint8
    scale = max(1, -(-MIN_PIXELS // max(tiles.shape[:2])))
    return tiles.repeat(scale, 0).repeat(scale, 1)


_STAMP = re.compile(r"events\.out\.tfevents\.(\d+)\.")


def after_existing(log_dir: Path) -> None:
    """TensorBoard reads a folder's event files in the order of their names, which start with the second they
    were opened. A run resumed within the same second as its last event file waits for the next second, so
    that its file (and its purge) is read after the earlier one."""
    stamps = [int(m.group(1)) for p in log_dir.glob("events.out.tfevents.*") if (m := _STAMP.match(p.name))]
    if stamps and max(stamps) >= int(time.time()):
        time.sleep(min(1.0, max(stamps) + 1 - time.time()))  # at most a second, whatever the clock says
