"""The Parzen-window estimator: closed forms on a Gaussian, chunking invariance, the choice of width,
and `latentlab eval RUN --parzen` (Goodfellow et al. 2014, Table 1)."""
import json
import math

import numpy as np
import pytest
import torch

import latentlab
from latentlab.cli.main import main
from latentlab.errors import LatentlabError
from latentlab.evaluation.parzen import (choose_sigma, parse_sigmas, parzen_log_likelihood, parzen_log_likelihoods,
                                         parzen_score)
from latentlab.evaluation.samples import draw


def log_gauss(x, mu, var):
    """log N(x; mu, var I) per row, (B,)."""
    d = x.shape[1]
    return -0.5 * ((x - mu) ** 2).sum(1) / var - 0.5 * d * math.log(2 * math.pi * var)


def gaussian(n, d, mu, s, seed):
    return mu + s * torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_one_sample_is_a_gaussian_centred_on_it():
    s = torch.rand(1, 1, 4, 4, dtype=torch.float64)
    x = torch.rand(7, 1, 4, 4, dtype=torch.float64)
    for sigma in (0.05, 0.3, 2.0):
        want = log_gauss(x.flatten(1), s.flatten(1), sigma**2)
        torch.testing.assert_close(parzen_log_likelihood(s, x, sigma), want, rtol=0, atol=1e-9)


def test_many_samples_give_the_gaussian_convolved_with_the_window():
    # E over samples of N(x; s, h^2 I) with s ~ N(mu, s^2 I) is N(x; mu, (s^2 + h^2) I): exact as N grows.
    mu, s, h, d = 0.3, 0.8, 0.5, 3
    samples = gaussian(50_000, d, mu, s, seed=0)
    x = gaussian(200, d, mu, s, seed=1)
    got = parzen_log_likelihood(samples, x, h, batch_size=64, chunk=8_000)
    want = log_gauss(x, mu, s**2 + h**2)
    assert (got - want).abs().mean() < 0.02 and (got - want).abs().max() < 0.1


def test_with_the_chosen_window_it_approaches_the_true_density():
    # Samples and validation images from N(mu, s^2 I); sigma chosen on validation; the gap between the mean
    # Parzen log-likelihood of the test points and their true mean log-density shrinks towards 0 as N grows.
    mu, s, d = torch.tensor([0.3, -0.2], dtype=torch.float64), 0.7, 2
    x_test, x_val = gaussian(1_000, d, mu, s, seed=1), gaussian(500, d, mu, s, seed=2)
    true = log_gauss(x_test, mu, s**2).mean()
    grid = (s * np.geomspace(0.05, 2, 12)).tolist()
    gaps = []
    for i, n in enumerate((10, 300, 20_000)):
        samples = gaussian(n, d, mu, s, seed=10 + i)
        sigma, table = choose_sigma(samples, x_val, grid)
        assert sigma == max(table, key=table.get) and set(table) == set(grid)
        gaps.append(float(true - parzen_log_likelihood(samples, x_test, sigma).mean()))
    assert gaps[0] > 0.1 and abs(gaps[-1]) < 0.02
    assert abs(gaps[0]) > abs(gaps[1]) > abs(gaps[2])


def test_blocks_do_not_change_the_figure():
    samples = torch.rand(257, 1, 5, 5)
    x = torch.rand(33, 1, 5, 5)
    sigmas = [0.1, 0.2, 0.4]
    whole = parzen_log_likelihoods(samples, x, sigmas, batch_size=1_000, chunk=10_000)
    assert whole.shape == (33, 3) and whole.dtype == torch.float64
    for batch_size, chunk in ((1, 1), (7, 50), (32, 256)):
        torch.testing.assert_close(parzen_log_likelihoods(samples, x, sigmas, batch_size, chunk), whole, rtol=0, atol=1e-9)
    torch.testing.assert_close(parzen_log_likelihood(samples, x, 0.2, 5, 13), whole[:, 1], rtol=0, atol=1e-9)


def test_score_has_a_standard_error_and_flags_a_width_at_the_edge():
    samples, x_val, x_test = torch.rand(100, 16), torch.rand(50, 16), torch.rand(40, 16)
    result = parzen_score(samples, x_test, x_val, [0.1, 0.2, 0.3])
    per_image = parzen_log_likelihood(samples, x_test, result.sigma)
    assert result.mean == pytest.approx(float(per_image.mean()))
    assert result.stderr == pytest.approx(float(per_image.std() / math.sqrt(40)))
    assert (result.centres, result.images) == (100, 40)
    assert parzen_score(samples, x_test, x_val, [1e-3, 1e-2]).at_edge  # far too narrow: the widest wins
    assert parzen_score(samples, x_test, None, [0.2]).sigma == 0.2  # one width: nothing to choose
    with pytest.raises(LatentlabError, match="validation images"):
        parzen_score(samples, x_test, None, [0.1, 0.2])


@pytest.mark.parametrize("bad", ["", "0.1,-2", "a,b", "0"])
def test_bad_widths(bad):
    with pytest.raises(LatentlabError, match="--parzen-sigmas"):
        parse_sigmas(bad)
    with pytest.raises(LatentlabError):
        parzen_log_likelihoods(torch.rand(3, 4), torch.rand(2, 4), [0.0])


def test_eval_command(tmp_path, capsys):
    run = latentlab.train("gan", out=str(tmp_path / "gan"), dataset="digits", epochs=1, batch_size=128,
                          latent_dim=4, hidden=16, progress=False)
    args = ["eval", str(run.dir), "--parzen", "--parzen-samples", "300", "--parzen-images", "100",
            "--parzen-sigmas", "0.05,0.1,0.2,0.4,0.8"]
    assert main(args) == 0
    saved = json.loads((run.dir / "eval.json").read_text())
    assert {"test_parzen", "test_parzen_stderr", "test_parzen_sigma", "test_parzen_samples", "test_parzen_train_images",
            "test_parzen_train_images_stderr", "test_parzen_train_images_sigma", "test_parzen_means"} <= saved.keys()
    assert saved["test_parzen_samples"] == 300 and saved["test_parzen_images"] == 100
    assert "test_loss" in saved  # the loss plugin's group is kept beside the Parzen group
    # the same figure from the pieces: samples drawn with --parzen-seed 0, sigma chosen on the validation split
    data = latentlab.load_dataset("digits")
    model = latentlab.load(run.dir)
    samples = draw(model, 300, None, 0)
    direct = parzen_score(samples, data.test.x[:100], data.val.x[:100], [0.05, 0.1, 0.2, 0.4, 0.8])
    assert saved["test_parzen"] == pytest.approx(direct.mean, rel=1e-9) and saved["test_parzen_sigma"] == direct.sigma
    # training images score higher than a one-epoch GAN's samples
    assert saved["test_parzen_train_images"] > saved["test_parzen"]
    assert main(args + ["--parzen-seed", "1"]) == 0
    assert json.loads((run.dir / "eval.json").read_text())["test_parzen"] != saved["test_parzen"]
    assert main(["eval", str(run.dir), "--parzen", "--parzen-samples", "0"]) == 2
    assert "--parzen-samples must be at least 1" in capsys.readouterr().err
    assert main(["eval", str(run.dir), "--parzen", "--parzen-samples", "100000"]) == 2
    assert "training images" in capsys.readouterr().err
