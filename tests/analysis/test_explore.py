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


# --- the interactive explorer's coordinates ------------------------------------------------------
@pytest.fixture(scope="module")
def gans():
    from latentlab.models import get_model_class
    torch.manual_seed(0)
    gan, cgan = get_model_class("gan"), get_model_class("cgan")
    return {"gan": gan(gan.Config(latent_dim=8, hidden=32, layers=1), (1, 8, 8)).eval(),
            "cgan": cgan(cgan.Config(latent_dim=8, arch="mlp", hidden=32, layers=1), (1, 8, 8), num_classes=10).eval()}


def test_latent_space_pca_of_codes(runs, test_split):
    model = runs["vae4"]
    space = explore.latent_space(model, test_split, n=200, directions=3)
    z = explore.codes(model, test_split.x[:200])
    assert space.dim == 4 and space.basis.shape == (3, 4) and space.names == ["PC1", "PC2", "PC3"]
    assert torch.allclose(space.basis @ space.basis.T, torch.eye(3), atol=1e-5)  # orthonormal directions
    assert torch.allclose(space.origin, z.mean(0), atol=1e-5)
    scores = (z - z.mean(0)) @ space.basis.T  # (N, 3)
    assert torch.allclose(scores.std(0), space.scale, rtol=1e-3)  # a slider step of 1 is one standard deviation
    assert torch.allclose(space.xy, scores[:, :2], atol=1e-5) and space.axes[0].startswith("PC1 (")
    assert torch.equal(space.labels, test_split.y[:200]) and "principal components" in space.note
    xy = torch.tensor([0.3, -0.2])
    assert torch.allclose(space.to_xy(space.from_xy(xy)), xy, atol=1e-6)  # the inverse transform lands on the point
    c = torch.tensor([1.0, -2.0, 0.5])
    assert torch.allclose(space.coords(space.at(c)), c, atol=1e-5)
    z0 = z[7]
    moved = space.move(z0, c)
    assert torch.allclose(space.coords(moved), c, atol=1e-5)
    rest = lambda v: v - space.origin - ((v - space.origin) @ space.basis.T) @ space.basis  # off the 3 directions
    assert torch.allclose(rest(moved), rest(z0), atol=1e-5)  # a slider moves z only along its direction


def test_latent_space_exact_for_2d_and_1d(runs, test_split):
    space = explore.latent_space(runs["vae2"], test_split, n=100)
    z = explore.codes(runs["vae2"], test_split.x[:100])
    assert torch.allclose(space.xy, z) and space.axes == ("z1", "z2") and space.names == ["z1", "z2"]
    assert torch.equal(space.from_xy(torch.tensor([0.25, -1.5])), torch.tensor([0.25, -1.5]))  # exact: the map is z
    assert torch.allclose(space.scale, z.std(0))
    torch.manual_seed(0)
    one = VAE(VAEConfig(latent_dim=1, hidden=16), (1, 8, 8)).eval()
    space = explore.latent_space(one, Split(test_split.x[:50], None), n=50)
    assert space.xy.shape == (50, 2) and torch.all(space.xy[:, 1] == 0) and space.labels is None and "no labels" in space.note
    assert space.from_xy(torch.tensor([0.7, 3.0])).tolist() == pytest.approx([0.7])
    cvae = explore.latent_space(runs["cvae"], test_split, n=50)  # codes taken with each image's own label
    assert cvae.xy.shape == (50, 2)


def test_latent_space_of_a_gan_and_of_a_model_without_latent(gans):
    space = explore.latent_space(gans["gan"], None, directions=3)
    assert space.xy is None and space.names == ["z1", "z2", "z3"] and "no encoder" in space.note
    assert torch.equal(space.at(torch.tensor([1.0, 2.0, 3.0])), torch.tensor([1.0, 2.0, 3.0, 0, 0, 0, 0, 0]))
    with pytest.raises(LatentlabError, match="no map"):
        space.from_xy(torch.zeros(2))
    from latentlab.models import get_model_class
    gaussian = get_model_class("gaussian")
    with pytest.raises(LatentlabError, match="no latent space"):
        explore.latent_space(gaussian(gaussian.Config(), (1, 8, 8)), None)


