"""Gaussian and kernel-density baselines: log p(x) against scipy and scikit-learn, the fits, the
bandwidth choice, sampling, the run folder (fitted by the training loop without optimiser steps)."""
import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.neighbors import KernelDensity

import latentlab
from latentlab.config import train_defaults
from latentlab.errors import ConfigError, LatentlabError
from latentlab.models.base import Encoder, LatentGenerator, Sampler
from latentlab.models.base import ExactLikelihood
from latentlab.models.density import KDE, Gaussian, GaussianConfig, KDEConfig

SHAPE = (1, 3, 3)  # 9 dimensions: small enough for scipy and scikit-learn to be the reference
SMALL = dict(dataset="digits", epochs=1, batch_size=64, progress=False)


def data(n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, *SHAPE, generator=g).pow(2)  # skewed grey levels in [0, 1]


def flat(x):
    return x.reshape(len(x), -1).double().numpy()


def gaussian(**kw):
    return Gaussian(GaussianConfig(**kw), SHAPE)


def kde(**kw):
    return KDE(KDEConfig(**kw), SHAPE)


def test_no_optimiser_groups_and_one_epoch():
    for model in (gaussian(), kde()):
        assert model.optimizer_groups() == {} and model.schedule() == [] and not list(model.parameters())
        assert model.device == torch.device("cpu")
        assert isinstance(model, (Sampler, ExactLikelihood)) and not isinstance(model, (Encoder, LatentGenerator))
        assert train_defaults(type(model))["epochs"] == 1
        # before the first fit both are N(0, I)
        torch.testing.assert_close(model.log_prob(torch.zeros(2, *SHAPE)), torch.full((2,), -4.5 * math.log(2 * math.pi)))


def test_gaussian_is_the_maximum_likelihood_fit():
    x = data()
    model = gaussian(reg=0.05)
    model.fit_end(x)
    xs = flat(x)
    cov = np.cov(xs.T, bias=True) + 0.05 * np.eye(9)  # 1/N covariance, plus the ridge
    np.testing.assert_allclose(model.mean.numpy(), xs.mean(0), atol=1e-12)
    np.testing.assert_allclose((model.chol @ model.chol.T).numpy(), cov, atol=1e-12)
    test = data(7, seed=1)
    want = multivariate_normal(xs.mean(0), cov).logpdf(flat(test))
    got = model.log_prob(test)
    assert got.shape == (7,)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5)
    terms = model.evaluate(test, None)
    torch.testing.assert_close(terms["loss"], -got.mean())


def test_gaussian_fit_in_blocks_matches_one_block(monkeypatch):
    import latentlab.models.density as density
    x = data(300)
    whole = gaussian()
    whole.fit_end(x)
    monkeypatch.setattr(density, "CHUNK", 64)
    blocks = gaussian()
    blocks.fit_end(x)
    torch.testing.assert_close(whole.chol, blocks.chol)
    torch.testing.assert_close(whole.mean, blocks.mean)


def direct_kde(points, x, h):
    """log (1/N) sum_n N(x; x_n, h^2 I), the formula itself: (N, D), (B, D) -> (B,)."""
    d2 = ((x[:, None, :] - points[None]) ** 2).sum(-1)  # (B, N)
    return logsumexp(-d2 / (2 * h * h), axis=1) - math.log(len(points)) - points.shape[1] / 2 * math.log(2 * math.pi * h * h)


def test_kde_is_the_formula_and_chooses_the_best_bandwidth():
    x = data()
    candidates = (0.02, 0.05, 0.1, 0.2, 0.5)
    model = kde(bandwidths=",".join(map(str, candidates)), holdout=0.2)
    model.fit_end(x)
    held, kept = model.holdout_split(len(x))
    assert len(held) == 40 and len(kept) == 160 and not set(held.tolist()) & set(kept.tolist())
    assert torch.equal(model.points, x[kept].reshape(len(kept), -1))
    for h, score in zip(candidates, model.holdout_log_prob.tolist()):
        assert score == pytest.approx(direct_kde(flat(x[kept]), flat(x[held]), h).mean(), rel=1e-9), h
    assert float(model.bandwidth) == candidates[int(model.holdout_log_prob.argmax())]
    test = data(7, seed=1)
    np.testing.assert_allclose(model.log_prob(test).numpy(), direct_kde(flat(x[kept]), flat(test), float(model.bandwidth)), rtol=1e-6)
    assert model.evaluate(test, None).keys() == {"loss", "bandwidth"}


