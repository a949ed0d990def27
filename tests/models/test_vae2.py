"""VAE/IWAE with two stochastic layers: shapes, the importance weights against torch.distributions,
Burda et al.'s bound ordering, the warm-up, one training step, the run folder."""
import math

import pytest
import torch
from torch.distributions import Bernoulli, Normal

import latentlab
from latentlab.errors import ConfigError, LatentlabError
from latentlab.models.vae2 import TwoLayerVAE, TwoLayerVAEConfig

SHAPE = (1, 4, 4)


def small(**kw):
    torch.manual_seed(0)
    cfg = TwoLayerVAEConfig(**{**dict(latent_dim=6, latent_dim2=3, hidden=12, hidden2=8), **kw})
    cfg.validate()
    return TwoLayerVAE(cfg, SHAPE)


def binary(n, seed=1):
    return torch.bernoulli(torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(seed)))


@pytest.mark.parametrize("objective,k", [("elbo", 1), ("elbo", 4), ("iwae", 5)])
def test_shapes_and_terms(objective, k):
    model = small(objective=objective, k=k)
    x = binary(6)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (6, 6) and model.encode_top(mu)[0].shape == (6, 3)
    terms = model.loss(x)
    assert {"loss", "rec", "kl", "neg_elbo"} <= terms.keys() and all(torch.isfinite(v) for v in terms.values())
    if objective == "iwae":
        assert torch.equal(terms["loss"], terms["neg_iwae"]) and terms["neg_iwae"] <= terms["neg_elbo"]
    else:
        torch.testing.assert_close(terms["loss"], terms["neg_elbo"])
    assert model.latent(x).shape == (6, 6) and model.latent_top(x).shape == (6, 3)
    assert model.reconstruct(x).shape == x.shape and model.decode(mu).shape == x.shape
    images = model.sample(5, generator=torch.Generator().manual_seed(0))
    assert images.shape == (5, *SHAPE) and images.min() >= 0 and images.max() <= 1


def test_log_weights_are_the_joint_over_the_proposal():
    # log w = log p(x|z1) + log p(z1|z2) + log p(z2) - log q(z1|x) - log q(z2|z1), term by term with
    # torch.distributions, from the same draws (eps1 then eps2 from the generator).
    model = small()
    x = binary(3)
    with torch.no_grad():
        log_px, log_ratio = model.log_weight_terms(x, 4, torch.Generator().manual_seed(5))
        g = torch.Generator().manual_seed(5)
        mu1, logvar1 = model.encode(x)
        z1 = mu1 + torch.exp(0.5 * logvar1) * torch.randn(4, 3, 6, generator=g)
        mu2, logvar2 = model.encode_top(z1)
        z2 = mu2 + torch.exp(0.5 * logvar2) * torch.randn(4, 3, 3, generator=g)
        m, v = model.prior1(z2)
        want_px = Bernoulli(logits=model.decoder_logits(z1.flatten(0, 1)).view(4, 3, -1)).log_prob(x.flatten(1)).sum(-1)
        want_ratio = (Normal(m, torch.exp(0.5 * v)).log_prob(z1).sum(-1) + Normal(0.0, 1.0).log_prob(z2).sum(-1)
                      - Normal(mu1, torch.exp(0.5 * logvar1)).log_prob(z1).sum(-1)
                      - Normal(mu2, torch.exp(0.5 * logvar2)).log_prob(z2).sum(-1))
    assert log_px.shape == log_ratio.shape == (4, 3)
    torch.testing.assert_close(log_px, want_px, atol=1e-4, rtol=0)
    torch.testing.assert_close(log_ratio, want_ratio, atol=1e-4, rtol=0)


