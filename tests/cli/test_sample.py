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


def test_n_beyond_memory_is_refused_with_the_amount_it_needs(runs):
    from latentlab.cli.sample import bytes_per_image, check_memory
    from latentlab.errors import LatentlabError
    from latentlab.training.run_folder import load
    model = load(runs / "vae")
    per = bytes_per_image(model, picture=False)
    assert per >= 4 * 3 * 64  # at least the image, three times over
    assert bytes_per_image(model, picture=True) > per
    check_memory(model, 1000, picture=False, available=1000 * per)  # fits exactly
    with pytest.raises(LatentlabError, match=r"--n 1001 \(1001 images of 1x8x8\) needs about .* of memory, but .* are "
                                             r"available: ask for fewer \(at most about --n 1000 here\)"):
        check_memory(model, 1001, picture=False, available=1000 * per)


@pytest.mark.parametrize("args, message", [
    (["--n", str(10**13)], "of memory, but"),
    (["--seed", "-1"], "--seed must be a whole number from 0 to 4294967295"),
    (["-o", "missing/s.png"], "the folder missing does not exist"),
])
def test_bad_requests_exit_2_before_drawing(runs, tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(["sample", str(runs / "vae"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing written
