"""The importance-sampled log-likelihood: exact on a linear-Gaussian model, Burda et al.'s bound
ordering on a trained VAE, bad input, and `latentlab eval RUN --nll`."""
import json
import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal
from torch import nn

import latentlab
from latentlab.cli.main import main
from latentlab.errors import LatentlabError
from latentlab.evaluation.likelihood import check_model, estimate_nll, log_likelihood
from latentlab.models.ae import AE, AEConfig
from latentlab.models.base import LikelihoodModel

SMALL = dict(dataset="digits", batch_size=64, latent_dim=4, hidden=32, progress=False)


class LinearGaussian(nn.Module, LikelihoodModel):
    """p(z) = N(0, I), p(x|z) = N(W z + b, s^2 I): log p(x) = log N(x; b, W W^T + s^2 I) in closed form.

    q(z|x) is the exact posterior N(A (x - b), S) with its variance scaled by ``spread``: spread = 1
    makes every importance weight equal p(x); spread != 1 makes the estimate converge with k."""

    def __init__(self, d=5, dz=2, s=0.5, spread=1.0):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.w, self.b, self.s = torch.randn(d, dz, generator=g, dtype=torch.float64), torch.randn(d, generator=g, dtype=torch.float64), s
        precision = torch.eye(dz, dtype=torch.float64) + self.w.T @ self.w / s**2
        self.cov = torch.linalg.inv(precision)  # posterior covariance, the same for every x
        self.gain = self.cov @ self.w.T / s**2  # posterior mean = gain (x - b)
        self.logvar = torch.log(torch.diagonal(self.cov) * spread)
        self.dummy = nn.Parameter(torch.zeros(()))
        self.name = "linear-gaussian"

    @property
    def device(self):
        return torch.device("cpu")

    def posterior(self, x, y=None):
        return (x - self.b) @ self.gain.T, self.logvar.expand(len(x), -1)

    def log_px_given_z(self, x, z, y=None):  # z (S, B, dz) -> (S, B)
        mean = z @ self.w.T + self.b
        return (-0.5 * ((x - mean) / self.s) ** 2 - math.log(self.s * math.sqrt(2 * math.pi))).sum(-1)

    def exact(self, x):
        cov = (self.w @ self.w.T + self.s**2 * torch.eye(len(self.b), dtype=torch.float64)).numpy()
        return multivariate_normal(self.b.numpy(), cov).logpdf(x.numpy())


def test_exact_with_the_true_posterior_and_any_chunking():
    # A diagonal q equals the true posterior only when that is diagonal: use a one-dimensional latent.
    model = LinearGaussian(dz=1)
    x = torch.randn(7, 5, dtype=torch.float64) * 2
    got = log_likelihood(model, x, k=10, chunk=3).numpy()
    np.testing.assert_allclose(got, model.exact(x), rtol=0, atol=1e-8)


def test_converges_to_the_closed_form_as_k_grows():
    model = LinearGaussian(spread=4.0)  # a poor proposal: too wide, and ignoring the posterior correlation
    torch.manual_seed(0)
    x = torch.randn(200, 5, dtype=torch.float64) * 2
    exact = model.exact(x).mean()
    errors = [abs(-estimate_nll(model, x, k=k, batch_size=50, seed=1).nll - exact) for k in (1, 10, 100, 2000)]
    assert errors[0] > 0.3 and errors[-1] < 0.02
    assert errors == sorted(errors, reverse=True)


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    return latentlab.train("vae", out=str(tmp_path_factory.mktemp("nll") / "run"), epochs=2, binarize="dynamic", **SMALL)


