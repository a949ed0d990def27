"""Pictures made after every epoch, by rank 0, once the epoch's checkpoint is written.

Which ones a model gets follows from the interfaces it implements (``latentlab.models.base``):

    LatentGenerator   frames/epoch_XXX.png, the generator's images of its fixed code batch, animated
                      as training.gif (``latentlab.viz.gif``); dynamics.png, the adversarial game per
                      epoch from metrics.jsonl (``latentlab.viz.plots.plot_dynamics``)
    InfoGAN           <name>.png for each of its code traversals (code_c1.png, ...)
    AE                samples_standard_prior.png: the decoder on N(0, I) draws, beside samples.png from
                      the fitted Gaussian (the notes' experiment: the codes do not follow the raw prior)

training.gif and dynamics.png are drawn from the run folder's files (frames/, metrics.jsonl), not from the
model, so drawing them later gives the same pictures: the loop (``Pictures``) draws them only as often as
keeps them under ``SHARE`` of its time, and always when it ends, however it ends (but for a second Ctrl-C,
which stops at once). The other callbacks run after every epoch: a frame is a record of its epoch, and the
other pictures show the model as it is at the epoch's end. After the last epoch, ``at_end`` makes the
pictures of the trained model and report.html (``latentlab.viz.plots.make_pictures``).

A callback is ``callback(model, run_dir, epoch, metrics)`` (``epoch`` counts from 1, ``metrics`` is
metrics.jsonl so far). ``run`` calls them with the model in eval mode and without autograd; none of
them draws from the global RNG, so the pictures never change the course of training.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch

from latentlab.data.tabular import is_tabular
from latentlab.models.base import GenerativeModel, LatentGenerator

Callback = Callable[[GenerativeModel, Path, int, list[dict]], None]
STANDARD_PRIOR = "samples_standard_prior.png"
DYNAMICS = "dynamics.png"


def training_frame(model: LatentGenerator, run_dir: Path, epoch: int, metrics: list[dict]) -> None:
    """This epoch's frame: the fixed code batch, ``grid_cols`` wide."""
    from latentlab.viz import gif
    gif.save_frame(model.generate(model.fixed_input), run_dir, epoch, model.grid_cols)


def training_gif(model: LatentGenerator, run_dir: Path, epoch: int, metrics: list[dict]) -> None:
    """training.gif from every frame so far."""
    from latentlab.viz import gif
    gif.write_gif(run_dir)


def dynamics(model: LatentGenerator, run_dir: Path, epoch: int, metrics: list[dict]) -> None:
    """dynamics.png: both losses, the discriminator's outputs (a critic's scores) and the gradient signal."""
    from latentlab.viz.plots import plot_dynamics
    plot_dynamics(metrics, run_dir / DYNAMICS, critic=model.critic)


def code_traversals(model: GenerativeModel, run_dir: Path, epoch: int, metrics: list[dict]) -> None:
    """InfoGAN: one grid per code traversal, ``grid_cols`` wide (one row per category)."""
    from latentlab.viz.plots import save_grid
    for name, images in model.code_traversals().items():  # name -> (N, C, H, W)
        save_grid(images, run_dir / f"{name}.png", nrow=model.grid_cols)


def standard_prior_samples(model: GenerativeModel, run_dir: Path, epoch: int, metrics: list[dict]) -> None:
    """AE: 64 images decoded from z ~ N(0, I), the same draws every epoch (seed 0)."""
    from latentlab.viz.plots import save_grid
    generator = torch.Generator(device=model.device).manual_seed(0)
    save_grid(model.sample(64, prior="standard", generator=generator), run_dir / STANDARD_PRIOR)


def for_model(model: GenerativeModel) -> list[Callback]:
    """The callbacks that apply to ``model``, in the order they run."""
    from latentlab.models.ae import AE
    from latentlab.models.infogan import InfoGAN
    chosen: list[Callback] = []
    if isinstance(model, LatentGenerator):
        chosen += [training_frame, training_gif, dynamics]
    if isinstance(model, InfoGAN):
        chosen.append(code_traversals)
    if isinstance(model, AE) and not is_tabular(model.shape):  # rows of features are no picture
        chosen.append(standard_prior_samples)
    return chosen


def run(chosen: list[Callback], model: GenerativeModel, run_dir: str | Path, epoch: int, metrics: list[dict]) -> None:
    """Call each callback with the model in eval mode and no autograd; the model's mode is restored."""
    if not chosen:
        return
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for callback in chosen:
            callback(model, Path(run_dir), epoch, metrics)
    model.train(was_training)


# Drawn from the run folder's files alone: the same pictures whenever they are drawn (see the module doc).
FROM_FILES = (training_gif, dynamics)
SHARE = 0.02  # at most about this share of the loop's time goes to drawing them
GUESS = 0.5  # seconds that drawing them is taken to cost until it was timed (the first time imports matplotlib)


class Pictures:
    """The per-epoch callbacks of one training run (rank 0's), with those of ``FROM_FILES`` put off while they
    are not due: they are due once the time since they were last drawn (or since the start) is at least
    1 / ``SHARE`` times what drawing them took (or ``GUESS``). An epoch of half a minute draws them every
    epoch; epochs of a tenth of a second, every few hundred. ``close`` draws them if they were put off since
    (the loop closes it however it ends), so that the run folder ends with the pictures it would have if
    every epoch drew them."""

    def __init__(self, chosen: list[Callback], clock: Callable[[], float] = time.monotonic):
        self.every_epoch = [c for c in chosen if c not in FROM_FILES]
        self.from_files = [c for c in chosen if c in FROM_FILES]
        self.clock = clock
        self.put_off: tuple | None = None  # the arguments of the last epoch whose FROM_FILES pictures were put off
        self.due = clock() + GUESS / SHARE  # the clock's time from which they are drawn again

    def after_epoch(self, model: GenerativeModel, run_dir: str | Path, epoch: int, metrics: list[dict]) -> None:
        run(self.every_epoch, model, run_dir, epoch, metrics)
        if self.from_files:
            self.put_off = (model, run_dir, epoch, metrics)
            if self.clock() >= self.due:
                self.draw_put_off()

    def close(self) -> None:
        """The end of training: draw what was put off."""
        self.draw_put_off()

    def draw_put_off(self) -> None:
        if self.put_off is None:
            return
        started = self.clock()
        run(self.from_files, *self.put_off)
        self.put_off = None
        took = self.clock() - started
        self.due = started + took + took / SHARE  # drawing again is due once 1 / SHARE times as long has passed


def at_end(model: GenerativeModel, data, run_dir: str | Path, metrics: list[dict]) -> list[Path]:
    """After training: samples, reconstructions, latent map, losses (as the model's interfaces allow) and report.html."""
    from latentlab.viz.plots import make_pictures
    return make_pictures(model, data, Path(run_dir), metrics)
