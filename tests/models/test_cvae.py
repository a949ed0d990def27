"""Conditional VAE: the label feeds both networks; labelled sampling; bad labels; the run folder; the CLI."""
import pytest
import torch

import latentlab
from latentlab.cli.main import main
from latentlab.errors import ConfigError, LatentlabError
from latentlab.models.base import ConditionalEncoder, ConditionalSampler, LikelihoodModel
from latentlab.models.cvae import CVAE, CVAEConfig
from latentlab.models.vae import VAE

SMALL = dict(dataset="digits", epochs=1, batch_size=64, latent_dim=4, hidden=32, binarize="dynamic", progress=False)


def small_cvae(**kw):
    return CVAE(CVAEConfig(latent_dim=4, hidden=32, channels=8, **kw), (1, 8, 8), num_classes=10)


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_shapes_and_the_label_reaches_both_networks(arch):
    torch.manual_seed(0)
    model = small_cvae(arch=arch)
    x, y = torch.bernoulli(torch.rand(6, 1, 8, 8)), torch.arange(6)
    mu, logvar = model.encode(x, y)
    assert mu.shape == logvar.shape == (6, 4)
    assert not torch.allclose(mu, model.encode(x, (y + 1) % 10)[0])  # encoder sees y
    z = torch.randn(6, 4)
    assert not torch.allclose(model.decode(z, y), model.decode(z, (y + 1) % 10))  # decoder sees y
    terms = model.loss(x, y)
    assert {"loss", "rec", "kl", "neg_elbo"} <= terms.keys() and torch.isfinite(terms["loss"])
    assert model.sample(5, 6).shape == (5, 1, 8, 8) and model.reconstruct(x, y).shape == (6, 1, 8, 8)


def test_iwae_objective_and_one_training_step():
    torch.manual_seed(0)
    model = small_cvae(objective="iwae", k=4)
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    terms = model.loss(torch.bernoulli(torch.rand(16, 1, 8, 8)), torch.randint(0, 10, (16,)))
    terms["loss"].backward()
    opt.step()
    assert "neg_iwae" in terms and all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_bad_labels_and_unlabelled_data():
    model = small_cvae()
    with pytest.raises(LatentlabError, match="outside the trained classes"):
        model.sample(3, 10)
    with pytest.raises(LatentlabError, match="give a label"):
        model.sample(3)
    with pytest.raises(LatentlabError, match="labels"):
        model.loss(torch.rand(2, 1, 8, 8), None)
    with pytest.raises(ConfigError, match="labelled data"):
        CVAE(CVAEConfig(), (1, 8, 8), num_classes=None)


def test_run_folder_and_sample_command(tmp_path, capsys):
    run = latentlab.train("cvae", out=str(tmp_path / "run"), **SMALL)
    assert (run.dir / "samples.png").exists()  # the report's grid: one row per label
    model = latentlab.load(run.dir)
    assert isinstance(model, ConditionalSampler) and isinstance(model, ConditionalEncoder) and model.num_classes == 10
    assert isinstance(model, LikelihoodModel) and not isinstance(model, VAE)  # the VAE core, not the unconditional VAE
    torch.manual_seed(0)
    z = torch.randn(4, 4)
    assert torch.allclose(model.decode(z, 6), run.model.decode(z, 6))
    out = tmp_path / "sixes.npy"
    assert main(["sample", str(run.dir), "--label", "6", "--n", "8", "-o", str(out)]) == 0 and out.exists()
    assert main(["sample", str(run.dir), "--label", "12", "--n", "8", "-o", str(out)]) == 2
    assert "outside the trained classes 0..9" in capsys.readouterr().err
