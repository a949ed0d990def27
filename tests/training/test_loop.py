"""The training loop: determinism, exact resume, the NaN guard, Ctrl-C, early stopping."""
import json
import signal

import pytest
import torch
from safetensors.torch import load_file

import latentlab
import importlib

train_module = importlib.import_module("latentlab.training.loop")  # the module (latentlab.training.loop is also the function)
from latentlab.config import train_defaults
from latentlab.errors import ConfigError, TrainingDiverged
from latentlab.models import get_model_class
from latentlab.models.vae import VAE


def weights(run_dir):
    return load_file(run_dir / "model.safetensors")


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_same_seed_same_weights(tmp_path, tiny):
    a = latentlab.train("vae", out=str(tmp_path / "a"), **tiny)
    b = latentlab.train("vae", out=str(tmp_path / "b"), **tiny)
    assert_same_weights(weights(a.dir), weights(b.dir))


def test_resume_continues_exactly(tmp_path, tiny):
    tiny.update(epochs=3, binarize="dynamic")
    full = latentlab.train("vae", out=str(tmp_path / "full"), **tiny)
    part = latentlab.train("vae", out=str(tmp_path / "part"), **{**tiny, "epochs": 1})
    resumed = latentlab.train("vae", resume=part.dir, epochs=3)
    assert_same_weights(weights(full.dir), weights(resumed.dir))
    assert [r["epoch"] for r in resumed.metrics] == [1, 2, 3]
    assert resumed.metrics[-1]["train_loss"] == pytest.approx(full.metrics[-1]["train_loss"])


def test_interrupt_saves_mid_epoch_and_resume_matches(tmp_path, tiny, ctrl_c):
    tiny.update(epochs=2)
    full = latentlab.train("vae", out=str(tmp_path / "full"), **tiny)
    ctrl_c.press_after(5)
    with pytest.raises(KeyboardInterrupt, match="--resume"):
        latentlab.train("vae", out=str(tmp_path / "cut"), **tiny)
    state = torch.load(tmp_path / "cut" / "train_state.pt", weights_only=True)
    assert state["loop"]["epoch"] == 0 and state["loop"]["batch"] == 6  # "Ctrl-C" during step 6 of epoch 1
    ctrl_c.release()
    resumed = latentlab.train("vae", resume=tmp_path / "cut")
    assert_same_weights(weights(full.dir), weights(resumed.dir))


