"""DCGAN: the design rules in the layers, shapes for 8x8 and 28x28, one step, the run folder."""
import importlib

import numpy as np
import pytest
import torch
from torch import nn

import latentlab
from latentlab.config import train_defaults
from latentlab.errors import ConfigError
from latentlab.models.dcgan import DCGAN, DCGANConfig

train_module = importlib.import_module("latentlab.training.loop")


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 12, 10)])
def test_shapes(shape):
    torch.manual_seed(0)
    model = DCGAN(DCGANConfig(latent_dim=8, channels=4), shape)
    images = model.sample(3)
    assert images.shape == (3, *shape) and images.min() >= 0 and images.max() <= 1
    assert model.discriminator(images)["adv"].shape == (3, 1)


def test_design_rules():
    model = DCGAN(DCGANConfig(latent_dim=8, channels=4), (1, 28, 28))
    g, d = list(model.generator.modules()), list(model.discriminator.modules())
    assert not any(isinstance(m, nn.Linear) for m in g + d)  # no fully connected layers at all
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in g) == 3 and sum(isinstance(m, nn.Conv2d) for m in d) == 3
    assert all(m.stride == (2, 2) for m in d if isinstance(m, nn.Conv2d) and m.kernel_size == (4, 4))
    assert any(isinstance(m, nn.ReLU) for m in g) and not any(isinstance(m, nn.LeakyReLU) for m in g)
    assert any(isinstance(m, nn.LeakyReLU) for m in d) and not any(isinstance(m, nn.ReLU) for m in d)
    # batch norm everywhere but D's input layer and G's output layer
    gen_layers = list(model.generator.net)
    assert isinstance(gen_layers[-2], nn.ConvTranspose2d) and isinstance(gen_layers[-1], nn.Sigmoid)
    body = list(model.discriminator.body.net)
    assert isinstance(body[0], nn.Conv2d) and isinstance(body[1], nn.LeakyReLU)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in g) == 2 and sum(isinstance(m, nn.BatchNorm2d) for m in d) == 1


def test_one_generator_step_leaves_d_alone():
    torch.manual_seed(0)
    model = DCGAN(DCGANConfig(latent_dim=8, channels=4), (1, 8, 8))
    groups = model.optimizer_groups()
    opts = {g: torch.optim.Adam(ps, lr=1e-2) for g, ps in groups.items()}
    d_before = [p.detach().clone() for p in groups["discriminator"]]
    g_before = [p.detach().clone() for p in groups["generator"]]
    train_module.Trainer(model, model, groups, opts).step("generator", torch.rand(8, 1, 8, 8), None)
    assert all(torch.equal(p, q) for p, q in zip(groups["discriminator"], d_before))
    assert any(not torch.equal(p, q) for p, q in zip(groups["generator"], g_before))


def test_train_save_load_round_trip(tmp_path):
    run = latentlab.train("dcgan", dataset="digits", epochs=1, batch_size=128, latent_dim=8, channels=4, lr=2e-4,
                          out=str(tmp_path / "run"), progress=False)
    assert (run.dir / "training.gif").is_file() and (run.dir / "dynamics.png").is_file()
    loaded = latentlab.load(run.dir)
    for k, v in run.model.state_dict().items():
        assert torch.equal(v.cpu(), loaded.state_dict()[k]), k
    with torch.no_grad():
        assert torch.equal(run.model.generate(run.model.fixed_input), loaded.generate(loaded.fixed_input))


def test_images_too_small_for_two_strided_convs(tmp_path):
    np.save(tmp_path / "tiny.npy", np.random.rand(20, 3, 3).astype(np.float32))
    with pytest.raises(ConfigError, match="at least 4x4"):
        latentlab.train("dcgan", dataset=str(tmp_path / "tiny.npy"), epochs=1, out=str(tmp_path / "run"), progress=False)


def test_training_defaults_are_the_measured_ones():
    """Adam at 2e-3 with DCGAN's betas, 30 epochs (bench/gan_defaults.py); the MLP gan keeps the paper's 2e-4."""
    d = train_defaults(DCGAN)
    assert (d["lr"], d["beta1"], d["beta2"], d["epochs"]) == (2e-3, 0.5, 0.999, 30)
    assert train_defaults(latentlab.models.get_model_class("gan"))["lr"] == 2e-4
