"""latentlab sample RUN: images from a trained model; --prior for autoencoders."""
import numpy as np
import pytest

from latentlab.cli.main import main

FAST = ["--dataset", "digits", "--epochs", "1", "--batch-size", "64", "--latent-dim", "4", "--hidden", "32", "--no-progress"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    assert main(["train", "ae", *FAST, "--out", str(root / "ae")]) == 0
    assert main(["train", "vae", *FAST, "--out", str(root / "vae")]) == 0
    return root


def test_ae_priors_give_different_draws_and_join_the_report(runs, tmp_path):
    arrays = {}
    for prior in ("fitted", "standard", "uniform"):
        out = tmp_path / f"{prior}.npy"
        assert main(["sample", str(runs / "ae"), "--prior", prior, "--n", "8", "-o", str(out)]) == 0
        arrays[prior] = np.load(out)
        assert arrays[prior].shape == (8, 1, 8, 8)
    assert not np.allclose(arrays["fitted"], arrays["standard"])
    assert main(["sample", str(runs / "ae"), "--prior", "standard", "--n", "8"]) == 0
    assert (runs / "ae" / "sampled_standard_prior.png").is_file()
    assert "sampled_standard_prior.png" in (runs / "ae" / "report.html").read_text()


def test_default_is_the_fitted_prior(runs, tmp_path):
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    assert main(["sample", str(runs / "ae"), "--n", "4", "-o", str(a)]) == 0
    assert main(["sample", str(runs / "ae"), "--n", "4", "--prior", "fitted", "-o", str(b)]) == 0
    np.testing.assert_array_equal(np.load(a), np.load(b))


def test_prior_on_a_vae_exits_2(runs, capsys):
    assert main(["sample", str(runs / "vae"), "--prior", "standard"]) == 2
    assert "--prior applies to autoencoder runs" in capsys.readouterr().err
    assert main(["sample", str(runs / "vae"), "--n", "4"]) == 0


def test_the_seed_alone_fixes_the_draws(runs, tmp_path):
    import torch
    paths = {name: tmp_path / f"{name}.npy" for name in ("a", "b", "c")}
    torch.manual_seed(1)
    assert main(["sample", str(runs / "vae"), "--n", "6", "--seed", "3", "-o", str(paths["a"])]) == 0
    torch.manual_seed(2)  # the global RNG plays no part
    assert main(["sample", str(runs / "vae"), "--n", "6", "--seed", "3", "-o", str(paths["b"])]) == 0
    assert main(["sample", str(runs / "vae"), "--n", "6", "--seed", "4", "-o", str(paths["c"])]) == 0
    np.testing.assert_array_equal(np.load(paths["a"]), np.load(paths["b"]))
    assert not np.array_equal(np.load(paths["a"]), np.load(paths["c"]))