def test_nan_loss_stops_with_step_and_term_and_keeps_checkpoint(tmp_path, tiny, monkeypatch):
    tiny.update(epochs=2)
    calls = {"n": 0}
    original = VAE.loss

    def poisoned(self, x, y=None, group="model"):
        terms = original(self, x, y, group)
        if self.training:
            calls["n"] += 1
            if calls["n"] == 25:  # step 25: the second epoch, batch 4 (21 batches per epoch)
                terms["kl"] = terms["kl"] * float("nan")
                terms["loss"] = terms["rec"] + terms["kl"]
        return terms

    monkeypatch.setattr(VAE, "loss", poisoned)
    with pytest.raises(TrainingDiverged, match=r"loss term 'loss' became nan at step 25 \(epoch 2, batch 4\)"):
        latentlab.train("vae", out=str(tmp_path / "nan"), **tiny)
    lines = (tmp_path / "nan" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 1
    kept = weights(tmp_path / "nan")
    assert all(torch.isfinite(v).all() for v in kept.values())
    assert torch.load(tmp_path / "nan" / "train_state.pt", weights_only=True)["loop"]["epoch"] == 1


def test_early_stopping(tmp_path, tiny, monkeypatch):
    monkeypatch.setattr(VAE, "evaluate", lambda self, x, y: {"loss": torch.tensor(1.0)})
    run = latentlab.train("vae", out=str(tmp_path / "es"), **{**tiny, "epochs": 10, "patience": 2})
    assert run.status == "early-stopped"
    assert len(run.metrics) == 3  # best at epoch 1, then two epochs without improvement


def test_validation_scores_val_images_of_the_held_out_images(tmp_path, tiny, monkeypatch):
    seen = []
    real = VAE.evaluate
    monkeypatch.setattr(VAE, "evaluate", lambda self, x, y: seen.append(len(x)) or real(self, x, y))
    latentlab.train("vae", out=str(tmp_path / "all"), val_images=0, **tiny)
    everything, seen[:] = sum(seen), []
    run = latentlab.train("vae", out=str(tmp_path / "capped"), val_images=7, **tiny)
    assert everything > 7 and sum(seen) == 7
    assert "val_loss" in run.metrics[-1]
    assert train_defaults(get_model_class("sgan"))["val_images"] == 0  # its validation accuracy is its figure


def test_resume_refuses_changed_architecture(tmp_path, tiny):
    run = latentlab.train("vae", out=str(tmp_path / "r"), **tiny)
    with pytest.raises(ConfigError, match="cannot change latent_dim when resuming"):
        latentlab.train("vae", resume=run.dir, latent_dim=8)
    with pytest.raises(ConfigError, match="is a 'vae' run, not 'ae'"):
        latentlab.train("ae", resume=run.dir)


def test_existing_run_folder_is_never_overwritten(tmp_path, tiny):
    run = latentlab.train("vae", out=str(tmp_path / "r"), **tiny)
    before = (run.dir / "model.safetensors").read_bytes()
    with pytest.raises(ConfigError, match="already holds a run"):
        latentlab.train("vae", out=str(run.dir), **tiny)
    assert (run.dir / "model.safetensors").read_bytes() == before


def test_run_folder_contents(tmp_path, tiny):
    run = latentlab.train("vae", out=str(tmp_path / "r"), **{**tiny, "epochs": 2})
    names = {p.name for p in run.dir.iterdir()}
    assert {"config.json", "model.safetensors", "best.safetensors", "train_state.pt", "metrics.jsonl", "samples.png",
            "reconstructions.png", "losses.png", "latent.png", "report.html"} <= names
    assert not [n for n in names if n.endswith(".tmp")]
    cfg = json.loads((run.dir / "config.json").read_text())
    assert cfg["model"] == "vae" and cfg["model_config"]["latent_dim"] == 4 and cfg["data"]["shape"] == [1, 8, 8]
    assert "torch" in cfg["versions"]
    rows = [json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert {"train_loss", "train_rec", "train_kl", "val_loss", "val_neg_elbo"} <= rows[0].keys()
    html = (run.dir / "report.html").read_text()
    assert "samples.png" in html and "val_loss" in html


def test_in_memory_dataset(tmp_path, tiny):
    data = latentlab.load_dataset("digits")
    run = latentlab.train("ae", data=data, out=str(tmp_path / "m"), **{k: v for k, v in tiny.items() if k != "dataset"})
    assert json.loads((run.dir / "config.json").read_text())["train"]["dataset"] == "digits"


def test_loop_state_is_saved_as_a_plain_dict_and_read_back():
    state = train_module.LoopState(epoch=2, batch=3, step=40, best=1.5, bad_epochs=1, sums={"loss": (6.0, 64)}, seen=64)
    saved = state.to_dict()
    assert saved == {"epoch": 2, "batch": 3, "step": 40, "best": 1.5, "bad_epochs": 1, "sums": {"loss": (6.0, 64)},
                     "seen": 64, "world_size": 1, "seconds": 0.0}
    assert train_module.LoopState.from_dict(saved) == state
    without = {k: v for k, v in saved.items() if k != "world_size"}  # written by one process before world_size was kept
    assert train_module.LoopState.from_dict(without) == state


def test_an_old_train_state_resumes_exactly(tmp_path, tiny, ctrl_c):
    """train_state.pt of version 0.1: "loop" is the loop's dict of seven keys plus world_size."""
    tiny.update(epochs=2)
    full = latentlab.train("vae", out=str(tmp_path / "full"), **tiny)
    ctrl_c.press_after(5)
    with pytest.raises(KeyboardInterrupt):
        latentlab.train("vae", out=str(tmp_path / "cut"), **tiny)
    ctrl_c.release()
    path = tmp_path / "cut" / "train_state.pt"
    state = torch.load(path, weights_only=True)
    new = state["loop"]
    state["loop"] = {"epoch": new["epoch"], "batch": new["batch"], "step": new["step"], "best": new["best"],
                     "bad_epochs": new["bad_epochs"], "sums": dict(new["sums"]), "seen": new["seen"], "world_size": 1}
    torch.save(state, path)
    (tmp_path / "cut" / "checkpoint.json").unlink()  # version 0.1 wrote no manifest
    resumed = latentlab.train("vae", resume=tmp_path / "cut")
    assert_same_weights(weights(full.dir), weights(resumed.dir))


def test_the_models_training_defaults_apply_unless_given(tmp_path):
    settings = dict(dataset="digits", epochs=1, batch_size=128, latent_dim=4, hidden=16, progress=False)
    run = latentlab.train("gan", out=str(tmp_path / "gan"), **settings)
    assert (run.config.lr, run.config.beta1, run.config.beta2) == (2e-4, 0.5, 0.999)
    groups = torch.load(run.dir / "train_state.pt", weights_only=True)["optimizers"]["generator"]["param_groups"]
    assert groups[0]["lr"] == 2e-4 and tuple(groups[0]["betas"]) == (0.5, 0.999)
    mine = latentlab.train("gan", out=str(tmp_path / "mine"), lr=1e-3, beta1=0.9, **settings)
    assert (mine.config.lr, mine.config.beta1, mine.config.beta2) == (1e-3, 0.9, 0.999)
    assert json.loads((mine.dir / "config.json").read_text())["train"]["beta1"] == 0.9


def test_one_step_moves_only_its_group():
    from latentlab.models.gan import GAN, GANConfig
    torch.manual_seed(0)
    model = GAN(GANConfig(latent_dim=4, hidden=16), (1, 8, 8))
    groups = model.optimizer_groups()
    trainer = train_module.Trainer(model, model, groups, {g: torch.optim.Adam(ps, lr=1e-2) for g, ps in groups.items()})
    before = {g: [p.detach().clone() for p in ps] for g, ps in groups.items()}
    terms = trainer.step("generator", torch.rand(8, 1, 8, 8), None)
    assert isinstance(terms["loss"], float)
    assert any(not torch.equal(p, q) for p, q in zip(groups["generator"], before["generator"]))
    assert all(torch.equal(p, q) for p, q in zip(groups["discriminator"], before["discriminator"]))


def test_lr_schedules_decay_from_lr_to_the_floor():
    from latentlab.config import TrainConfig
    cos = TrainConfig(lr_schedule="cosine", lr_floor=0.1)
    assert train_module.lr_factor(cos, 0.0) == pytest.approx(1.0)
    assert train_module.lr_factor(cos, 0.5) == pytest.approx(0.55)
    assert train_module.lr_factor(cos, 1.0) == pytest.approx(0.1)
    assert train_module.lr_factor(cos, 3.0) == pytest.approx(0.1)  # past the end: stays at the floor
    lin = TrainConfig(lr_schedule="linear")
    assert [train_module.lr_factor(lin, p) for p in (0, 0.25, 1)] == pytest.approx([1.0, 0.75, 0.0])
    assert train_module.lr_factor(TrainConfig(), 0.7) == 1.0  # constant


def test_cosine_schedule_sets_each_steps_rate(tmp_path, tiny):
    tiny.update(epochs=3)
    run = latentlab.train("vae", out=str(tmp_path / "cos"), lr_schedule="cosine", lr_floor=0.0, **tiny)
    lrs = [row["lr"] for row in run.metrics]
    assert lrs == sorted(lrs, reverse=True) and lrs[0] < tiny.get("lr", 1e-3)
    assert lrs[-1] < 0.05 * tiny.get("lr", 1e-3)  # the last step runs at nearly the floor
    flat = latentlab.train("vae", out=str(tmp_path / "flat"), **tiny)
    assert "lr" not in flat.metrics[0]
    with pytest.raises(ConfigError, match="lr_floor"):
        latentlab.train("vae", out=str(tmp_path / "bad"), lr_schedule="cosine", lr_floor=2.0, **tiny)
    with pytest.raises(ConfigError, match="lr_schedule must be one of"):
        latentlab.train("vae", out=str(tmp_path / "bad2"), lr_schedule="step", **tiny)


def test_a_time_budget_ends_the_run_and_a_resume_with_more_time_goes_on(tmp_path, tiny, monkeypatch):
    tiny.update(epochs=50)
    clock = iter(range(10 ** 6))
    monkeypatch.setattr(train_module, "_budget_clock", lambda: 6.0 * next(clock))  # 6 s per look at the clock
    run = latentlab.train("vae", out=str(tmp_path / "r"), minutes=1.0, **tiny)
    assert run.status == "time-budget"
    assert len(run.metrics) < 50
    last = run.metrics[-1]
    assert "val_loss" in last  # the cut epoch is validated and checkpointed like any other
    state = torch.load(run.dir / "train_state.pt", weights_only=False)["loop"]
    assert state["seconds"] >= 60.0 and state["epoch"] == len(run.metrics)
    again = latentlab.train("vae", resume=run.dir, minutes=1.0)  # the budget is already spent: nothing more
    assert again.status == "time-budget" and len(again.metrics) == len(run.metrics)
    more = latentlab.train("vae", resume=run.dir, minutes=3.0)
    assert more.status == "time-budget" and len(more.metrics) > len(run.metrics)
    with pytest.raises(ConfigError, match="minutes"):
        latentlab.train("vae", out=str(tmp_path / "bad"), minutes=-1.0, **tiny)


def spy_on_dynamics(monkeypatch) -> list[int]:
    """How many metrics rows each drawing of dynamics.png was made from, in order."""
    from latentlab.viz import plots
    drawn, real = [], plots.plot_dynamics

    def spy(metrics, path, critic=False):
        drawn.append(len(metrics))
        return real(metrics, path, critic)

    monkeypatch.setattr(plots, "plot_dynamics", spy)
    return drawn


def test_pictures_put_off_during_training_are_complete_at_the_end(tmp_path, tiny, monkeypatch):
    from PIL import Image
    from latentlab.training import callbacks
    monkeypatch.setattr(callbacks, "SHARE", 1e-9)  # drawing them is never due during training
    drawn = spy_on_dynamics(monkeypatch)
    run = latentlab.train("gan", out=str(tmp_path / "run"), **{**tiny, "epochs": 3})
    assert drawn == [3]  # when training ended
    assert Image.open(run.dir / "training.gif").n_frames == 3
    assert sorted(p.name for p in (run.dir / "frames").iterdir()) == ["epoch_001.png", "epoch_002.png", "epoch_003.png"]
    assert "training.gif" in (run.dir / "report.html").read_text()  # drawn before the report that shows it
    # the same pictures as a run that draws them every epoch
    monkeypatch.setattr(callbacks, "SHARE", 1e9)  # always due
    every = latentlab.train("gan", out=str(tmp_path / "every"), **{**tiny, "epochs": 3})
    assert drawn == [3, 1, 2, 3]
    assert (every.dir / "training.gif").read_bytes() == (run.dir / "training.gif").read_bytes()


def test_pictures_put_off_are_drawn_when_ctrl_c_stops_training(tmp_path, tiny, monkeypatch, ctrl_c):
    from PIL import Image
    from latentlab.training import callbacks
    monkeypatch.setattr(callbacks, "SHARE", 1e-9)
    drawn = spy_on_dynamics(monkeypatch)
    ctrl_c.press_after(2 * 21 + 5)  # 21 batches per epoch: Ctrl-C in the third epoch
    with pytest.raises(KeyboardInterrupt, match="--resume"):
        latentlab.train("gan", out=str(tmp_path / "run"), **{**tiny, "epochs": 4})
    assert drawn == [2]  # drawn when Ctrl-C stopped training, from the two finished epochs
    assert Image.open(tmp_path / "run" / "training.gif").n_frames == 2
    ctrl_c.release()
    latentlab.train("gan", resume=tmp_path / "run")
    assert drawn == [2, 4]  # and at the end of the resumed part
    assert Image.open(tmp_path / "run" / "training.gif").n_frames == 4


def test_a_second_ctrl_c_stops_at_once_without_drawing(tmp_path, tiny, monkeypatch):
    import os
    from latentlab.training import callbacks
    monkeypatch.setattr(callbacks, "SHARE", 1e-9)  # the pictures are put off until training ends
    drawn = spy_on_dynamics(monkeypatch)
    after_epoch = callbacks.Pictures.after_epoch

    def two_ctrl_c_after_epoch_1(self, *args):
        after_epoch(self, *args)
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(callbacks.Pictures, "after_epoch", two_ctrl_c_after_epoch_1)
    with pytest.raises(KeyboardInterrupt, match="interrupted again: stopped at once"):
        latentlab.train("gan", out=str(tmp_path / "run"), **{**tiny, "epochs": 3})
    assert drawn == [] and not (tmp_path / "run" / "training.gif").exists()
