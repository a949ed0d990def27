"""calo-wgan: shapes, non-negative cells, the energy term, one step of each group, defaults, the run folder."""
import pytest
import torch

import latentlab
from latentlab.calo import simulate
from latentlab.calo.data import to_dataset
from latentlab.calo.wgan import CaloWGAN, CaloWGANConfig
from latentlab.config import train_defaults
from latentlab.errors import ConfigError
from latentlab.models.base import ConditionalSampler, Encoder, LatentGenerator, LikelihoodModel, Sampler

SMALL = dict(latent_dim=4, hidden=16, layers=1)


def small(**kw):
    torch.manual_seed(0)
    return CaloWGAN(CaloWGANConfig(**{**SMALL, **kw}), (1, 1, 504))


def test_shapes_non_negative_and_schedule():
    model = small(n_critic=3)
    assert model.schedule() == ["critic"] * 3 + ["generator"]
    assert set(model.optimizer_groups()) == {"critic", "generator"}
    e = torch.tensor([1.0, 10.0, 100.0])
    v = model.generate_v(e)
    assert v.shape == (3, 504) and (v >= 0).all()
    cells = model.generate(e)
    assert cells.shape == (3, 504) and (cells >= 0).all()
    assert model.critic(v, e).shape == (3, 1)
    assert model.generate(50.0, n=4).shape == (4, 504)
    assert not cells.requires_grad  # showers are handed out without autograd
    # a shower model is none of the image interfaces: it is asked for showers at energies, with generate()
    assert not isinstance(model, (Sampler, ConditionalSampler, Encoder, LikelihoodModel, LatentGenerator))


def test_generate_draws_from_the_generator_only():
    model = small()
    e = torch.tensor([2.0, 20.0, 80.0])
    state = torch.get_rng_state()
    a = model.generate(e, generator=torch.Generator().manual_seed(3))
    b = model.generate(e, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and torch.equal(torch.get_rng_state(), state)  # the global RNG is untouched
    assert not torch.equal(a, model.generate(e, generator=torch.Generator().manual_seed(4)))


def test_defaults_and_state_dict_keys():
    cfg = CaloWGANConfig()
    assert cfg.n_critic == 3 and cfg.energy_weight == 5.0  # the settings that suit a few CPU minutes
    d = train_defaults(CaloWGAN)
    assert (d["lr"], d["batch_size"], d["epochs"], d["beta1"], d["beta2"]) == (2e-4, 128, 30, 0.5, 0.9)
    # Linear / LeakyReLU(0.2) / Linear: the keys saved runs hold
    keys = [f"{net}.{i}.{p}" for net in ("generator", "discriminator") for i in (0, 2) for p in ("weight", "bias")]
    model = small()
    assert list(model.state_dict()) == keys
    assert isinstance(model.generator[1], torch.nn.LeakyReLU) and model.generator[1].negative_slope == 0.2


def test_losses_and_one_step():
    model = small()
    x, y = torch.rand(8, 1, 1, 504) * 0.3, torch.rand(8, 1) * 99 + 1
    c = model.loss(x, y, "critic")
    assert torch.isclose(c["loss"], -c["wasserstein"] + 10 * c["gp"])
    g = model.loss(x, y, "generator")
    assert torch.isclose(g["loss"], g["adv"] + 5.0 * g["energy"])
    before = [p.clone() for p in model.generator.parameters()]
    g["loss"].backward()
    with torch.no_grad():
        for p in model.generator.parameters():
            p -= 1e-2 * p.grad
    assert any(not torch.equal(a, b) for a, b in zip(before, model.generator.parameters()))
    with pytest.raises(ConfigError, match="incident energies"):
        model.loss(x, None, "critic")


def test_energy_term_is_zero_for_the_expected_deposit():
    model = small(log_scale=10.0, response_slope=100.0, response_intercept=0.0)
    e = torch.tensor([10.0, 20.0])
    cells = torch.zeros(2, 504)
    cells[:, 0] = e * 100.0  # exactly the expected deposit, MeV
    v = torch.log1p(cells) / 10.0
    assert model.energy_term(v, e) == pytest.approx(0.0, abs=1e-4)
    assert model.energy_term(v * 0, e) == pytest.approx(1.0)


def test_wrong_data_shape_and_bad_config():
    with pytest.raises(ConfigError, match="latentlab calo train"):
        latentlab.train("calo-wgan", dataset="digits", epochs=1, progress=False, out=None)
    with pytest.raises(ConfigError):
        CaloWGANConfig(e_min=10.0, e_max=1.0).validate()


def test_run_folder_round_trip(tmp_path):
    showers = simulate("eplus", 120, seed=3)
    data, stats, _ = to_dataset(showers, "tiny.h5", 0.1, 0.1, seed=0)
    run = latentlab.train("calo-wgan", data=data, epochs=2, batch_size=32, n_critic=2, progress=False,
                          out=str(tmp_path / "run"), **SMALL, **stats)
    model = latentlab.load(run.dir)
    assert isinstance(model, CaloWGAN) and model.cfg.e_max == pytest.approx(stats["e_max"])
    assert model.cfg.log_scale == pytest.approx(stats["log_scale"])
    assert model.cfg.n_critic == 2 and model.cfg.energy_weight == 5.0
    a = model.generate(torch.tensor([5.0, 50.0]), generator=torch.Generator().manual_seed(1))
    b = run.model.generate(torch.tensor([5.0, 50.0]), generator=torch.Generator().manual_seed(1))
    assert torch.allclose(a, b)
    assert (run.config.lr, run.config.beta1, run.config.beta2) == (2e-4, 0.5, 0.9)  # the model's train_defaults
