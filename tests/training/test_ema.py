"""The moving average of the weights (``ema``): the average it should be, what is saved, exact resume."""
import importlib

import pytest
import torch
from safetensors.torch import load_file

import latentlab
from latentlab.errors import ConfigError

loop = importlib.import_module("latentlab.training.loop")  # the module (latentlab.training.loop is also the function)


def weights(run_dir, name="model.safetensors"):
    return load_file(run_dir / name)


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_the_average_is_the_bias_corrected_mean_of_the_steps_weights():
    """After steps 1..t: sum_i d^(t-i) theta_i / sum_i d^(t-i), computed here by hand from each step's weights."""
    from latentlab.models.gan import GAN, GANConfig
    torch.manual_seed(0)
    model = GAN(GANConfig(latent_dim=4, hidden=16), (1, 8, 8))
    groups = model.optimizer_groups()
    trainer = loop.Trainer(model, model, groups, {g: torch.optim.Adam(ps, lr=1e-2) for g, ps in groups.items()},
                           average=loop.Average(model, 0.8))
    d, seen = 0.8, []
    for step in range(1, 6):
        trainer.step(model.schedule()[(step - 1) % len(model.schedule())], torch.rand(16, 1, 8, 8), None)
        trainer.average.update(step)
        seen.append({k: v.detach().clone().double() for k, v in model.state_dict().items()})
    average = trainer.average.model.state_dict()
    norm = sum(d ** (5 - i) for i in range(1, 6))
    for k, v in average.items():
        if not v.is_floating_point():
            assert torch.equal(v, seen[-1][k].to(v.dtype)), k  # counters (batch norm's) are copied
            continue
        expected = sum(d ** (5 - i) * seen[i - 1][k] for i in range(1, 6)) / norm
        assert torch.allclose(v.double(), expected, atol=1e-6), k
    moved = [k for k, _ in model.named_parameters() if not torch.equal(seen[-1][k], seen[-2][k])]
    assert moved and any(not torch.allclose(average[k].double(), seen[-1][k]) for k in moved)  # not just the last weights
    assert all(not p.requires_grad for p in trainer.average.model.parameters())


def test_a_run_with_ema_saves_the_average_and_resumes_exactly(tmp_path, tiny, monkeypatch):
    monkeypatch.setattr(loop.callbacks, "for_model", lambda model: [])  # pictures never change training: skipped, for time
    monkeypatch.setattr(loop.callbacks, "at_end", lambda *args: [])
    tiny.update(epochs=2, ema=0.9, hidden=16)  # batch norm in the generator: its running statistics are averaged too
    full = latentlab.train("gan", out=str(tmp_path / "full"), **tiny)
    part = latentlab.train("gan", out=str(tmp_path / "part"), **{**tiny, "epochs": 1})
    resumed = latentlab.train("gan", resume=part.dir, epochs=2)
    assert_same(weights(full.dir), weights(resumed.dir))
    assert resumed.metrics[-1]["val_loss"] == pytest.approx(full.metrics[-1]["val_loss"])
    state = torch.load(full.dir / "train_state.pt", weights_only=True)
    raw, saved = state["weights"], weights(full.dir)
    assert raw.keys() == saved.keys()
    assert any(not torch.equal(raw[k], saved[k]) for k in raw)  # model.safetensors is the average, not the raw weights
    for k, v in full.model.state_dict().items():  # the returned model is the average too
        assert torch.equal(v, saved[k]), k


def test_ema_off_saves_no_second_copy_and_bad_decays_are_refused(tmp_path, tiny):
    run = latentlab.train("vae", out=str(tmp_path / "off"), **tiny)
    assert "weights" not in torch.load(run.dir / "train_state.pt", weights_only=True)
    for bad in (1.0, -0.1):
        with pytest.raises(ConfigError, match="ema"):
            latentlab.train("vae", out=str(tmp_path / "bad"), ema=bad, **tiny)
    with pytest.raises(ConfigError, match="cannot change ema"):
        latentlab.train("vae", resume=run.dir, ema=0.99)


def test_what_fit_end_sets_is_copied_into_the_average(tmp_path, tiny):
    """The AE's fitted latent Gaussian is set once per epoch: the average takes it as it is."""
    run = latentlab.train("ae", out=str(tmp_path / "ae"), ema=0.99, **tiny)
    raw = torch.load(run.dir / "train_state.pt", weights_only=True)["weights"]
    saved = weights(run.dir)
    assert torch.equal(saved["latent_mean"], raw["latent_mean"]) and torch.equal(saved["latent_chol"], raw["latent_chol"])


def test_a_run_with_ema_stopped_mid_epoch_resumes_exactly(tmp_path, tiny, monkeypatch, ctrl_c):
    monkeypatch.setattr(loop.callbacks, "at_end", lambda *args: [])
    tiny.update(epochs=1, ema=0.95)
    full = latentlab.train("vae", out=str(tmp_path / "full"), **tiny)
    ctrl_c.press_after(5)  # Ctrl-C during step 6
    with pytest.raises(KeyboardInterrupt, match="--resume"):
        latentlab.train("vae", out=str(tmp_path / "cut"), **tiny)
    ctrl_c.release()
    resumed = latentlab.train("vae", resume=tmp_path / "cut")
    assert_same(weights(full.dir), weights(resumed.dir))
    raw = torch.load(full.dir / "train_state.pt", weights_only=True)["weights"]
    assert_same(raw, torch.load(resumed.dir / "train_state.pt", weights_only=True)["weights"])
