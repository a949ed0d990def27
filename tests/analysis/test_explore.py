"""Latent exploration through the API: map, manifold grid, slerp, interpolation, class arithmetic."""
import numpy as np
import pytest
import torch

import latentlab
from latentlab.analysis import explore
from latentlab.data.dataset import Split
from latentlab.errors import LatentlabError
from latentlab.models.cvae import CVAE, CVAEConfig
from latentlab.models.vae import VAE, VAEConfig



@pytest.fixture(scope="module")
def runs():
    """Untrained small models: every picture is a function of the networks, trained or not."""
    torch.manual_seed(0)
    return {"vae2": VAE(VAEConfig(latent_dim=2, hidden=32), (1, 8, 8)).eval(),
            "vae4": VAE(VAEConfig(latent_dim=4, hidden=32), (1, 8, 8)).eval(),
            "cvae": CVAE(CVAEConfig(latent_dim=2, hidden=32), (1, 8, 8), num_classes=10).eval()}


@pytest.fixture(scope="module")
def test_split():
    return latentlab.load_dataset("digits").test


def test_latent_map(runs, test_split, tmp_path):
    path, note = explore.latent_map(runs["vae2"], test_split, tmp_path / "map.png")
    assert path.exists() and note == ""
    path, note = explore.latent_map(runs["vae4"], Split(test_split.x, None), tmp_path / "pca.png")
    assert path.exists() and "no labels" in note and "principal components" in note
    path, _ = explore.latent_map(runs["cvae"], test_split, tmp_path / "cvae.png")  # encodes with the labels
    assert path.exists()
    with pytest.raises(LatentlabError, match="no labels"):
        explore.latent_map(runs["cvae"], Split(test_split.x, None), tmp_path / "x.png")


def test_manifold_grid(runs, tmp_path):
    images = explore.manifold_grid(runs["vae2"], tmp_path / "grid.png", n=5)
    assert images.shape == (25, 1, 8, 8) and (tmp_path / "grid.png").exists()
    assert not torch.allclose(images[0], images[-1])
    assert explore.manifold_grid(runs["cvae"], None, n=3, label=6).shape == (9, 1, 8, 8)
    with pytest.raises(LatentlabError, match="2-D latent"):
        explore.manifold_grid(runs["vae4"], None)
    with pytest.raises(LatentlabError, match="not conditional"):
        explore.manifold_grid(runs["vae2"], None, label=3)
    with pytest.raises(LatentlabError, match="outside the trained classes"):
        explore.manifold_grid(runs["cvae"], None, label=10)


def test_slerp_keeps_the_norm_and_ends():
    a, b = torch.tensor([3.0, 0.0, 0.0]), torch.tensor([0.0, 3.0, 0.0])
    path = explore.slerp(a, b, torch.linspace(0, 1, 7))
    assert torch.allclose(path[0], a) and torch.allclose(path[-1], b, atol=1e-6)
    assert torch.allclose(path.norm(dim=1), torch.full((7,), 3.0))
    assert torch.allclose(explore.slerp(a, 2 * a, torch.tensor([0.5]))[0], 1.5 * a)  # parallel: the line


def test_interpolation(runs, test_split):
    model = runs["vae4"]
    z = explore.codes(model, test_split.x[[0, 1]])
    for method in explore.METHODS:
        images = explore.interpolate(model, z[0], z[1], steps=6, method=method)
        assert images.shape == (6, 1, 8, 8)
        assert torch.allclose(images[0], model.decode(z[:1])[0], atol=1e-5)
    images, per_row = explore.interpolate_images(model, test_split, 0, 1, steps=6)
    assert images.shape == (2 * 8, 1, 8, 8) and per_row == 8  # linear and slerp rows, inputs at both ends
    images, per_row = explore.interpolate_images(model, test_split, 1, 7, steps=5, methods=("slerp",), by="class")
    assert images.shape == (5, 1, 8, 8) and per_row == 5
    with pytest.raises(LatentlabError, match="outside the test split"):
        explore.interpolate_images(model, test_split, 0, 10_000)
    with pytest.raises(LatentlabError, match="unconditional"):
        explore.interpolate_images(runs["cvae"], test_split, 0, 1)


def test_class_means_and_arithmetic(runs, test_split):
    model = runs["vae4"]
    means = explore.class_means(model, test_split)
    z = explore.codes(model, test_split.x)
    assert means.shape == (10, 4) and torch.allclose(means[3], z[test_split.y == 3].mean(0), atol=1e-5)
    images = explore.arithmetic(model, test_split, to=7, frm=1, n_images=4)
    assert images.shape == (12, 1, 8, 8)
    ones = np.flatnonzero(test_split.y.numpy() == 1)[:4]
    assert torch.equal(images[:4], test_split.x[ones])
    with pytest.raises(LatentlabError, match="class 12"):
        explore.arithmetic(model, test_split, to=12, frm=1)
    with pytest.raises(LatentlabError, match="no labels"):
        explore.class_means(model, Split(test_split.x, None))
