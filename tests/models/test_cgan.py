"""Conditional GAN: labels into both networks, one row per label, label checks, the run folder."""
import importlib

import numpy as np
import pytest
import torch

import latentlab
from latentlab.cli.main import main
from latentlab.errors import ConfigError, LatentlabError
from latentlab.models.base import ConditionalSampler, Encoder
from latentlab.models.cgan import CGAN, CGANConfig

train_module = importlib.import_module("latentlab.training.loop")


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_shapes_and_label_use(arch):
    torch.manual_seed(0)
    model = CGAN(CGANConfig(arch=arch, latent_dim=8, hidden=32, channels=4), (1, 8, 8), num_classes=10)
    assert isinstance(model, ConditionalSampler) and not isinstance(model, Encoder)
    images = model.sample(4, 3)
    assert images.shape == (4, 1, 8, 8) and images.min() >= 0 and images.max() <= 1
    # the same z with another label gives another image: the generator reads the label
    model.eval()
    z = torch.randn(1, 8)
    a = model.generate(torch.cat([z, model.one_hot(torch.tensor([1]))], 1))
    b = model.generate(torch.cat([z, model.one_hot(torch.tensor([2]))], 1))
    assert not torch.allclose(a, b)
    # ... and so does the discriminator
    x = torch.rand(2, 1, 8, 8)
    d1 = model.discriminator(x, model.one_hot(torch.tensor([1, 1])))["adv"]
    d2 = model.discriminator(x, model.one_hot(torch.tensor([2, 2])))["adv"]
    assert not torch.allclose(d1, d2)
    terms = model.loss(x, torch.tensor([0, 5]), "discriminator")
    assert {"loss", "d_real", "d_fake"} <= terms.keys()


def test_fixed_grid_has_one_row_per_label():
    model = CGAN(CGANConfig(latent_dim=8, channels=4), (1, 8, 8), num_classes=10)
    labels = model.fixed_input[:, 8:].argmax(1)
    assert torch.equal(labels, torch.arange(10).repeat_interleave(8))
    assert torch.equal(model.fixed_input[:8, :8], model.fixed_input[8:16, :8])  # same z in every row


def test_label_checks():
    model = CGAN(CGANConfig(latent_dim=8, channels=4), (1, 8, 8), num_classes=10)
    with pytest.raises(LatentlabError, match="conditional"):
        model.sample(4)
    with pytest.raises(LatentlabError, match="outside"):
        model.sample(4, 10)
    assert model.sample(3, torch.tensor([0, 1, 9])).shape == (3, 1, 8, 8)


def test_unlabelled_data_is_refused(tmp_path):
    np.save(tmp_path / "x.npy", np.random.rand(40, 8, 8).astype(np.float32))
    with pytest.raises(ConfigError, match="labelled"):
        latentlab.train("cgan", dataset=str(tmp_path / "x.npy"), epochs=1, out=str(tmp_path / "run"), progress=False)


def test_one_step_and_round_trip(tmp_path):
    torch.manual_seed(0)
    model = CGAN(CGANConfig(arch="mlp", latent_dim=8, hidden=32), (1, 8, 8), num_classes=10)
    groups = model.optimizer_groups()
    opts = {g: torch.optim.Adam(ps, lr=1e-2) for g, ps in groups.items()}
    before = [p.detach().clone() for p in groups["discriminator"]]
    train_module.Trainer(model, model, groups, opts).step("discriminator", torch.rand(8, 1, 8, 8), torch.arange(8))
    assert any(not torch.equal(p, q) for p, q in zip(groups["discriminator"], before))

    out = tmp_path / "run"
    assert main(["train", "cgan", "--dataset", "digits", "--epochs", "1", "--batch-size", "128", "--latent-dim", "8", "--channels", "4",
                 "--out", str(out), "--no-progress"]) == 0
    first, second = latentlab.load(out), latentlab.load(out)
    torch.manual_seed(1)
    a = first.sample(4, 7)
    torch.manual_seed(1)
    assert torch.equal(a, second.sample(4, 7))
    assert (out / "training.gif").is_file() and (out / "samples.png").is_file()
    assert main(["sample", str(out), "--label", "7", "--n", "4", "-o", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (4, 1, 8, 8)
    assert main(["sample", str(out), "--label", "12"]) == 2
    assert main(["sample", str(out)]) == 2