def test_render_and_prior_codes(runs, gans):
    z = torch.randn(3, 2)
    assert torch.equal(explore.render(runs["vae2"], z), explore.decode(runs["vae2"], z))
    g = gans["gan"]
    draws = explore.prior_codes(g, 2, torch.Generator().manual_seed(5))
    assert draws.shape == (2, 8) and torch.equal(draws, explore.prior_codes(g, 2, torch.Generator().manual_seed(5)))
    assert torch.allclose(explore.render(g, draws), g.generate(draws))  # the GAN's input is z itself
    cg = gans["cgan"]
    a, b = explore.render(cg, draws, label=3), explore.render(cg, draws, label=4)
    assert a.shape == (2, 1, 8, 8) and not torch.allclose(a, b)  # the label is the one-hot part of the input
    with pytest.raises(LatentlabError, match="conditional"):
        explore.render(cg, draws)
    from latentlab.models.ae import AE, AEConfig
    ae = AE(AEConfig(latent_dim=3, hidden=16), (1, 8, 8)).eval()
    ae.latent_mean.fill_(5.0)
    assert explore.prior_codes(ae, 500, torch.Generator().manual_seed(0)).mean().item() == pytest.approx(5.0, abs=0.2)


def test_interpolation_with_a_label_and_between_gan_draws(runs, gans, test_split):
    cvae = runs["cvae"]
    za, zb = explore.codes_of(cvae, test_split, [0, 1])  # each encoded with its own label
    images = explore.interpolate(cvae, za, zb, steps=4, method="slerp", label=6)
    assert images.shape == (4, 1, 8, 8) and torch.allclose(images[0], explore.decode(cvae, za[None], 6)[0])
    with pytest.raises(LatentlabError, match="conditional"):
        explore.interpolate(cvae, za, zb, steps=4)
    with pytest.raises(LatentlabError, match="outside the test split"):
        explore.codes_of(cvae, test_split, [0, len(test_split)])
    g = gans["gan"]
    za, zb = explore.prior_codes(g, 2, torch.Generator().manual_seed(0))
    assert explore.interpolate(g, za, zb, steps=5, method="linear").shape == (5, 1, 8, 8)


# --- a GAN's latent: seeds, concepts, arithmetic and attribute editing -------------------------------
def test_gan_interpolation_between_seeds_ends_at_the_draws(gans):
    g = gans["gan"]
    za, zb = explore.seed_codes(g, [3, 42])
    assert torch.equal(za, explore.prior_codes(g, 1, torch.Generator().manual_seed(3))[0])  # the explorer page's draw
    images, per_row = explore.interpolate_seeds(g, 3, 42, steps=5)
    assert images.shape == (10, 1, 8, 8) and per_row == 5  # a linear row, a slerp row
    for row in (0, 1):
        assert torch.allclose(images[5 * row], g.generate(za[None])[0], atol=1e-5)
        assert torch.allclose(images[5 * row + 4], g.generate(zb[None])[0], atol=1e-5)
    assert not torch.allclose(images[2], images[7])  # the midpoints differ: the line passes inside the sphere
    cg = gans["cgan"]
    images, _ = explore.interpolate_seeds(cg, 3, 42, steps=3, methods=("linear",), label=6)
    assert torch.allclose(images[0], explore.render(cg, za[None], label=6)[0])
    with pytest.raises(LatentlabError, match="conditional"):
        explore.interpolate_seeds(cg, 3, 42)


def test_codes_chosen_by_hand(tmp_path):
    np.save(tmp_path / "z.npy", np.zeros((3, 8), np.float32))
    assert explore.load_codes(tmp_path / "z.npy", 8).shape == (3, 8)
    with pytest.raises(LatentlabError, match=r"must be \(N, 4\)"):
        explore.load_codes(tmp_path / "z.npy", 4)
    np.save(tmp_path / "bad.npy", np.full((2, 8), np.nan))
    with pytest.raises(LatentlabError, match="NaN"):
        explore.load_codes(tmp_path / "bad.npy", 8)
    with pytest.raises(LatentlabError, match="existing .npy"):
        explore.load_codes(tmp_path / "none.npy", 8)


def brightness(images: torch.Tensor) -> np.ndarray:
    """A stand-in classifier: class 1 for images brighter than 0.5 on average, else 0."""
    return (images.mean((1, 2, 3)) > 0.5).long().numpy()


