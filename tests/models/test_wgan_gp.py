"""WGAN-GP: critic without batch norm, the gradient penalty, n_critic steps, the run folder."""
import importlib

import pytest
import torch
from torch import nn

import latentlab
from latentlab.errors import ConfigError
from latentlab.config import train_defaults
from latentlab.models.wgan_gp import WGANGP, WGANGPConfig
from latentlab.nn.losses import gradient_penalty

train_module = importlib.import_module("latentlab.training.loop")


def small(**kw):
    torch.manual_seed(0)
    return WGANGP(WGANGPConfig(**{"latent_dim": 8, "channels": 4, "hidden": 32, **kw}), (1, 8, 8))


def test_critic_and_schedule():
    model = small()
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.discriminator.modules())
    assert model.schedule() == ["discriminator"] * 5 + ["generator"]
    assert small(n_critic=2).schedule() == ["discriminator", "discriminator", "generator"]
    x = torch.rand(6, 1, 8, 8)
    d = model.loss(x, None, "discriminator")
    assert torch.isclose(d["loss"], -d["wasserstein"] + 10 * d["gp"])
    assert model.sample(3).shape == (3, 1, 8, 8)


class Linear(nn.Module):
    """f(x) = <w, x>: its gradient norm is ||w|| everywhere."""

    def __init__(self, w):
        super().__init__()
        self.w = w

    def forward(self, x):
        return (x.flatten(1) * self.w).sum(1, keepdim=True)  # (B, 1)


def test_gradient_penalty_of_a_linear_critic():
    x, fake = torch.rand(5, 1, 2, 2), torch.rand(5, 1, 2, 2)
    unit = torch.tensor([0.5, 0.5, 0.5, 0.5])  # norm 1: no penalty
    assert gradient_penalty(Linear(unit), x, fake) == pytest.approx(0.0, abs=1e-10)
    assert gradient_penalty(Linear(3 * unit), x, fake).item() == pytest.approx(4.0)  # (3 - 1)^2
    with torch.no_grad():  # validation: still computable
        assert gradient_penalty(Linear(3 * unit), x, fake).item() == pytest.approx(4.0)


def test_penalty_gradient_reaches_the_critic():
    model = small()
    groups = model.optimizer_groups()
    opts = {g: torch.optim.Adam(ps, lr=1e-3, betas=(0.0, 0.9)) for g, ps in groups.items()}
    g_before = [p.detach().clone() for p in groups["generator"]]
    train_module.Trainer(model, model, groups, opts).step("discriminator", torch.rand(8, 1, 8, 8), None)
    assert all(torch.equal(p, q) for p, q in zip(groups["generator"], g_before))
    with torch.no_grad():
        terms = model.evaluate(torch.rand(8, 1, 8, 8), None)
    assert {"loss", "gp", "wasserstein", "g_loss"} <= terms.keys()


def test_bad_settings():
    for bad in (dict(n_critic=0), dict(gp_weight=-1.0), dict(arch="resnet")):
        with pytest.raises(ConfigError):
            WGANGPConfig(**bad).validate()


def test_mlp_critic():
    model = small(arch="mlp")
    assert model.discriminator(torch.rand(3, 1, 8, 8))["adv"].shape == (3, 1) and model.sample(2).shape == (2, 1, 8, 8)


def test_train_save_load_round_trip(tmp_path, arch="conv"):
    run = latentlab.train("wgan-gp", dataset="digits", epochs=1, batch_size=128, latent_dim=8, channels=4, hidden=32,
                          arch=arch, lr=1e-4, out=str(tmp_path / "run"), progress=False)
    assert "train_discriminator/gp" in run.metrics[-1] and (run.dir / "dynamics.png").is_file()
    loaded = latentlab.load(run.dir)
    for k, v in run.model.state_dict().items():
        assert torch.equal(v.cpu(), loaded.state_dict()[k]), k
    defaults = train_defaults(WGANGP)
    assert (defaults["lr"], defaults["beta1"], defaults["beta2"]) == (1e-4, 0.0, 0.9)
    train = latentlab.read_run(run.dir).train
    assert (train.beta1, train.beta2) == (0.0, 0.9)  # the paper's betas, the run's own defaults
