"""calo-vae: shapes, the censored likelihood, non-negative showers, one step, the run folder."""
import pytest
import torch

import latentlab
from latentlab.calo import simulate
from latentlab.calo.data import to_dataset
from latentlab.calo.vae import CaloVAE, CaloVAEConfig
from latentlab.config import train_defaults
from latentlab.errors import ConfigError

SMALL = dict(latent_dim=4, hidden=16, layers=1)


def small(**kw):
    torch.manual_seed(0)
    return CaloVAE(CaloVAEConfig(**{**SMALL, **kw}), (1, 1, 504))


def test_shapes_and_non_negative_showers():
    model = small()
    e = torch.tensor([2.0, 20.0, 90.0])
    mu, logvar = model.encode(torch.rand(3, 504), model.condition(e))
    assert mu.shape == logvar.shape == (3, 4)
    assert model.decode(mu, model.condition(e)).shape == (3, 504)
    cells = model.generate(e)
    assert cells.shape == (3, 504) and (cells >= 0).all()
    assert model.schedule() == ["model"]
    a = model.generate(e, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, model.generate(e, generator=torch.Generator().manual_seed(5)))


def test_defaults_and_state_dict_keys():
    d = train_defaults(CaloVAE)
    assert (d["lr"], d["batch_size"], d["epochs"], d["beta1"], d["beta2"]) == (1e-3, 128, 30, 0.9, 0.999)
    keys = ["log_sigma"] + [f"{net}.{i}.{p}" for net in ("encoder", "decoder") for i in (0, 2) for p in ("weight", "bias")]
    assert sorted(small().state_dict()) == sorted(keys)  # what saved runs hold


def test_loss_terms_and_censored_empty_cells():
    model = small(beta=0.0, energy_weight=0.0)
    x, y = torch.rand(6, 1, 1, 504) * 0.5, torch.rand(6, 1) * 99 + 1
    terms = model.loss(x, y, "model")
    assert set(terms) == {"loss", "rec", "kl", "energy"}
    assert torch.isclose(terms["loss"], terms["rec"])
    # an empty cell costs -log P(h + sigma eps <= 0): next to nothing when the decoder output is far below 0
    for p in model.decoder[-1].parameters():
        torch.nn.init.constant_(p, -1.0)
    assert 0 <= model.loss(torch.zeros(6, 1, 1, 504), y, "model")["rec"] < 1e-3
    with pytest.raises(ConfigError):
        model.loss(x, None, "model")
    with pytest.raises(ConfigError):
        CaloVAEConfig(sigma=0.0).validate()


def test_one_step_lowers_the_loss():
    model = small()
    x, y = torch.rand(16, 1, 1, 504) * 0.4, torch.rand(16, 1) * 99 + 1
    torch.manual_seed(0)
    first = model.loss(x, y, "model")["loss"]
    first.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= 1e-4 * p.grad
    torch.manual_seed(0)
    assert model.loss(x, y, "model")["loss"] < first


def test_run_folder_round_trip(tmp_path):
    showers = simulate("eplus", 120, seed=4)
    data, stats, _ = to_dataset(showers, "tiny.h5", 0.1, 0.1, seed=0)
    run = latentlab.train("calo-vae", data=data, epochs=2, batch_size=32, progress=False, out=str(tmp_path / "run"),
                          **SMALL, **stats)
    model = latentlab.load(run.dir)
    assert isinstance(model, CaloVAE) and model.cfg.response_slope == pytest.approx(stats["response_slope"])
    e = torch.tensor([5.0, 50.0])
    a = model.generate(e, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(a, run.model.generate(e, generator=torch.Generator().manual_seed(2)))
