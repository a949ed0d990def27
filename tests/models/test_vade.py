"""VaDE: the mixture KL of eq. 11 (closed forms and a Monte-Carlo check), responsibilities, the bound,
pretraining and the mixture fit (diagonal or full), fixed or learned pi, one training step, clusters and
samples, the run folder and checkpoints of either kind of pi."""
import math

import pytest
import torch

import latentlab
from latentlab.errors import ConfigError, LatentlabError
from latentlab.models.vade import VaDE, VaDEConfig
from latentlab.nn.likelihoods import log_normal
from latentlab.nn.losses import gaussian_kl

SHAPE = (1, 4, 4)


def small(**kw):
    torch.manual_seed(0)
    settings = {**dict(clusters=3, latent_dim=2, hidden="16,8", pretrain=0), **kw}
    cfg = VaDEConfig(**settings)
    cfg.validate()
    return VaDE(cfg, SHAPE)


def test_shapes_terms_and_responsibilities():
    model = small()
    x = torch.rand(6, *SHAPE)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (6, 2)
    terms = model.loss(x)
    assert set(terms) == {"loss", "rec", "kl", "neg_elbo"} and all(torch.isfinite(v) for v in terms.values())
    torch.testing.assert_close(terms["loss"], terms["rec"] + terms["kl"])
    gamma = model.log_responsibilities(torch.randn(5, 7, 2)).exp()
    assert gamma.shape == (5, 7, 3)
    torch.testing.assert_close(gamma.sum(-1), torch.ones(5, 7))
    probs = model.cluster_probabilities(x)
    torch.testing.assert_close(probs.sum(1), torch.ones(6))
    clusters = model.cluster(x)
    assert clusters.shape == (6,) and clusters.dtype == torch.long and torch.equal(clusters, probs.argmax(1))
    assert model.latent(x).shape == (6, 2) and model.reconstruct(x).shape == x.shape
    assert model.sample(4, generator=torch.Generator().manual_seed(0)).shape == (4, *SHAPE)


def test_one_standard_component_gives_the_vae_kl():
    model = small(clusters=1)
    with torch.no_grad():
        model.mu_c.zero_()
        model.logvar_c.zero_()
    mu, logvar = torch.randn(5, 2), torch.randn(5, 2)
    log_gamma = torch.zeros(5, 1)  # one cluster: gamma = 1
    torch.testing.assert_close(model.mixture_kl(mu, logvar, log_gamma), gaussian_kl(mu, logvar))


