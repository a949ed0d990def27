"""Adversarial autoencoder: shapes, the three phases and what each steps, the prior as the real side, the run folder."""
import importlib

import pytest
import torch

import latentlab
from latentlab.config import train_defaults
from latentlab.errors import ConfigError, LatentlabError
from latentlab.models.aae import AAE, AAEConfig
from latentlab.models.base import Encoder, LatentGenerator, LikelihoodModel, Sampler
from latentlab.nn.losses import discriminator_bce, generator_bce

train_module = importlib.import_module("latentlab.training.loop")
SMALL = dict(dataset="digits", epochs=1, batch_size=64, progress=False, latent_dim=4, hidden=32, layers=1, d_hidden=16)


def small_model(**kw):
    return AAE(AAEConfig(**{"latent_dim": 4, "hidden": 32, "layers": 1, "channels": 4, "d_hidden": 16, **kw}), (1, 8, 8))


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_shapes_and_terms(arch):
    torch.manual_seed(0)
    model = small_model(arch=arch)
    x = torch.rand(6, 1, 8, 8)
    assert model.schedule() == ["reconstruction", "discriminator", "generator"]
    rec, d, g = (model.loss(x, None, group) for group in model.schedule())
    assert rec.keys() == {"loss", "rec"} and {"loss", "d_real", "d_fake", "code_std"} <= d.keys() and {"loss", "d_fake"} <= g.keys()
    assert all(torch.isfinite(v) for terms in (rec, d, g) for v in terms.values())
    assert 0 < float(d["d_real"]) < 1 and 0 < float(d["d_fake"]) < 1
    assert model.latent(x).shape == (6, 4) and model.reconstruct(x).shape == x.shape
    assert {"loss", "rec", "d_loss", "d_real", "d_fake", "g_loss", "code_std"} <= model.evaluate(x, None).keys()
    images = model.sample(5)
    assert images.shape == (5, 1, 8, 8) and images.min() >= 0 and images.max() <= 1
    assert isinstance(model, (Sampler, Encoder)) and not isinstance(model, (LikelihoodModel, LatentGenerator))
    defaults = train_defaults(AAE)
    assert (defaults["lr"], defaults["beta1"], defaults["beta2"]) == (2e-4, 0.5, 0.999)


def test_groups_follow_the_paper():
    model = small_model()
    groups = {g: {id(p) for p in ps} for g, ps in model.optimizer_groups().items()}
    enc, dec, disc = ({id(p) for p in m.parameters()} for m in (model.encoder, model.decoder, model.discriminator))
    assert groups == {"reconstruction": enc | dec, "discriminator": disc, "generator": enc}


def test_prior_draws_are_real_and_codes_fake():
    torch.manual_seed(0)
    model = small_model()
    x = torch.rand(8, 1, 8, 8)
    z = torch.randn(8, 4)
    model.prior = lambda n, generator=None: z  # the discriminator's real side
    with torch.no_grad():
        codes = model.encoder(x)
        want_d = discriminator_bce(model.discriminator(z), model.discriminator(codes))
        want_g = generator_bce(model.discriminator(codes), "non-saturating")
        assert torch.allclose(model.discriminator_loss(x)["loss"], want_d)
        assert torch.allclose(model.generator_loss(x)["loss"], want_g)


@pytest.mark.parametrize("group,moves", [("reconstruction", {"encoder", "decoder"}), ("discriminator", {"discriminator"}),
                                         ("generator", {"encoder"})])
def test_one_step_moves_only_its_group(group, moves):
    torch.manual_seed(0)
    model = small_model()
    groups = model.optimizer_groups()
    opts = {g: torch.optim.Adam(ps, lr=1e-2) for g, ps in groups.items()}
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train_module.Trainer(model, model, groups, opts).step(group, torch.rand(16, 1, 8, 8), None)
    after = model.state_dict()
    changed = {k.split(".")[0] for k in before if not torch.equal(before[k], after[k])}
    assert changed == moves


def test_a_batch_of_one_image_is_finite():
    model = small_model()
    x = torch.rand(1, 1, 8, 8)
    for group in model.schedule():
        assert all(torch.isfinite(v) for v in model.loss(x, None, group).values()), group


def test_sample_from_the_generator_without_autograd():
    model = small_model()
    a = model.sample(4, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(5)
    assert torch.equal(a, model.sample(4, generator=torch.Generator().manual_seed(1)))
    assert not torch.equal(a, model.sample(4, generator=torch.Generator().manual_seed(2)))
    assert not a.requires_grad and not model.latent(torch.rand(2, 1, 8, 8)).requires_grad
    z = torch.randn(3, 4, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(model.sample(3, generator=torch.Generator().manual_seed(1)), model.decode(z))


def test_train_save_load_round_trip(tmp_path):
    run = latentlab.train("aae", out=str(tmp_path / "run"), **SMALL)
    for name in ("samples.png", "reconstructions.png", "latent.png", "losses.png", "report.html"):
        assert (run.dir / name).is_file(), name
    row = latentlab.read_metrics(run.dir)[-1]
    assert {"train_reconstruction/loss", "train_discriminator/d_real", "train_generator/loss", "val_loss", "val_code_std"} <= row.keys()
    loaded = latentlab.load(run.dir)
    for k, v in run.model.state_dict().items():
        assert torch.equal(v.cpu(), loaded.state_dict()[k]), k
    x = torch.rand(3, 1, 8, 8)
    torch.testing.assert_close(loaded.reconstruct(x), run.model.reconstruct(x))


def test_bad_settings_are_refused():
    for bad in (dict(latent_dim=0), dict(d_hidden=0), dict(d_layers=0), dict(gen_loss="wasserstein"), dict(arch="linear")):
        with pytest.raises(ConfigError):
            latentlab.train("aae", epochs=1, **bad)
    with pytest.raises(LatentlabError, match="not conditional"):
        small_model().sample(4, 1)