def test_sample_concepts_group_generator_inputs_by_the_classifier(gans):
    g = gans["gan"]
    c = explore.sample_concepts(g, brightness, ["dark", "bright"], pool=300, per_class=5,
                                generator=torch.Generator().manual_seed(0))
    assert sum(c.found.values()) == 300 and set(c.codes) == {0, 1}  # the untrained G draws both
    again = explore.sample_concepts(g, brightness, ["dark", "bright"], pool=300, per_class=5,
                                    generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(c.codes[k], again.codes[k]) for k in c.codes)  # every draw from the generator
    for k, z in c.codes.items():
        assert z.shape == (5, 8) and (brightness(g.generate(z)) == k).all()  # each member's image is of its class
    d = c.direction(1, 0)
    assert torch.allclose(d, c.codes[1].mean(0) - c.codes[0].mean(0))  # the difference of the group means
    rows = explore.sample_arithmetic(g, c, to=1, frm=0, n=3)
    assert torch.allclose(rows[:3], g.generate(c.codes[0][:3])) and torch.allclose(rows[3:], g.generate(c.codes[0][:3] + d))
    grid = explore.edit(g, c, frm=0, to=1, strengths=[0, 0.5, 2], n=4)  # a row per sample, a column per strength
    assert grid.shape == (12, 1, 8, 8)
    assert torch.allclose(grid[0::3], g.generate(c.codes[0][:4]))  # strength 0: the samples themselves
    assert torch.allclose(grid[2::3], g.generate(c.codes[0][:4] + 2 * d), atol=1e-6)
    with pytest.raises(LatentlabError, match="class 2 is not among"):
        explore.edit(g, c, frm=0, to=2)
    lonely = explore.sample_concepts(g, lambda x: np.zeros(len(x), int), ["a", "b"], pool=20, per_class=2)
    with pytest.raises(LatentlabError, match="none of the 20 samples was classified 1.*--pool"):
        explore.sample_arithmetic(g, lonely, to=1, frm=0)
    with pytest.raises(LatentlabError, match="classifier"):
        explore.sample_concepts(g)  # an unconditional GAN's samples have no labels of their own


def test_a_conditional_gans_concepts_are_its_labels(gans):
    cg = gans["cgan"]
    c = explore.sample_concepts(cg, per_class=4, generator=torch.Generator().manual_seed(1))
    assert set(c.codes) == set(range(10)) and c.codes[7].shape == (4, 8 + 10)
    assert torch.equal(c.codes[7][:, 8:], torch.eye(10)[7].expand(4, 10))  # drawn with label 7
    d = c.direction(7, 1)
    assert torch.equal(d[8:], torch.eye(10)[7] - torch.eye(10)[1])  # the label moves with the arithmetic
    assert explore.sample_arithmetic(cg, c, 7, 1, n=4).shape == (8, 1, 8, 8)


def test_attribute_direction_of_an_encoder_is_the_difference_of_class_means(runs, test_split):
    model = runs["vae4"]
    c = explore.image_concepts(model, test_split)
    means = explore.class_means(model, test_split)
    assert torch.allclose(c.direction(7, 1), means[7] - means[1], atol=1e-6)
    assert c.found[1] == int((test_split.y == 1).sum())
    ones = np.flatnonzero(test_split.y.numpy() == 1)[:3]
    z = explore.codes(model, test_split.x[ones])
    grid = explore.edit(model, c, frm=1, to=7, strengths=[0, 1], n=3)
    assert grid.shape == (6, 1, 8, 8)
    assert torch.allclose(grid[0::2], model.decode(z), atol=1e-6)  # strength 0: the reconstructions
    assert torch.allclose(grid[1::2], model.decode(z + means[7] - means[1]), atol=1e-5)
    chosen = explore.edit(model, c, frm=1, to=7, strengths=[1], base=explore.codes_of(model, test_split, [0, 5]))
    assert chosen.shape == (2, 1, 8, 8)
    with pytest.raises(LatentlabError, match="class 12"):
        c.direction(12, 1)
    with pytest.raises(LatentlabError, match="unconditional"):
        explore.image_concepts(runs["cvae"], test_split)
    with pytest.raises(LatentlabError, match="no labels"):
        explore.image_concepts(model, Split(test_split.x, None))