def test_mixture_kl_is_the_expectation_it_claims():
    # For fixed gamma: KL = E_{z ~ q(z|x)} [log q(z|x) + sum_c gamma_c (log gamma_c - log pi_c - log N(z; mu_c, sigma_c^2))].
    model = small().double()
    with torch.no_grad():
        model.pi_logits.copy_(torch.tensor([0.3, -0.5, 1.0]))
        model.mu_c.copy_(torch.randn(3, 2, dtype=torch.float64))
        model.logvar_c.copy_(torch.randn(3, 2, dtype=torch.float64) * 0.5)
    mu, logvar = torch.randn(4, 2, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64) * 0.5
    log_gamma = torch.log_softmax(torch.randn(4, 3, dtype=torch.float64), 1)
    eps = torch.randn(200_000, 4, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    z = mu + torch.exp(0.5 * logvar) * eps  # (S, B, J)
    log_q = log_normal(z, mu, logvar)  # (S, B)
    log_p = torch.log_softmax(model.pi_logits, 0) + log_normal(z.unsqueeze(-2), model.mu_c, model.logvar_c)  # (S, B, K)
    mc = (log_q + (log_gamma.exp() * (log_gamma - log_p)).sum(-1)).detach()  # (S, B)
    want, err = mc.mean(0), mc.std(0) / math.sqrt(len(mc))
    got = model.mixture_kl(mu, logvar, log_gamma).detach()
    assert ((got - want).abs() < 4 * err + 1e-6).all()


def test_the_elbo_bounds_the_importance_sampled_likelihood():
    model = small().eval()
    x = torch.bernoulli(torch.rand(64, *SHAPE, generator=torch.Generator().manual_seed(1)))
    torch.manual_seed(0)
    with torch.no_grad():  # eq. 11 averaged over draws: a bound below E[L_1], which marginalises c exactly
        elbo = -float(torch.stack([model.loss(x)["neg_elbo"] for _ in range(400)]).mean())
    ll = {k: float(model.log_likelihood(x, k, torch.Generator().manual_seed(2)).mean()) for k in (1, 20, 2000)}
    assert elbo < ll[1] < ll[20] < ll[2000]  # Burda et al., theorem 1
    state = torch.get_rng_state()
    again = model.log_likelihood(x, 50, torch.Generator().manual_seed(3), chunk=7)
    assert torch.equal(again, model.log_likelihood(x, 50, torch.Generator().manual_seed(3), chunk=7))
    assert torch.equal(torch.get_rng_state(), state)  # every draw from the generator
    with pytest.raises(LatentlabError, match="at least 1"):
        model.log_likelihood(x, 0)


def test_one_training_step_changes_every_parameter():
    model = small().train()
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    model.loss(torch.rand(16, *SHAPE))["loss"].backward()
    opt.step()
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_pretraining_is_an_autoencoder_then_the_mixture_is_fitted_to_the_codes():
    model = small(pretrain=2).train()
    x = torch.rand(64, *SHAPE)
    terms = model.loss(x)
    torch.testing.assert_close(terms["loss"], terms["rec"])
    terms["loss"].backward()
    assert model.mu_c.grad is None and model.pi_logits.grad is None  # the mixture waits for fit_end
    model.eval()
    with torch.no_grad():
        assert not torch.equal(model.loss(x)["loss"], model.loss(x)["rec"])  # validation: always the -ELBO
    model.fit_end(x)
    fitted = model.mu_c.detach().clone()
    assert int(model.epoch) == 1 and not torch.allclose(fitted, small().mu_c)
    model.train()
    assert model.pretraining()
    model.fit_end(x)
    assert int(model.epoch) == 2 and not model.pretraining()
    # the untrained log-variance head now gives every image the mixture's mean log-variance
    torch.testing.assert_close(model.encode(x)[1].detach(), model.logvar_c.mean(0).detach().expand(64, 2))
    terms = model.loss(x)
    assert not torch.equal(terms["loss"], terms["rec"])
    refit = model.mu_c.detach().clone()
    model.fit_end(x)  # after pretraining the mixture is the optimiser's
    assert torch.equal(model.mu_c, refit)


def test_fixed_pi_stays_uniform_and_learned_pi_moves():
    x = torch.rand(64, *SHAPE)
    uniform = torch.full((3,), 1 / 3)
    for learn_pi in (False, True):
        model = small(learn_pi=learn_pi, pretrain=1).train()
        assert any(p is model.pi_logits for p in model.parameters()) == learn_pi
        g = torch.Generator().manual_seed(0)
        model.init_mixture(torch.cat([torch.randn(90, 2, generator=g) - 6, torch.randn(10, 2, generator=g) + 6,
                                      torch.randn(30, 2, generator=g)]))  # unbalanced: 90, 10, 30 codes
        model.epoch.fill_(1)  # the ELBO, not pretraining
        opt = torch.optim.Adam(model.optimizer_groups()["model"], 1e-2)
        fitted = torch.softmax(model.pi_logits, 0).detach().clone()
        model.loss(x)["loss"].backward()
        opt.step()
        pi = torch.softmax(model.pi_logits, 0).detach()
        if learn_pi:  # the fitted weights, then the optimiser's
            torch.testing.assert_close(fitted.sort().values, torch.tensor([10, 30, 90]) / 130, atol=1e-3, rtol=0)
            assert not torch.equal(pi, fitted)
        else:
            assert torch.equal(pi, uniform) and torch.equal(fitted, uniform) and model.pi_logits.grad is None


def test_init_mixture_full_covariance_keeps_the_diagonal():
    g = torch.Generator().manual_seed(0)
    mix = torch.tensor([[1.0, 0.0], [0.9, 0.3]])  # correlated noise: variances 1 + 0 = 1 and 0.81 + 0.09 = 0.9
    centres = torch.tensor([[-20.0, 0.0], [0.0, 20.0], [20.0, 0.0]])
    codes = torch.cat([c + torch.randn(2000, 2, generator=g) @ mix.T for c in centres])
    model = small(covariance="full")
    model.init_mixture(codes)
    order = model.mu_c[:, 0].argsort()
    torch.testing.assert_close(model.mu_c[order].detach(), centres, atol=0.1, rtol=0)
    torch.testing.assert_close(model.logvar_c.exp().detach(), torch.tensor([1.0, 0.9]).expand(3, 2), atol=0.1, rtol=0)


def test_init_mixture_finds_separated_clusters():
    model = small()
    centres = torch.tensor([[-5.0, 0.0], [0.0, 5.0], [5.0, 0.0]])
    g = torch.Generator().manual_seed(0)
    codes = torch.cat([c + 0.1 * torch.randn(100, 2, generator=g) for c in centres])
    model.init_mixture(codes)
    order = model.mu_c[:, 0].argsort()
    torch.testing.assert_close(model.mu_c[order].detach(), centres, atol=0.05, rtol=0)
    torch.testing.assert_close(torch.softmax(model.pi_logits, 0).detach(), torch.full((3,), 1 / 3), atol=1e-3, rtol=0)
    torch.testing.assert_close(model.logvar_c.exp().detach(), torch.full((3, 2), 0.01), atol=0.005, rtol=0)
    # codes near a component are assigned to it
    labels = torch.softmax(model.log_joint_c(codes), -1).argmax(1)
    assert all(len(set(labels[i * 100:(i + 1) * 100].tolist())) == 1 for i in range(3))
    with pytest.raises(LatentlabError, match="at least 3 codes"):
        model.init_mixture(codes[:2])


def test_samples_of_one_cluster():
    model = small()
    with torch.no_grad():
        model.logvar_c.fill_(-30.0)  # a point mass at mu_c
    images = model.sample(5, generator=torch.Generator().manual_seed(0), cluster=1)
    torch.testing.assert_close(images, model.decode(model.mu_c[1:2].detach()).expand(5, *SHAPE))
    with pytest.raises(LatentlabError, match="outside 0..2"):
        model.sample(2, cluster=3)


@pytest.mark.parametrize("bad", [dict(hidden="a,b"), dict(hidden="16,0"), dict(clusters=0), dict(pretrain=-1),
                                 dict(activation="nope"), dict(covariance="spherical")])
def test_bad_settings(bad):
    with pytest.raises(ConfigError):
        VaDEConfig(**bad).validate()


def test_run_folder_round_trip(tmp_path):
    run = latentlab.train("vade", out=str(tmp_path / "run"), dataset="digits", epochs=2, batch_size=64, progress=False,
                          clusters=10, latent_dim=4, hidden="32,16", pretrain=1)
    assert {"train_loss", "train_kl", "val_loss", "val_neg_elbo"} <= run.metrics[-1].keys()
    assert all(math.isfinite(row["val_loss"]) for row in run.metrics)
    model = latentlab.load(run.dir)
    assert isinstance(model, VaDE) and model.cfg.hidden == "32,16" and int(model.epoch) == 2
    x = latentlab.load_dataset("digits").test.x[:50]
    assert torch.equal(model.cluster(x), run.model.cluster(x))
    assert model.cluster(x).max() < 10
    torch.testing.assert_close(model.reconstruct(x), run.model.reconstruct(x))


def test_checkpoints_of_fixed_and_learned_pi_load_into_each_other():
    # pi_logits is a buffer (fixed pi) or a parameter (learned pi) under the same name: a checkpoint of either
    # kind, among them those written before pi could be fixed (a parameter), loads into a model of the other
    learned = small(learn_pi=True)
    with torch.no_grad():
        learned.pi_logits.copy_(torch.tensor([0.3, -0.5, 1.0]))
    fixed = small()
    fixed.load_state_dict(learned.state_dict())
    x = torch.rand(8, *SHAPE)
    torch.testing.assert_close(fixed.cluster_probabilities(x), learned.cluster_probabilities(x))
    assert not any(p is fixed.pi_logits for p in fixed.parameters())
    again = small(learn_pi=True)
    again.load_state_dict(small().state_dict())
    torch.testing.assert_close(torch.softmax(again.pi_logits, 0).detach(), torch.full((3,), 1 / 3))


@pytest.mark.parametrize("learn_pi", [False, True])
def test_run_folder_round_trip_of_pi(tmp_path, learn_pi):
    run = latentlab.train("vade", out=str(tmp_path / "run"), dataset="digits", epochs=2, batch_size=64, progress=False,
                          clusters=10, latent_dim=4, hidden="32,16", pretrain=1, learn_pi=learn_pi, covariance="full")
    model = latentlab.load(run.dir)
    assert model.cfg.learn_pi == learn_pi and model.cfg.covariance == "full"
    assert any(p is model.pi_logits for p in model.parameters()) == learn_pi
    torch.testing.assert_close(model.pi_logits, run.model.pi_logits)
    pi = torch.softmax(model.pi_logits, 0)
    if learn_pi:
        assert not torch.allclose(pi, torch.full((10,), 0.1))
    else:
        assert torch.equal(pi, torch.full((10,), 0.1))
    x = latentlab.load_dataset("digits").test.x[:50]
    assert torch.equal(model.cluster(x), run.model.cluster(x))