def test_bound_ordering_on_a_trained_vae(vae_run):
    # Burda et al.: -ELBO = NLL_1 >= NLL_10 >= NLL_100 >= -log p(x), on average over a test set.
    model = vae_run.model
    data = latentlab.load_dataset("digits")
    x = torch.bernoulli(data.test.x, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        neg_elbo = float(model.loss(x)["neg_elbo"])  # analytic KL, one sample per image
    nll = {k: estimate_nll(model, x, k=k, seed=0).nll for k in (1, 10, 100)}
    assert nll[1] == pytest.approx(neg_elbo, abs=1.0)  # the same bound, sampled differently
    assert nll[100] < nll[10] < nll[1] and nll[10] < neg_elbo
    result = estimate_nll(model, x, k=100, seed=0)
    assert result.nll == nll[100] and result.n == len(x) and result.per_image.shape == (len(x),)
    assert 0 < result.stderr < 1


def test_bad_input(vae_run):
    x = torch.zeros(2, 1, 8, 8)
    with pytest.raises(LatentlabError, match="at least 1"):
        estimate_nll(vae_run.model, x, k=0)
    with pytest.raises(LatentlabError, match="cannot score"):
        log_likelihood(nn.Linear(2, 2), x, k=5)


def test_eval_command(vae_run, tmp_path, capsys):
    assert main(["eval", str(vae_run.dir), "--nll", "--k", "20", "--nll-images", "50"]) == 0
    saved = json.loads((vae_run.dir / "eval.json").read_text())
    assert saved["test_nll_k"] == 20 and saved["test_nll_images"] == 50
    assert saved["test_nll"] <= saved["test_neg_elbo"] + 3 and "binarized once with seed 0" in saved["test_nll_means"]
    assert main(["eval", str(vae_run.dir), "--nll", "--k", "0"]) == 2
    assert "--k must be at least 1" in capsys.readouterr().err
    grey = latentlab.train("vae", out=str(tmp_path / "grey"), epochs=1, **SMALL)  # no binarization
    assert main(["eval", str(grey.dir), "--nll", "--k", "5"]) == 2
    assert "grey levels" in capsys.readouterr().err
    with pytest.raises(LatentlabError, match="model 'ae' has no posterior"):  # no q(z|x): nothing to sample from
        check_model(AE(AEConfig(), (1, 8, 8)))


def test_gaussian_decoder_gives_a_density():
    from latentlab.models.vae import VAE, VAEConfig
    torch.manual_seed(0)
    model = VAE(VAEConfig(latent_dim=2, hidden=16, likelihood="gaussian", sigma=0.5), (1, 4, 4)).eval()
    x = torch.rand(8, 1, 4, 4)
    result = estimate_nll(model, x, k=50)
    with torch.no_grad():
        neg_elbo = float(model.loss(x)["neg_elbo"])
    assert math.isfinite(result.nll) and result.nll < neg_elbo + 0.5  # a log-density of grey levels, in nats


def test_the_samples_come_from_a_generator_not_the_global_rng():
    model = LinearGaussian(spread=4.0)
    x = torch.randn(20, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    state = torch.get_rng_state()
    a = estimate_nll(model, x, k=20, seed=3)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's random stream is left alone
    torch.manual_seed(99)
    assert estimate_nll(model, x, k=20, seed=3).nll == a.nll
    assert estimate_nll(model, x, k=20, generator=torch.Generator().manual_seed(3)).nll == a.nll
    assert estimate_nll(model, x, k=20, seed=4).nll != a.nll


@pytest.mark.parametrize("model, extra", [("gaussian", {}), ("pixelcnn", {"binarize": "dynamic"})])
def test_eval_nll_is_exact_for_models_with_a_tractable_likelihood(model, extra, tmp_path, capsys):
    """`eval --nll` scores an ExactLikelihood model by its own log_prob: no samples (k = 0), the same
    test images the importance-sampled figure uses (one fixed binarization for binary pixels)."""
    from latentlab.evaluation.likelihood import binarize
    from latentlab.models.base import ExactLikelihood
    run = tmp_path / model
    settings = dict(dataset="digits", epochs=1, batch_size=64, progress=False, out=str(run), **extra)
    if model == "pixelcnn":
        settings.update(channels=8, layers=1)
    latentlab.train(model, **settings)
    assert main(["eval", str(run), "--nll"]) == 0
    result = json.loads((run / "eval.json").read_text())
    loaded = latentlab.load(run)
    assert isinstance(loaded, ExactLikelihood) and result["test_nll_k"] == 0
    from latentlab.training.run_folder import run_dataset
    x = run_dataset(run).test.x
    if not loaded.continuous:
        x = binarize(x, 0)
    with torch.no_grad():
        expected = -loaded.log_prob(x).double().mean().item()
    assert result["test_nll"] == pytest.approx(expected, rel=1e-6)
    assert "exact" in result["test_nll_means"]
