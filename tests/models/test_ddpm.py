"""DDPM: the noise schedule and q(x_t | x_0), the samplers against their equations and an exact
noise predictor, one training step, sampling from a generator, the run folder."""
import math

import numpy as np
import pytest
import torch
from torch import nn

import latentlab
from latentlab.errors import ConfigError, LatentlabError
from latentlab.models.ddpm import DDPM, DDPMConfig
from latentlab.nn.unet import UNet, timestep_embedding

TINY = dict(channels=8, levels=2, timesteps=10, sample_steps=4)


def tiny(shape=(1, 8, 8), **kw):
    torch.manual_seed(0)
    return DDPM(DDPMConfig(**{**TINY, **kw}), shape).eval()


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 5, 7)])
def test_shapes_and_loss(shape):
    model = tiny(shape)
    x = torch.rand(3, *shape)
    assert model.net(x, torch.tensor([0, 4, 9])).shape == x.shape  # sides that 2**levels does not divide are padded
    terms = model.loss(x)
    assert set(terms) == {"loss"} and terms["loss"].dim() == 0 and torch.isfinite(terms["loss"])
    assert torch.isfinite(model.loss(x[:1])["loss"])  # the loop may hand over a batch of one image


def test_default_unet_is_small():
    n = sum(p.numel() for p in DDPM(DDPMConfig(), (1, 28, 28)).parameters())
    assert 30_000 < n < 500_000


def test_timestep_embedding():
    emb = timestep_embedding(torch.tensor([0, 5, 999]), 7)
    assert emb.shape == (3, 7)
    torch.testing.assert_close(emb[0], torch.tensor([0.0, 0, 0, 1, 1, 1, 0]))  # sin 0, cos 0, the pad column
    torch.testing.assert_close(emb[1, 0], torch.tensor(math.sin(5.0)))


def test_linear_schedule_and_closed_form():
    model = tiny(timesteps=1000, beta_start=1e-4, beta_end=0.02)
    betas = np.linspace(1e-4, 0.02, 1000)
    np.testing.assert_allclose(model.betas.numpy(), betas, rtol=1e-6)
    np.testing.assert_allclose(model.alpha_bars.numpy(), np.cumprod(1 - betas), rtol=1e-5)
    assert model.alpha_bars[-1] < 1e-4  # x_T is (almost) pure noise
    x0 = torch.rand(4, 1, 8, 8) * 2 - 1
    t = torch.tensor([0, 10, 500, 999])
    abar = model.alpha_bars[t].view(-1, 1, 1, 1)
    torch.testing.assert_close(model.q_sample(x0, t, torch.zeros_like(x0)), abar.sqrt() * x0)  # the mean
    eps = torch.randn(4, 1, 8, 8)
    torch.testing.assert_close(model.q_sample(x0, t, eps) - abar.sqrt() * x0, (1 - abar).sqrt() * eps)


def test_q_sample_is_the_forward_chain():
    """Running q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t) step by step reaches the closed form
    q(x_t | x_0) = N(sqrt(abar_t) x_0, 1 - abar_t) (Ho et al., eq. 4)."""
    model = tiny(timesteps=100, beta_start=1e-3, beta_end=0.05)
    generator = torch.Generator().manual_seed(0)
    n, t = 200_000, 60
    x0 = torch.full((n,), 0.7)
    x = x0.clone()
    for beta in model.betas[:t + 1]:
        x = (1 - beta).sqrt() * x + beta.sqrt() * torch.randn(n, generator=generator)
    closed = model.q_sample(x0.view(n, 1, 1, 1), torch.full((n,), t), torch.randn(n, 1, 1, 1, generator=generator)).flatten()
    abar = model.alpha_bars[t]
    for draws in (x, closed):
        assert abs(draws.mean() - abar.sqrt() * 0.7) < 5 * math.sqrt(1 / n)
        assert abs(draws.var() - (1 - abar)) < 5 * math.sqrt(2 / n)


class Oracle(nn.Module):
    """The exact noise predictor for data that is a single image x*: eps = (x_t - sqrt(abar_t) x*) / sqrt(1 - abar_t)."""

    def __init__(self, alpha_bars, target):
        super().__init__()
        self.alpha_bars, self.target = alpha_bars, target
        self.unused = nn.Parameter(torch.zeros(()))  # model.device reads the first parameter

    def forward(self, x, t):
        abar = self.alpha_bars[t].view(-1, 1, 1, 1)
        return (x - abar.sqrt() * self.target) / (1 - abar).sqrt()


@pytest.mark.parametrize("clip", [False, True])
@pytest.mark.parametrize("sampler,steps", [("ddim", 1), ("ddim", 7), ("ddim", None), ("ddpm", None), ("ddpm", 5)])
def test_samplers_recover_a_single_image_with_the_exact_noise(sampler, steps, clip):
    model = tiny(timesteps=50, sampler=sampler, sample_steps=10, clip=clip)
    target = torch.rand(1, 1, 8, 8) * 2 - 1  # x* in [-1, 1]
    model.net = Oracle(model.alpha_bars, target)
    images = model.sample(3, generator=torch.Generator().manual_seed(0), steps=steps)
    torch.testing.assert_close(images, ((target + 1) / 2).expand(3, -1, -1, -1), atol=1e-4, rtol=0)


