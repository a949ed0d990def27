import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import latentlab
from latentlab.models.base import GenerativeModel
from latentlab.models.cgan import CGAN, CGANConfig
from latentlab.models.cvae import CVAE, CVAEConfig
from latentlab.models.gan import GAN, GANConfig
from latentlab.models.vae import VAE, VAEConfig
from latentlab.viz.plots import grid, make_pictures, plot_dynamics


def test_grid_tiles_images_with_padding():
    images = torch.zeros(6, 1, 4, 5)
    images[1] = 1.0
    tiles = grid(images, nrow=3, pad=1)
    assert tiles.shape == (2 * 5 + 1, 3 * 6 + 1, 1) and tiles.dtype.name == "uint8"
    assert tiles[1:5, 7:12].min() == 255  # the second image is white
    assert tiles[1:5, 1:6].max() == 0  # the first is black


def test_importing_the_package_and_the_plots_loads_no_heavy_library():
    code = ("import sys, latentlab, latentlab.viz.plots, latentlab.training.loop; "
            "print(sorted(m for m in ('matplotlib', 'h5py', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.fixture(scope="module")
def digits():
    return latentlab.load_dataset("digits")


def names(run_dir):
    return sorted(p.name for p in run_dir.iterdir())


def test_pictures_follow_the_interfaces(tmp_path, digits):
    torch.manual_seed(0)
    shape, k = digits.shape, digits.num_classes
    cases = {
        "vae": (VAE(VAEConfig(latent_dim=4, hidden=16), shape), ["latent.png", "reconstructions.png", "samples.png"]),
        "cvae": (CVAE(CVAEConfig(latent_dim=4, hidden=16), shape, k), ["latent.png", "reconstructions.png", "samples.png"]),
        "gan": (GAN(GANConfig(latent_dim=4, hidden=16), shape), ["samples.png"]),
        "cgan": (CGAN(CGANConfig(latent_dim=4, hidden=16), shape, k), ["samples.png"]),
    }
    for name, (model, pictures) in cases.items():
        (tmp_path / name).mkdir()
        make_pictures(model, digits, tmp_path / name, metrics=[])
        assert names(tmp_path / name) == sorted(pictures + ["report.html"]), name
    # a conditional sampler: one row of 10 per label
    assert np.asarray(Image.open(tmp_path / "cgan" / "samples.png")).shape[:2] == \
        np.asarray(Image.open(tmp_path / "cvae" / "samples.png")).shape[:2]


def test_a_conditional_encoder_without_test_labels_only_samples(tmp_path, digits):
    unlabelled = dataclasses.replace(digits, test=dataclasses.replace(digits.test, y=None))
    make_pictures(CVAE(CVAEConfig(latent_dim=4, hidden=16), digits.shape, digits.num_classes), unlabelled, tmp_path, [])
    assert names(tmp_path) == ["report.html", "samples.png"]


def test_samples_come_from_their_own_seeded_generator(tmp_path, digits):
    torch.manual_seed(0)
    model = VAE(VAEConfig(latent_dim=4, hidden=16), digits.shape)
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        torch.manual_seed(123 if run == "a" else 456)  # whatever the global RNG holds
        rng = torch.get_rng_state()
        make_pictures(model, digits, tmp_path / run, [])
        assert torch.equal(torch.get_rng_state(), rng)  # and it is left alone
    assert (tmp_path / "a" / "samples.png").read_bytes() == (tmp_path / "b" / "samples.png").read_bytes()


def test_a_model_with_no_interface_gets_the_losses_and_the_report(tmp_path, digits):
    class Bare(GenerativeModel):
        pass

    model = Bare(None, digits.shape)
    model.w = torch.nn.Parameter(torch.zeros(()))
    make_pictures(model, digits, tmp_path, [{"epoch": 1, "train_loss": 1.0}])
    assert names(tmp_path) == ["losses.png", "report.html"]


@pytest.mark.parametrize("critic", [False, True])
def test_plot_dynamics(tmp_path, critic):
    rows = [{"epoch": e, "train_discriminator/loss": 1.0, "train_generator/loss": 2.0, "train_discriminator/d_real": 0.6,
             "train_discriminator/d_fake": 0.4} for e in (1, 2)]
    assert plot_dynamics(rows, tmp_path / "dynamics.png", critic=critic).is_file()
    assert plot_dynamics([], tmp_path / "none.png") is None
