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


def test_the_report_shows_the_sample_metrics_beside_their_floors(tmp_path):
    from latentlab.viz.plots import write_report
    (tmp_path / "config.json").write_text('{"model": "dcgan", "data": {"name": "mnist"}}')
    result = {"test_loss": 0.5, "samples_n": 10000, "samples_reference": 10000, "samples_fd": 12.3, "samples_fd_floor": 2.0,
              "samples_precision": 0.6, "samples_precision_floor": 0.75, "samples_recall": 0.5, "samples_recall_floor": 0.76,
              "samples_density": 0.8, "samples_density_floor": 1.0, "samples_coverage": 0.4, "samples_coverage_floor": 0.9,
              "samples_recognisable": 0.7, "samples_recognisable_ceiling": 0.98, "samples_classes_covered": 10,
              "samples_classes": 10, "samples_class_kl": 0.02, "samples_label_histogram": [1000] * 10,
              "evaluator": "shipped", "evaluator_dataset": "mnist", "evaluator_recipe": 1, "evaluator_sha256": "ab" * 32,
              "evaluator_test_accuracy": 0.99}
    (tmp_path / "eval.json").write_text(__import__("json").dumps(result, indent=2))
    metrics = [{"epoch": e, **{f"train_term_{i}": 1.0 for i in range(30)}} for e in (1, 2)]
    page = write_report(tmp_path, metrics).read_text()
    assert '<table class="samples">' in page and "real images (floor, ceiling)" in page
    assert "FD 12.3 is 6.2x the floor 2: measurably off the data" in page
    assert "<td>floor 2</td>" in page and "ceiling 98%" in page and "70% of the samples are classified" in page
    assert "shipped mnist evaluator" in page and "ab" * 32 in page
    assert "<th>test_loss</th><td>0.5</td>" in page  # the other figures, by name
    assert '"samples_fd"' not in page and page.count("<pre>") == 1  # eval.json is no longer dumped raw (settings are)
    assert '<div class="scroll"><table><tr><th>epoch</th>' in page  # the wide per-epoch table scrolls sideways


@pytest.mark.parametrize("n_test, pictures, skipped", [
    (0, ["samples.png"], ["reconstructions.png (the test split is empty)", "latent.png (the test split has 0 images"]),
    (1, ["reconstructions.png", "samples.png"], ["latent.png (the test split has 1 image;"]),
    (5, ["latent.png", "reconstructions.png", "samples.png"], []),
    (20, ["latent.png", "reconstructions.png", "samples.png"], []),
])
def test_too_few_test_images_make_every_picture_they_can_and_say_what_was_skipped(tmp_path, digits, capsys, n_test,
                                                                                  pictures, skipped):
    few = dataclasses.replace(digits, test=dataclasses.replace(digits.test, x=digits.test.x[:n_test], y=digits.test.y[:n_test]))
    made = make_pictures(VAE(VAEConfig(latent_dim=4, hidden=16), digits.shape), few, tmp_path, [])
    assert names(tmp_path) == sorted(pictures + ["report.html"]) == sorted(p.name for p in made)
    err = capsys.readouterr().err
    for text in skipped:
        assert text in err
    assert ("pictures skipped" in err) == bool(skipped)
    if n_test:  # inputs above their reconstructions: 2 rows of min(16, n) (4 rows from 32 images on)
        k = min(16, n_test)
        tiles = np.asarray(Image.open(tmp_path / "reconstructions.png"))
        scale = tiles.shape[1] // (k * 9 + 1)
        assert tiles.shape[:2] == (scale * (2 * 9 + 1), scale * (k * 9 + 1))


def test_tabular_data_gets_no_image_grids(tmp_path, capsys):
    rows = np.random.default_rng(0).normal(size=(50, 5))
    np.save(tmp_path / "table.npy", rows)
    data = latentlab.load_dataset(str(tmp_path / "table.npy"))
    (tmp_path / "run").mkdir()
    made = make_pictures(VAE(VAEConfig(latent_dim=2, hidden=8), data.shape), data, tmp_path / "run", [])
    assert names(tmp_path / "run") == ["latent.png", "report.html"] == sorted(p.name for p in made)
    err = capsys.readouterr().err
    assert "samples.png (tabular data: `latentlab sample RUN` writes sampled rows as .npy)" in err
    assert "reconstructions.png (tabular data" in err
