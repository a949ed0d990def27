"""TensorBoard event files, read back with TensorBoard's own reader: the metrics per epoch, the terms every
N steps, the sample grid, a resume that shows no step twice, and training without TensorBoard."""
import importlib
import io
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import latentlab
from latentlab.errors import TrainingDiverged
from latentlab.models.vae import VAE
from latentlab.training import events
from latentlab.viz.plots import grid

loop = importlib.import_module("latentlab.training.loop")  # the module (latentlab.training.loop is also the function)
EVERY = 5


def read(run_dir):
    """Every event in RUN/tensorboard, as TensorBoard shows it (purges applied)."""
    return EventAccumulator(str(run_dir / events.DIR), size_guidance={"scalars": 0, "images": 0}).Reload()


def scalars(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def picture(event):
    return np.asarray(Image.open(io.BytesIO(event.encoded_image_string)).convert("RGB"))


def expected_picture(model):
    tiles = events.sample_grid(model)
    return np.repeat(tiles, 3, axis=2) if tiles.shape[2] == 1 else tiles


@pytest.fixture
def every(tiny):
    tiny["log_every"] = EVERY  # the step/ scalars every EVERY steps (TrainConfig.log_every)
    return EVERY


@pytest.fixture
def recorded(monkeypatch):
    """The terms of every optimiser step, in order, as (images, terms)."""
    steps = []
    original = loop.Trainer.step

    def step(self, group, x, y):
        terms = original(self, group, x, y)
        steps.append((len(x), terms))
        return terms

    monkeypatch.setattr(loop.Trainer, "step", step)
    return steps


def test_scalars_equal_metrics_and_step_means_and_the_sample_grid(tmp_path, tiny, every, recorded):
    run = latentlab.train("vae", out=str(tmp_path / "r"), **{**tiny, "epochs": 2})
    acc = read(run.dir)
    total = torch.load(run.dir / "train_state.pt", weights_only=True)["loop"]["step"]
    assert total == len(recorded)
    per_epoch = total // 2
    ends = [per_epoch, 2 * per_epoch]  # the step that ended each epoch
    for key in run.metrics[0]:  # every metrics.jsonl value, at the step its epoch ended
        logged = scalars(acc, f"epoch/{key}")
        assert [s for s, _ in logged] == ends, key
        assert [v for _, v in logged] == pytest.approx([row[key] for row in run.metrics], rel=1e-6), key
    for term in recorded[0][1]:  # every EVERY steps, the term's mean over the images of those steps
        logged = scalars(acc, f"step/{term}")
        assert [s for s, _ in logged] == list(range(every, total + 1, every)), term
        means = [np.average([t[term] for _, t in recorded[s - every:s]], weights=[n for n, _ in recorded[s - every:s]])
                 for s in range(every, total + 1, every)]
        assert [v for _, v in logged] == pytest.approx(means, rel=1e-5), term
    images = acc.Images("samples")
    assert [e.step for e in images] == ends
    assert np.array_equal(picture(images[-1]), expected_picture(run.model))  # 16 samples, drawn from seed 0
    assert events.sample_grid(run.model).shape[0] >= events.MIN_PIXELS


def test_gan_logs_each_group_and_its_fixed_code_grid(tmp_path, tiny, every):
    run = latentlab.train("gan", out=str(tmp_path / "g"), **tiny)
    acc = read(run.dir)
    tags = acc.Tags()["scalars"]
    assert {"step/discriminator/loss", "step/generator/loss", "epoch/train_generator/loss", "epoch/val_loss"} <= set(tags)
    model = run.model
    with torch.no_grad():
        tiles = grid(model.generate(model.fixed_input), model.grid_cols)  # the frame of training.gif
    scale = events.sample_grid(model).shape[0] // tiles.shape[0]
    assert np.array_equal(picture(acc.Images("samples")[-1]), np.repeat(np.repeat(tiles, scale, 0), scale, 1).repeat(3, 2))


def test_sample_grid_leaves_the_mode_and_the_global_rng_alone(tiny):
    from latentlab.models.cvae import CVAE, CVAEConfig
    torch.manual_seed(0)
    model = CVAE(CVAEConfig(latent_dim=4, hidden=16), (1, 8, 8), 10).train()
    rng = torch.get_rng_state()
    tiles = events.sample_grid(model)  # two rows of one sample per class
    assert torch.equal(torch.get_rng_state(), rng) and model.training
    assert tiles.shape[1] // tiles.shape[0] == (10 * 9 + 1) // (2 * 9 + 1)
    assert np.array_equal(tiles, events.sample_grid(model))  # the same draws every epoch


def test_resume_after_a_crash_shows_no_step_twice(tmp_path, tiny, every, monkeypatch):
    tiny.update(epochs=2)
    full = latentlab.train("vae", out=str(tmp_path / "full"), **tiny)
    steps = {"n": 0}
    original = VAE.loss

    def poisoned(self, x, y=None, group="model"):
        terms = original(self, x, y, group)
        steps["n"] += self.training  # optimiser steps, not validation batches
        if self.training and steps["n"] == 33:  # in epoch 2, after the checkpoint of epoch 1 and after step 30 was logged
            terms["loss"] = terms["loss"] * float("nan")
        return terms

    monkeypatch.setattr(VAE, "loss", poisoned)
    with pytest.raises(TrainingDiverged):
        latentlab.train("vae", out=str(tmp_path / "cut"), **tiny)
    monkeypatch.setattr(VAE, "loss", original)
    checkpoint_step = torch.load(tmp_path / "cut" / "train_state.pt", weights_only=True)["loop"]["step"]
    before = scalars(read(tmp_path / "cut"), "step/loss")
    assert before[-1][0] == 30 > checkpoint_step  # logged after the checkpoint: would show twice without the purge

    latentlab.train("vae", resume=tmp_path / "cut")
    assert len(list((tmp_path / "cut" / events.DIR).glob("events.out.tfevents.*"))) == 2  # the resume appends a file
    cut, reference = read(tmp_path / "cut"), read(full.dir)
    assert set(cut.Tags()["scalars"]) == set(reference.Tags()["scalars"])
    for tag in reference.Tags()["scalars"]:
        if tag in ("epoch/seconds", "epoch/images_per_s"):
            continue
        got = scalars(cut, tag)
        assert [s for s, _ in got] == [s for s, _ in scalars(reference, tag)], tag  # each step once, in order
        assert [v for _, v in got] == pytest.approx([v for _, v in scalars(reference, tag)], rel=1e-5), tag
    assert [e.step for e in cut.Images("samples")] == [e.step for e in reference.Images("samples")]


def test_the_event_file_is_closed_on_ctrl_c_and_on_a_nan(tmp_path, tiny, every, monkeypatch, ctrl_c):
    closed = []
    original_close = events.EventLog.close

    def close(self):
        if self.writer is not None:
            closed.append(self.writer.log_dir)
        original_close(self)

    monkeypatch.setattr(events.EventLog, "close", close)
    ctrl_c.press_after(5)
    with pytest.raises(KeyboardInterrupt):
        latentlab.train("vae", out=str(tmp_path / "c"), **tiny)
    assert closed == [str(tmp_path / "c" / events.DIR)]
    assert [s for s, _ in scalars(read(tmp_path / "c"), "step/loss")] == [5]  # written out by the close
    ctrl_c.release()
    nan = {"loss": torch.tensor(float("nan"), requires_grad=True)}
    monkeypatch.setattr(VAE, "loss", lambda self, x, y=None, group="model": dict(nan))
    with pytest.raises(TrainingDiverged):
        latentlab.train("vae", out=str(tmp_path / "n"), **tiny)
    assert closed[-1] == str(tmp_path / "n" / events.DIR)


def test_without_tensorboard_training_goes_on_and_says_so_once(tmp_path, tiny, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails, as when tensorboard is missing
    monkeypatch.setattr(events, "_told", False)
    a = latentlab.train("vae", out=str(tmp_path / "a"), **tiny)
    b = latentlab.train("vae", out=str(tmp_path / "b"), **tiny)
    assert a.status == b.status == "finished" and (b.dir / "model.safetensors").is_file()
    assert not (a.dir / events.DIR).exists() and not (b.dir / events.DIR).exists()
    assert capsys.readouterr().err.count("TensorBoard is not installed") == 1


def test_only_rank_0_writes(tmp_path):
    with events.EventLog(tmp_path, 0, enabled=False) as log:
        log.scalars("step", {"loss": 1.0}, 50)
        log.samples(None, 50)
    assert not (tmp_path / events.DIR).exists()