def test_the_bound_rises_with_k():
    # Burda et al., theorem 1: E[L_1] = ELBO <= E[L_k] <= E[L_m] for k <= m (here on 64 images, fixed draws).
    model = small().eval()
    x = binary(64)
    ll = {k: float(model.log_likelihood(x, k, torch.Generator().manual_seed(2)).mean()) for k in (1, 10, 100, 1000)}
    assert ll[1] < ll[10] < ll[100] < ll[1000]
    torch.manual_seed(0)
    with torch.no_grad():
        elbo = -float(torch.stack([model.loss(x)["neg_elbo"] for _ in range(200)]).mean())
    assert elbo < ll[10] and abs(elbo - ll[1]) < 0.5  # L_1 is the ELBO, sampled
    iwae = small(objective="iwae", k=50).eval()
    with torch.no_grad():
        terms = iwae.loss(x)
    assert terms["neg_iwae"] < terms["neg_elbo"]


def test_likelihood_draws_come_from_the_generator_only():
    model = small().eval()
    x = binary(5)
    state = torch.get_rng_state()
    a = model.log_likelihood(x, 30, torch.Generator().manual_seed(3), chunk=7)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(99)
    assert torch.equal(a, model.log_likelihood(x, 30, torch.Generator().manual_seed(3), chunk=7))
    assert not torch.equal(a, model.log_likelihood(x, 30, torch.Generator().manual_seed(4), chunk=7))
    assert a.shape == (5,) and not a.requires_grad
    with pytest.raises(LatentlabError, match="at least 1"):
        model.log_likelihood(x, 0)


def test_warmup_ramps_the_kl_weight():
    model = small(warmup=4).train()
    x = binary(8)
    assert model.kl_weight() == 0 and int(model.step) == 0
    for _ in range(2):
        model.loss(x)
    assert int(model.step) == 2 and model.kl_weight() == pytest.approx(0.5)
    with torch.no_grad():
        model.loss(x)  # evaluation does not count as a step
    model.eval()
    assert int(model.step) == 2 and model.kl_weight() == 1.0


def test_one_training_step_changes_every_weight():
    model = small(objective="iwae", k=3).train()
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    model.loss(binary(16))["loss"].backward()
    opt.step()
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_output_bias_data_makes_the_untrained_decoder_draw_the_mean_image():
    x = binary(64) * (torch.arange(16).view(1, 1, 4, 4) < 8)  # the lower half of every image is 0
    zero, data = small(), small(output_bias="data")
    zero.fit_start(x)  # "zero" keeps the layer's own initialisation
    assert torch.equal(zero.px[-1].bias, small().px[-1].bias)
    data.fit_start(x)
    mean = x.mean(0).clamp(1e-3, 1 - 1e-3).flatten()
    assert torch.allclose(torch.sigmoid(data.px[-1].bias), mean, atol=1e-6)
    with torch.no_grad():  # with the last weights zeroed, p(x|z1) is the mean image whatever z1
        data.px[-1].weight.zero_()
        assert torch.allclose(torch.sigmoid(data.decoder_logits(torch.randn(3, 6))), mean.view(1, *SHAPE).expand(3, -1, -1, -1))


@pytest.mark.parametrize("bad", [dict(k=0), dict(objective="nope"), dict(warmup=-1), dict(layers=0),
                                 dict(latent_dim2=0), dict(activation="nope"),
                                 dict(output_bias="mean")])
def test_bad_settings(bad):
    with pytest.raises(ConfigError):
        TwoLayerVAEConfig(**bad).validate()


def test_run_folder_round_trip(tmp_path):
    run = latentlab.train("vae2", out=str(tmp_path / "run"), dataset="digits", epochs=1, batch_size=64, binarize="dynamic",
                          progress=False, latent_dim=8, latent_dim2=4, hidden=32, hidden2=16, objective="iwae", k=3,
                          warmup=5)
    assert {"train_neg_iwae", "val_neg_iwae", "val_neg_elbo"} <= run.metrics[-1].keys()
    assert math.isfinite(run.metrics[-1]["val_loss"])
    model = latentlab.load(run.dir)
    assert isinstance(model, TwoLayerVAE) and model.cfg.objective == "iwae" and model.cfg.k == 3
    assert int(model.step) == int(run.model.step) > 0  # the warm-up counter is saved
    x = torch.rand(4, 1, 8, 8)
    torch.testing.assert_close(model.reconstruct(x), run.model.reconstruct(x))
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    torch.testing.assert_close(model.sample(3, generator=g()), run.model.sample(3, generator=g()))
