"""Divergences, the reparameterization trick and the adversarial losses, written once for every model.

    gaussian_kl        KL(N(mu, diag(exp(logvar))) || N(0, I)) per row
                       = -1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j))     (Kingma and Welling 2014, appendix B)
    reparameterize     z = mu + exp(logvar / 2) * eps,  eps ~ N(0, I)            (Kingma and Welling 2014, section 2.4)
    gradient_penalty   E[(||grad f(x_hat)|| - 1)^2],  x_hat = eps x + (1 - eps) x_fake,  eps ~ U(0, 1)
                                                                                 (Gulrajani et al. 2017, eq. 3)
    discriminator_bce  -E[log D(x)] - E[log(1 - D(G(z)))]                        (Goodfellow et al. 2014, eq. 1)
    generator_bce      minimax E[log(1 - D(G(z)))] or non-saturating -E[log D(G(z))]  (ibid., section 3)

D(x) = sigmoid(logit): the adversarial losses take logits. Draws come from ``generator`` when
one is given, else from the global RNG (what the training loop seeds).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per row, summed over latent dimensions: (B, D) each -> (B,)."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One draw z ~ N(mu, diag(exp(logvar))) that is differentiable in mu and logvar: same shape as mu."""
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor) -> torch.Tensor:
    """E[(||grad_x f(x_hat)|| - 1)^2] on random interpolates of real and fake samples (B, ...): a scalar.

    ``critic`` maps a batch to its scores (B, 1) or (B,); one eps per sample, drawn with the global RNG.
    Works under no_grad too (validation): the graph is then not kept for a backward pass."""
    keep_graph = torch.is_grad_enabled()
    with torch.enable_grad():
        eps = torch.rand(len(real), *[1] * (real.dim() - 1), device=real.device, dtype=real.dtype)  # (B, 1, ...)
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)  # (B, ...)
        (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=keep_graph)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


def discriminator_bce(real_logits: torch.Tensor, fake_logits: torch.Tensor, smooth: float = 0.0) -> torch.Tensor:
    """-E[log D(x)] - E[log(1 - D(G(z)))], real target 1 - smooth (one-sided smoothing, Salimans et al. 2016)."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, 1.0 - smooth))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def generator_bce(fake_logits: torch.Tensor, kind: str) -> torch.Tensor:
    """minimax: E[log(1 - D(G(z)))] = -softplus(logit); non-saturating: -E[log D(G(z))] = softplus(-logit)."""
    if kind == "minimax":
        return -F.softplus(fake_logits).mean()
    return F.softplus(-fake_logits).mean()