def test_ancestral_step_is_algorithm_2():
    """Without clipping, the step through x0_hat and the posterior mean (eq. 7) is Algorithm 2's line 4."""
    model = tiny(timesteps=10, clip=False)
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        for t in (9, 4, 0):
            got = model.denoise_step(x, t, t - 1 if t else None, ancestral=True, generator=torch.Generator().manual_seed(1))
            beta, abar = model.betas[t], model.alpha_bars[t]
            eps = model.net(x, torch.full((2,), t))
            mean = (x - beta / (1 - abar).sqrt() * eps) / (1 - beta).sqrt()
            z = torch.randn(x.shape, generator=torch.Generator().manual_seed(1)) if t else 0
            torch.testing.assert_close(got, mean + beta.sqrt() * z)


def test_ddim_step_is_song_eq_12():
    model = tiny(timesteps=10, clip=False)
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        got = model.denoise_step(x, 7, 3, ancestral=False)
        abar, abar_prev = model.alpha_bars[7], model.alpha_bars[3]
        eps = model.net(x, torch.full((2,), 7))
        x0 = (x - (1 - abar).sqrt() * eps) / abar.sqrt()
    torch.testing.assert_close(got, abar_prev.sqrt() * x0 + (1 - abar_prev).sqrt() * eps)


def test_step_indices_are_evenly_spaced():
    model = tiny(timesteps=1000)
    steps = model.step_indices(50)
    assert len(steps) == 50 and steps[0] == 999 and steps[-1] == 0 and steps == sorted(set(steps), reverse=True)
    assert model.step_indices(1000) == list(range(999, -1, -1)) and model.step_indices(1) == [999]


@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
def test_samples_from_the_generator_without_autograd(sampler):
    model = tiny(sampler=sampler)
    a = model.sample(5, generator=torch.Generator().manual_seed(1))
    assert a.shape == (5, 1, 8, 8) and a.min() >= 0 and a.max() <= 1
    assert not a.requires_grad and a.grad_fn is None
    torch.manual_seed(123)  # the global RNG plays no part
    torch.testing.assert_close(a, model.sample(5, generator=torch.Generator().manual_seed(1)), atol=0, rtol=0)
    assert not torch.equal(a, model.sample(5, generator=torch.Generator().manual_seed(2)))
    full = model.sample(2, generator=torch.Generator().manual_seed(3), steps=10)  # every step (T = 10)
    assert torch.equal(full, model.sample(2, generator=torch.Generator().manual_seed(3), steps=10))
    with pytest.raises(LatentlabError, match="not conditional"):
        model.sample(2, y=1)
    with pytest.raises(ConfigError, match="steps"):
        model.sample(2, steps=11)


def test_ddim_is_deterministic_given_x_T():
    """DDIM (eta = 0) draws only x_T; the ancestral chain draws fresh noise at every step."""
    ddim, ddpm = tiny(sampler="ddim"), tiny(sampler="ddpm")
    ddpm.load_state_dict(ddim.state_dict())
    g = torch.Generator().manual_seed(5)
    a = ddim.sample(3, generator=g)
    assert not torch.equal(a, ddim.sample(3, generator=g))  # the generator moved on: another x_T
    # the same x_T (the first draw) but more noise afterwards: different images
    assert not torch.equal(ddim.sample(3, generator=torch.Generator().manual_seed(5), steps=10),
                           ddpm.sample(3, generator=torch.Generator().manual_seed(5), steps=10))


def test_one_training_step_changes_the_weights():
    model = tiny().train()
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    x = torch.rand(8, 1, 8, 8)
    before = [p.detach().clone() for p in model.parameters()]
    for _ in range(2):  # the output layer starts at zero: the first step moves only it, the second every layer
        opt.zero_grad()
        loss = model.loss(x)["loss"]
        assert torch.isfinite(loss)
        loss.backward()
        opt.step()
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


@pytest.mark.parametrize("bad", [dict(sample_steps=0), dict(timesteps=10, sample_steps=11), dict(beta_start=0.0),
                                 dict(beta_start=0.1, beta_end=0.01), dict(sampler="euler"), dict(levels=0)])
def test_bad_settings(bad):
    with pytest.raises(ConfigError):
        DDPMConfig(**bad).validate()


def test_unet_pads_and_crops():
    net = UNet(1, channels=8, levels=3)
    x = torch.randn(2, 1, 28, 28)  # 28 is not a multiple of 8
    assert net(x, torch.tensor([1, 2])).shape == x.shape


def test_run_folder_round_trip(tmp_path):
    run = latentlab.train("ddpm", dataset="digits", epochs=1, batch_size=64, progress=False, out=str(tmp_path / "run"),
                          channels=8, timesteps=20, sample_steps=5)
    assert run.config.lr == 1e-3  # the model's training default (sized for a CPU budget, not Ho et al.'s 2e-4)
    assert math.isfinite(run.metrics[-1]["val_loss"]) and (run.dir / "samples.png").is_file()
    model = latentlab.load(run.dir)
    assert isinstance(model, DDPM) and model.cfg.timesteps == 20
    assert "betas" not in model.state_dict()  # the schedule follows from the config
    torch.testing.assert_close(model.sample(4, generator=torch.Generator().manual_seed(0)),
                               run.model.sample(4, generator=torch.Generator().manual_seed(0)))
    x = torch.rand(4, 1, 8, 8)
    torch.manual_seed(0)
    before = run.model.loss(x)["loss"]
    torch.manual_seed(0)
    torch.testing.assert_close(model.loss(x)["loss"], before)
