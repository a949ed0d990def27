"""The shared maths of latentlab.nn.losses against closed forms and torch.distributions."""
import pytest
import torch
from torch import distributions as D

from latentlab.nn.losses import discriminator_bce, gaussian_kl, generator_bce, gradient_penalty, reparameterize


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(6, 4, generator=g, dtype=torch.float64), torch.randn(6, 4, generator=g, dtype=torch.float64)
    q = D.Normal(mu, torch.exp(0.5 * logvar))
    p = D.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    want = D.kl_divergence(q, p).sum(1)
    got = gaussian_kl(mu, logvar)
    assert got.shape == (6,)
    torch.testing.assert_close(got, want)
    # closed form in one dimension: KL(N(m, s^2) || N(0, 1)) = (s^2 + m^2 - 1) / 2 - log s
    m, s = 1.5, 0.5
    one = gaussian_kl(torch.tensor([[m]]), torch.tensor([[2 * torch.log(torch.tensor(s))]]))
    assert one.item() == pytest.approx((s**2 + m**2 - 1) / 2 - torch.log(torch.tensor(s)).item())
    assert gaussian_kl(torch.zeros(3, 5), torch.zeros(3, 5)).abs().max() == 0  # q = p


def test_reparameterize_is_reproducible_with_a_generator_and_differentiable():
    mu = torch.randn(50_000, 2, requires_grad=True)
    logvar = torch.full((50_000, 2), 2 * torch.log(torch.tensor(3.0)).item(), requires_grad=True)
    a = reparameterize(mu, logvar, torch.Generator().manual_seed(7))
    torch.manual_seed(1)  # the global RNG plays no part
    b = reparameterize(mu, logvar, torch.Generator().manual_seed(7))
    assert torch.equal(a, b) and not torch.equal(a, reparameterize(mu, logvar, torch.Generator().manual_seed(8)))
    eps = (a - mu) / 3.0  # z = mu + sigma * eps with sigma = 3
    assert eps.mean().abs() < 0.02 and eps.std().item() == pytest.approx(1.0, abs=0.02)
    a.sum().backward()
    assert torch.allclose(mu.grad, torch.ones_like(mu))  # dz/dmu = 1
    torch.testing.assert_close(logvar.grad, (0.5 * (a - mu)).detach())  # dz/dlogvar = sigma * eps / 2


def test_gradient_penalty_is_zero_for_a_unit_gradient_critic():
    real, fake = torch.rand(8, 1, 3, 3), torch.rand(8, 1, 3, 3)
    w = torch.randn(9)
    unit = w / w.norm()

    def critic(x):  # f(x) = <w, x> with ||w|| = 1: its gradient has norm 1 everywhere
        return (x.flatten(1) * unit).sum(1, keepdim=True)

    assert gradient_penalty(critic, real, fake).item() == pytest.approx(0.0, abs=1e-10)
    assert gradient_penalty(lambda x: 2 * critic(x), real, fake).item() == pytest.approx(1.0)  # (2 - 1)^2
    with torch.no_grad():  # validation: still computable
        assert gradient_penalty(lambda x: 2 * critic(x), real, fake).item() == pytest.approx(1.0)
    # flat samples (B, D), as the shower critic sees them, and a penalty that trains the critic
    scale = torch.tensor(3.0, requires_grad=True)
    gp = gradient_penalty(lambda v: scale * v.sum(1), torch.rand(4, 1), torch.rand(4, 1))
    gp.backward()
    assert gp.item() == pytest.approx(4.0) and scale.grad.item() == pytest.approx(4.0)  # d (s - 1)^2 / ds


def test_adversarial_bce_losses():
    logits = torch.tensor([[0.3], [-1.2], [2.0]])
    d = torch.sigmoid(logits)
    want = -(torch.log(d).mean() + torch.log(1 - d).mean())
    torch.testing.assert_close(discriminator_bce(logits, logits), want)
    smooth = -(0.9 * torch.log(d) + 0.1 * torch.log(1 - d)).mean() - torch.log(1 - d).mean()
    torch.testing.assert_close(discriminator_bce(logits, logits, smooth=0.1), smooth)
    torch.testing.assert_close(generator_bce(logits, "minimax"), torch.log(1 - d).mean())
    torch.testing.assert_close(generator_bce(logits, "non-saturating"), -torch.log(d).mean())
