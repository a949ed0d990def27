"""Semi-supervised GAN: shapes, the K-logit discriminator D(x) = Z/(Z+1), the cross-entropy that ignores hidden
labels, feature matching, one step per group, the classifier, the run folder; labels only for sgan."""
import importlib
import json

import pytest
import torch
import torch.nn.functional as F

import latentlab
from latentlab.config import train_defaults
from latentlab.errors import ConfigError, LatentlabError
from latentlab.models.base import LatentGenerator, Sampler, SemiSupervised
from latentlab.models.sgan import SGAN, SGANConfig, supervised_cross_entropy

train_module = importlib.import_module("latentlab.training.loop")
SHAPE = (1, 8, 8)
SMALL = dict(dataset="digits", epochs=1, batch_size=64, progress=False, latent_dim=4, hidden=32)


def small_model(**kw):
    return SGAN(SGANConfig(**{"latent_dim": 4, "hidden": 32, "channels": 4, **kw}), SHAPE, num_classes=10)


def semi_batch(n=8):
    """n images, the first half with hidden labels (-1), the second half labelled."""
    y = torch.arange(n) % 10
    y[: n // 2] = -1
    return torch.rand(n, *SHAPE), y


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_shapes_and_terms(arch):
    torch.manual_seed(0)
    model = small_model(arch=arch)
    x, y = semi_batch()
    d, g = model.loss(x, y, "discriminator"), model.loss(x, y, "generator")
    assert {"loss", "sup", "unsup", "d_real", "d_fake", "acc_labelled"} <= d.keys()
    assert {"loss", "d_fake", "grad_norm"} <= g.keys()
    assert all(v.dim() == 0 and torch.isfinite(v) for terms in (d, g) for v in terms.values())
    model.eval()
    val = model.evaluate(x, torch.arange(8) % 10)
    assert {"loss", "sup", "unsup", "g_loss", "accuracy"} <= val.keys() and 0 <= float(val["accuracy"]) <= 1
    assert model.classify(x).shape == (8,) and model.classify(x).dtype == torch.int64
    p = model.predict_proba(x)
    assert p.shape == (8, 10) and torch.allclose(p.sum(1), torch.ones(8)) and torch.equal(p.argmax(1), model.classify(x))
    images = model.sample(5)
    assert images.shape == (5, *SHAPE) and images.min() >= 0 and images.max() <= 1
    assert model.fixed_input.shape == (64, 4) and model.schedule() == ["discriminator", "generator"]
    assert all(isinstance(model, i) for i in (Sampler, LatentGenerator, SemiSupervised)) and not model.critic


def test_defaults():
    defaults, cfg = train_defaults(SGAN), SGANConfig()
    assert (defaults["lr"], defaults["beta1"], defaults["beta2"], defaults["batch_size"]) == (3e-3, 0.5, 0.999, 100)
    assert (defaults["epochs"], defaults["lr_schedule"]) == (100, "linear") and cfg.weight_norm
    assert (cfg.arch, cfg.gen_loss, cfg.latent_dim) == ("mlp", "feature-matching", 100)
    assert (cfg.hidden, cfg.layers, cfg.g_layers, cfg.noise_in, cfg.noise_hidden, cfg.unsup_weight) == (500, 3, 2, 0.3, 0.5, 0.5)
    model = SGAN(cfg, (1, 28, 28), 10)
    assert [m.out_features for m in model.discriminator.modules() if isinstance(m, torch.nn.Linear)] == [500, 500, 500, 10]


def test_supervised_cross_entropy_ignores_hidden_labels():
    logits = torch.randn(6, 10, requires_grad=True)
    y = torch.tensor([-1, 3, -1, 7, 0, -1])
    ce, acc = supervised_cross_entropy(logits, y)
    known = y >= 0
    assert torch.allclose(ce, F.cross_entropy(logits[known], y[known]))
    assert torch.allclose(acc, (logits[known].argmax(1) == y[known]).float().mean())
    ce.backward()
    assert (logits.grad[~known] == 0).all() and (logits.grad[known] != 0).any()  # the unlabelled rows take no part
    none, acc0 = supervised_cross_entropy(logits, torch.full((6,), -1))
    assert float(none.detach()) == 0 and float(acc0) == 0
    assert float(supervised_cross_entropy(logits, None)[0]) == 0


@pytest.mark.parametrize("gen_loss", ["feature-matching", "non-saturating", "minimax"])
def test_losses_follow_the_equations(gen_loss):
    torch.manual_seed(0)
    model = small_model(gen_loss=gen_loss).eval()  # eval: no noise, batch norm with running statistics
    x, y = semi_batch()
    with torch.no_grad():
        torch.manual_seed(1)
        d = model.discriminator_loss(x, y)
        torch.manual_seed(1)
        g = model.generator_loss(x, y)
        torch.manual_seed(1)
        fake = model.generator(model.noise(len(x)))
        l_real, l_fake = model.discriminator(x)["cls"], model.discriminator(fake)["cls"]  # (B, K)
        f_real, f_fake = model.discriminator.body(x), model.discriminator.body(fake)  # (B, hidden)
    z_real, z_fake = l_real.exp().sum(1), l_fake.exp().sum(1)  # Z(x) = sum_k exp l_k(x)
    d_real, d_fake = z_real / (z_real + 1), z_fake / (z_fake + 1)  # D(x) = Z / (Z + 1)
    unsup = -d_real.log().mean() - (1 - d_fake).log().mean()
    sup = F.cross_entropy(l_real[y >= 0], y[y >= 0])
    assert torch.allclose(d["unsup"], unsup, atol=1e-5) and torch.allclose(d["sup"], sup, atol=1e-5)
    assert torch.allclose(d["loss"], sup + 0.5 * unsup, atol=1e-5)
    assert torch.allclose(d["d_real"], d_real.mean()) and torch.allclose(d["d_fake"], d_fake.mean())
    want = {"feature-matching": (f_real.mean(0) - f_fake.mean(0)).pow(2).mean(),
            "non-saturating": -d_fake.log().mean(), "minimax": (1 - d_fake).log().mean()}[gen_loss]
    assert torch.allclose(g["loss"], want, atol=1e-5)


def test_noise_only_in_training():
    torch.manual_seed(0)
    model = small_model()
    x = torch.rand(4, *SHAPE)
    assert not torch.equal(model.discriminate(x)[1], model.discriminate(x)[1])  # training: Gaussian noise
    model.eval()
    assert torch.equal(model.discriminate(x)[1], model.discriminate(x)[1])
    quiet = small_model(noise_in=0.0, noise_hidden=0.0)
    assert torch.equal(quiet.discriminate(x)[1], quiet.discriminate(x)[1])


@pytest.mark.parametrize("group", ["discriminator", "generator"])
def test_one_step_moves_only_its_group(group):
    torch.manual_seed(0)
    model = small_model()
    groups = model.optimizer_groups()
    opts = {g: torch.optim.Adam(ps, lr=1e-2, betas=(0.5, 0.999)) for g, ps in groups.items()}
    params = dict(model.named_parameters())
    before = {k: v.detach().clone() for k, v in params.items()}
    terms = train_module.Trainer(model, model, groups, opts).step(group, *semi_batch(16))
    assert all(isinstance(v, float) for v in terms.values())
    changed = {k.split(".")[0] for k in params if not torch.equal(before[k], params[k])}
    assert changed == {group}


def test_a_batch_of_one_image_trains():
    model = small_model()  # training mode: the generator's batch norm needs two images, so the batch is doubled
    for group in model.schedule():
        assert all(torch.isfinite(v) for v in model.loss(torch.rand(1, *SHAPE), torch.tensor([-1]), group).values()), group


def test_draws_come_from_the_generator_without_autograd():
    model = small_model().eval()
    a = model.sample(4, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(5)
    assert torch.equal(a, model.sample(4, generator=torch.Generator().manual_seed(1)))
    assert not torch.equal(a, model.sample(4, generator=torch.Generator().manual_seed(2)))
    x = torch.rand(3, *SHAPE)
    assert not any(t.requires_grad for t in (a, model.classify(x), model.predict_proba(x), model.class_logits(x)))
    with pytest.raises(LatentlabError, match="not conditional"):
        model.sample(4, 1)


def test_train_save_load_round_trip(tmp_path):
    run = latentlab.train("sgan", out=str(tmp_path / "run"), labels=20, **SMALL)
    config = json.loads((run.dir / "config.json").read_text())
    assert config["train"]["labels"] == 20 and config["train"]["batch_size"] == 64
    kept = config["data"]["labelled"]
    assert len(kept) == 20 and kept == latentlab.data.load_dataset("digits", labels=20).labelled.tolist()
    row = latentlab.read_metrics(run.dir)[-1]
    assert {"train_discriminator/sup", "train_discriminator/unsup", "train_generator/grad_norm", "val_loss",
            "val_accuracy"} <= row.keys()
    for name in ("samples.png", "training.gif", "dynamics.png", "report.html"):
        assert (run.dir / name).is_file(), name
    loaded = latentlab.load(run.dir)
    for k, v in run.model.state_dict().items():
        assert torch.equal(v.cpu(), loaded.state_dict()[k]), k
    x = torch.rand(5, *SHAPE)
    assert torch.equal(loaded.classify(x), run.model.classify(x))
    assert isinstance(loaded, SemiSupervised) and loaded.num_classes == 10
    resumed = latentlab.train("sgan", resume=run.dir, epochs=2, progress=False)  # the same labelled images again
    assert len(resumed.metrics) == 2 and json.loads((run.dir / "config.json").read_text())["data"]["labelled"] == kept


def test_data_given_in_memory_carry_their_labels(tmp_path):
    data = latentlab.data.load_dataset("digits", labels=20)
    run = latentlab.train("sgan", data=data, out=str(tmp_path / "run"), **SMALL)
    assert run.config.labels == 20 and json.loads((run.dir / "config.json").read_text())["data"]["labelled"] == data.labelled.tolist()
    with pytest.raises(ConfigError, match="cannot take effect"):
        latentlab.train("sgan", data=data, labels=30, out=str(tmp_path / "other"), **SMALL)


def test_labels_are_for_sgan_only(tmp_path):
    for name in ("cgan", "vae"):
        with pytest.raises(ConfigError, match="semi-supervised"):
            latentlab.train(name, out=str(tmp_path / name), labels=20, **SMALL)
    with pytest.raises(ConfigError, match="fewer than the 10 classes"):
        latentlab.train("sgan", out=str(tmp_path / "few"), labels=5, **SMALL)


def test_bad_settings_are_refused():
    for bad in (dict(latent_dim=0), dict(hidden=0), dict(g_layers=0), dict(noise_in=-0.1), dict(unsup_weight=float("nan")),
                dict(smooth=1.0), dict(gen_loss="wasserstein"), dict(arch="linear")):
        with pytest.raises(ConfigError):
            latentlab.train("sgan", epochs=1, **bad)
    with pytest.raises(ConfigError, match="needs a labelled dataset"):
        SGAN(SGANConfig(), SHAPE, num_classes=None)


def test_weight_norm_discriminator_trains_saves_and_loads(tmp_path):
    torch.manual_seed(0)
    model = small_model(weight_norm=True)
    layers = [m for m in model.discriminator.modules() if isinstance(m, torch.nn.Linear)]
    assert layers and all(nn_utils_parametrized(m) for m in layers)
    w = layers[0].weight  # g v / ||v||: each output unit's weight vector has norm g
    g = layers[0].parametrizations.weight.original0
    assert torch.allclose(w.norm(dim=1, keepdim=True), g.abs(), atol=1e-6)
    run = latentlab.train("sgan", out=str(tmp_path / "run"), labels=20, weight_norm=True, **SMALL)
    loaded = latentlab.load(run.dir)
    assert loaded.cfg.weight_norm
    for k, v in run.model.state_dict().items():
        assert torch.equal(v.cpu(), loaded.state_dict()[k]), k
    x = torch.rand(5, *SHAPE)
    assert torch.equal(loaded.class_logits(x), run.model.eval().class_logits(x))


def nn_utils_parametrized(module) -> bool:
    return torch.nn.utils.parametrize.is_parametrized(module, "weight")