@pytest.mark.parametrize("h", [0.1, 0.3])
def test_kde_matches_scikit_learn(h):
    # one leaf holding every centre: scikit-learn's exact sum (with its default tree the kernel sums stray
    # from the formula by nats where every kernel is tiny, e.g. 4.7 nats here at h = 0.1)
    x = data()
    model = kde(bandwidths=str(h))
    model.fit_end(x)
    test = data(7, seed=1)
    points = model.points.double().numpy()
    want = KernelDensity(kernel="gaussian", bandwidth=h, leaf_size=len(points)).fit(points).score_samples(flat(test))
    np.testing.assert_allclose(model.log_prob(test).numpy(), want, rtol=1e-6)


def test_kde_keeps_at_most_max_points_and_is_repeatable():
    x = data(300)
    a, b = kde(max_points=50), kde(max_points=50)
    a.fit_end(x)
    b.fit_end(x)
    assert a.points.shape == (50, 9) and torch.equal(a.points, b.points) and torch.equal(a.bandwidth, b.bandwidth)
    with pytest.raises(LatentlabError, match="at least 2 training images"):
        kde().fit_end(x[:1])


def test_fitted_kde_loads_into_a_fresh_model():
    model = kde(max_points=30)
    model.fit_end(data())
    fresh = kde(max_points=30)
    fresh.load_state_dict(model.state_dict())
    assert "candidates" not in model.state_dict()
    for k, v in model.state_dict().items():
        assert torch.equal(v, fresh.state_dict()[k]), k


@pytest.mark.parametrize("make", [gaussian, kde])
def test_samples(make):
    model = make()
    model.fit_end(data())
    a = model.sample(6, generator=torch.Generator().manual_seed(1))
    assert a.shape == (6, *SHAPE) and a.dtype == torch.float32 and a.min() >= 0 and a.max() <= 1
    assert not a.requires_grad
    torch.manual_seed(5)  # the global RNG plays no part
    assert torch.equal(a, model.sample(6, generator=torch.Generator().manual_seed(1)))
    assert not torch.equal(a, model.sample(6, generator=torch.Generator().manual_seed(2)))
    with pytest.raises(LatentlabError, match="not conditional"):
        model.sample(2, 1)


def test_samples_follow_the_fit():
    x = data(400)
    model = gaussian(reg=1e-3)
    model.fit_end(x)
    many = model.sample(4000, generator=torch.Generator().manual_seed(0)).reshape(4000, -1)
    assert (many.mean(0).double() - model.mean).abs().max() < 0.03  # clamping moves the mean only a little
    narrow = kde(bandwidths="0.001")
    narrow.fit_end(x)
    draws = narrow.sample(20, generator=torch.Generator().manual_seed(0)).reshape(20, -1)
    assert torch.cdist(draws, narrow.points).min(1).values.max() < 0.01  # each draw sits on a centre


@pytest.mark.parametrize("name", ["gaussian", "kde"])
def test_train_save_load_round_trip(name, tmp_path):
    from latentlab.data import load_dataset
    run = latentlab.train(name, out=str(tmp_path / "run"), **SMALL)
    assert (run.dir / "samples.png").is_file() and (run.dir / "report.html").is_file()
    row = latentlab.read_metrics(run.dir)[-1]
    loaded = latentlab.load(run.dir)
    for k, v in run.model.state_dict().items():
        assert torch.equal(v.cpu(), loaded.state_dict()[k]), k
    # the validation loss is -log p(x) of the fitted model (the fit happens before the validation pass)
    val = load_dataset("digits", None, 0.1, 0, None, "none", 0.5).val.x
    assert row["val_loss"] == pytest.approx(-float(loaded.log_prob(val).double().mean()), rel=1e-5)
    if name == "kde":
        assert row["val_bandwidth"] == pytest.approx(float(loaded.bandwidth)) and loaded.points.shape[1] == 64


def test_bad_settings_are_refused():
    for name, bad in [("gaussian", dict(reg=0.0)), ("kde", dict(bandwidths="0.1,abc")), ("kde", dict(bandwidths="0,0.1")),
                      ("kde", dict(bandwidths="")), ("kde", dict(max_points=0)), ("kde", dict(holdout=1.0))]:
        with pytest.raises(ConfigError):
            latentlab.train(name, epochs=1, **bad)
