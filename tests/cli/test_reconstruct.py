"""latentlab reconstruct RUN: inputs above outputs; a conditional VAE reconstructs with the test labels."""
import pytest
from PIL import Image

from latentlab.cli.main import main

FAST = ["--dataset", "digits", "--epochs", "1", "--batch-size", "64", "--latent-dim", "4", "--hidden", "32", "--no-progress"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    assert main(["train", "cvae", *FAST, "--out", str(root / "cvae")]) == 0
    assert main(["train", "gan", *FAST, "--out", str(root / "gan")]) == 0
    return root


def test_a_conditional_vae_reconstructs_with_the_labels(runs, capsys):
    assert main(["reconstruct", str(runs / "cvae"), "--n", "5"]) == 0
    assert Image.open(runs / "cvae" / "reconstructed.png").size[0] > 0
    assert "mean squared error per pixel" in capsys.readouterr().out


def test_a_model_without_an_encoder_exits_2(runs, capsys):
    assert main(["reconstruct", str(runs / "gan")]) == 2
    assert "has no encoder" in capsys.readouterr().err
