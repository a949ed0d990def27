"""AC-GAN: the auxiliary classifier shares D's body, the losses it adds, the run folder."""
import importlib

import pytest
import torch

import latentlab
from latentlab.errors import ConfigError
from latentlab.models.acgan import ACGAN, ACGANConfig

train_module = importlib.import_module("latentlab.training.loop")


def small(**kw):
    torch.manual_seed(0)
    return ACGAN(ACGANConfig(latent_dim=8, channels=4, hidden=32, **kw), (1, 8, 8), num_classes=10)


@pytest.mark.parametrize("arch", ["conv", "mlp"])
def test_heads_and_terms(arch):
    model = small(arch=arch)
    x, y = torch.rand(6, 1, 8, 8), torch.randint(10, (6,))
    out = model.discriminator(x)
    assert out["adv"].shape == (6, 1) and out["cls"].shape == (6, 10)
    d = model.loss(x, y, "discriminator")
    g = model.loss(x, y, "generator")
    assert torch.isclose(d["loss"], d["adv"] + d["cls"]) and torch.isclose(g["loss"], g["adv"] + g["cls"])
    assert {"acc_real", "d_real", "d_fake"} <= d.keys() and {"acc_fake", "grad_norm"} <= g.keys()
    assert model.sample(3, 4).shape == (3, 1, 8, 8)


def test_class_weight_zero_is_a_plain_gan_loss():
    model = small(class_weight=0.0)
    x, y = torch.rand(6, 1, 8, 8), torch.randint(10, (6,))
    d = model.loss(x, y, "discriminator")
    assert torch.equal(d["loss"], d["adv"])
    with pytest.raises(ConfigError):
        ACGANConfig(class_weight=-1.0).validate()


def test_classifier_learns_in_d_steps():
    model = small()
    groups = model.optimizer_groups()
    opts = {g: torch.optim.Adam(ps, lr=1e-2, betas=(0.5, 0.999)) for g, ps in groups.items()}
    x = torch.rand(10, 1, 8, 8)
    y = torch.arange(10)
    first = model.loss(x, y, "discriminator")["cls"].item()
    for _ in range(15):
        train_module.Trainer(model, model, groups, opts).step("discriminator", x, y)
    assert model.loss(x, y, "discriminator")["cls"].item() < first


def test_train_save_load_round_trip(tmp_path):
    run = latentlab.train("acgan", dataset="digits", epochs=1, batch_size=128, latent_dim=8, channels=4, lr=2e-4,
                          out=str(tmp_path / "run"), progress=False)
    assert "train_discriminator/acc_real" in run.metrics[-1] and (run.dir / "training.gif").is_file()
    loaded = latentlab.load(run.dir)
    for k, v in run.model.state_dict().items():
        assert torch.equal(v.cpu(), loaded.state_dict()[k]), k
