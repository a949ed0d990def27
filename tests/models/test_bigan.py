"""BiGAN / ALI: shapes, the joint discriminator and the reversed game of G and E, one step per group, the run folder."""
import importlib

import pytest
import torch
import torch.nn.functional as F

import latentlab
from latentlab.config import train_defaults
from latentlab.errors import ConfigError, LatentlabError
from latentlab.models.base import Encoder, LatentGenerator, Sampler
from latentlab.models.bigan import BiGAN, BiGANConfig
from latentlab.nn.losses import discriminator_bce

train_module = importlib.import_module("latentlab.training.loop")
SMALL = dict(dataset="digits", epochs=1, batch_size=64, progress=False, latent_dim=4, hidden=32)


def small_model(**kw):
    return BiGAN(BiGANConfig(**{"latent_dim": 4, "hidden": 32, "channels": 4, **kw}), (1, 8, 8))


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_shapes_and_terms(arch):
    torch.manual_seed(0)
    model = small_model(arch=arch)
    x = torch.rand(6, 1, 8, 8)
    d = model.loss(x, None, "discriminator")
    g = model.loss(x, None, "generator")
    assert {"loss", "d_real", "d_fake"} <= d.keys() and {"loss", "d_real", "d_fake", "grad_norm"} <= g.keys()
    g["loss"].backward()  # grad_norm is read off the step's backward pass
    assert all(torch.isfinite(v) for terms in (d, g) for v in terms.values()) and float(g["grad_norm"]) > 0
    model.eval()
    assert {"loss", "d_real", "d_fake", "g_loss", "rec_mse"} <= model.evaluate(x, None).keys()
    codes = model.latent(x)
    assert codes.shape == (6, 4) and model.reconstruct(x).shape == x.shape
    torch.testing.assert_close(model.reconstruct(x), model.generate(codes))
    images = model.sample(5)
    assert images.shape == (5, 1, 8, 8) and images.min() >= 0 and images.max() <= 1
    assert model.fixed_input.shape == (64, 4) and model.schedule() == ["discriminator", "generator"]
    assert isinstance(model, (Sampler, LatentGenerator, Encoder))
    defaults = train_defaults(BiGAN)
    assert (defaults["lr"], defaults["beta1"], defaults["beta2"]) == (2e-4, 0.5, 0.999)


@pytest.mark.parametrize("arch,width", [("mlp", 32), ("conv", 2 * 4 * 2 * 2)])
def test_features_are_the_layer_below_the_code(arch, width):
    torch.manual_seed(0)
    model = small_model(arch=arch).eval()
    x = torch.rand(6, 1, 8, 8)
    h = model.features(x)
    assert h.shape == (6, width) and not h.requires_grad
    head = model.encoder.net[-1] if arch == "mlp" else torch.nn.Sequential(*list(model.encoder)[1:])
    code = head(h) if arch == "mlp" else head(h.view(6, -1, 2, 2))
    torch.testing.assert_close(code, model.latent(x))  # E(x) is the code head on these features


def test_generator_group_holds_the_encoder():
    model = small_model()
    groups = {g: {id(p) for p in ps} for g, ps in model.optimizer_groups().items()}
    gen, enc, disc = ({id(p) for p in m.parameters()} for m in (model.generator, model.encoder, model.discriminator))
    assert groups == {"discriminator": disc, "generator": gen | enc}


@pytest.mark.parametrize("gen_loss", ["non-saturating", "minimax"])
def test_losses_on_the_joint_pairs(gen_loss):
    torch.manual_seed(0)
    model = small_model(gen_loss=gen_loss).eval()  # eval: batch norm uses its running statistics, as in the reference below
    x = torch.rand(8, 1, 8, 8)
    with torch.no_grad():
        torch.manual_seed(1)
        d, g = model.discriminator_loss(x)["loss"], model.generator_loss(x)["loss"]
        torch.manual_seed(1)
        z1, z2 = model.noise(8), model.noise(8)
        real = model.discriminator(x, model.encoder(x))["adv"]  # D(x, E(x))
        fake1 = model.discriminator(model.generator(z1), z1)["adv"]  # D(G(z), z)
        fake2 = model.discriminator(model.generator(z2), z2)["adv"]
    assert torch.allclose(d, discriminator_bce(real, fake1))
    if gen_loss == "non-saturating":  # -log D(G(z), z) - log(1 - D(x, E(x))): the labels swapped
        want = F.binary_cross_entropy_with_logits(fake2, torch.ones_like(fake2)) + \
            F.binary_cross_entropy_with_logits(real, torch.zeros_like(real))
    else:  # the negated discriminator loss
        want = -discriminator_bce(real, fake2)
    assert torch.allclose(g, want, atol=1e-6)


@pytest.mark.parametrize("group,moves", [("discriminator", {"discriminator"}), ("generator", {"generator", "encoder"})])
def test_one_step_moves_only_its_group(group, moves):
    torch.manual_seed(0)
    model = small_model()
    groups = model.optimizer_groups()
    opts = {g: torch.optim.Adam(ps, lr=1e-2, betas=(0.5, 0.999)) for g, ps in groups.items()}
    params = dict(model.named_parameters())
    before = {k: v.detach().clone() for k, v in params.items()}
    train_module.Trainer(model, model, groups, opts).step(group, torch.rand(16, 1, 8, 8), None)
    changed = {k.split(".")[0] for k in params if not torch.equal(before[k], params[k])}
    assert changed == moves


def test_a_batch_of_one_image_trains():
    model = small_model()  # training mode: batch norm needs two images, so the batch is doubled
    x = torch.rand(1, 1, 8, 8)
    for group in model.schedule():
        assert all(torch.isfinite(v) for v in model.loss(x, None, group).values()), group


def test_draws_come_from_the_generator_without_autograd():
    model = small_model().eval()
    a = model.sample(4, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(5)
    assert torch.equal(a, model.sample(4, generator=torch.Generator().manual_seed(1)))
    assert not torch.equal(a, model.sample(4, generator=torch.Generator().manual_seed(2)))
    x = torch.rand(2, 1, 8, 8)
    assert not any(t.requires_grad for t in (a, model.latent(x), model.reconstruct(x), model.decode(model.latent(x))))


def test_train_save_load_round_trip(tmp_path):
    run = latentlab.train("bigan", out=str(tmp_path / "run"), **SMALL)
    for name in ("samples.png", "reconstructions.png", "latent.png", "training.gif", "dynamics.png", "report.html"):
        assert (run.dir / name).is_file(), name
    row = latentlab.read_metrics(run.dir)[-1]
    assert {"train_discriminator/d_real", "train_generator/loss", "train_generator/grad_norm", "val_loss", "val_rec_mse"} <= row.keys()
    loaded = latentlab.load(run.dir)
    for k, v in run.model.state_dict().items():
        assert torch.equal(v.cpu(), loaded.state_dict()[k]), k
    x = torch.rand(3, 1, 8, 8)
    torch.testing.assert_close(loaded.reconstruct(x), run.model.reconstruct(x))
    with torch.no_grad():
        assert torch.equal(latentlab.load_decoder(run.dir)(loaded.fixed_input), loaded.generate(loaded.fixed_input))


def test_bad_settings_are_refused():
    for bad in (dict(latent_dim=0), dict(hidden=0), dict(smooth=1.0), dict(gen_loss="wasserstein"), dict(arch="linear")):
        with pytest.raises(ConfigError):
            latentlab.train("bigan", epochs=1, **bad)
    with pytest.raises(LatentlabError, match="not conditional"):
        small_model().sample(4, 1)
