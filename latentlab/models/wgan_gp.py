"""WGAN-GP (Gulrajani et al. 2017): a critic estimating the Wasserstein-1 distance, kept
1-Lipschitz by a gradient penalty instead of weight clipping (Arjovsky et al. 2017).

critic      f(x): MLP or DCGAN discriminator *without* batch norm (the penalty is per image) -> (B, 1) score
generator   as ``gan`` / ``dcgan``
losses (Algorithm 1 of Gulrajani et al.)
    critic      E[f(G(z))] - E[f(x)] + lambda * E[(||grad f(x_hat)|| - 1)^2],
                x_hat = eps * x + (1 - eps) * G(z), eps ~ U(0, 1) per image, lambda = gp_weight (10)
    generator   -E[f(G(z))]
n_critic critic steps per generator step (5), Adam with the paper's betas (0, 0.9) and lr 1e-4.
"wasserstein" = E[f(x)] - E[f(G(z))] is the critic's estimate of W1 (it tracks sample quality).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from latentlab.config import setting
from latentlab.errors import ConfigError
from latentlab.models.adversarial import AdversarialModel, check_gan_config, gradient_norm_at
from latentlab.nn.gan_nets import ARCHS, Discriminator, generator_net
from latentlab.nn.losses import gradient_penalty


@dataclass
class WGANGPConfig:
    arch: str = setting("conv", "network family: conv (the DCGAN design rules, no batch norm in the critic) or mlp", ARCHS)
    latent_dim: int = setting(64, "size of the noise vector z ~ N(0, I)")
    hidden: int = setting(256, "units per hidden layer (mlp)")
    layers: int = setting(2, "hidden layers of each network (mlp)")
    channels: int = setting(32, "channels of the critic's first conv layer (conv)")
    n_critic: int = setting(5, "critic steps per generator step")
    gp_weight: float = setting(10.0, "lambda: weight of the gradient penalty")

    def validate(self) -> None:
        check_gan_config(self)
        if self.gp_weight < 0:
            raise ConfigError(f"gp_weight must be >= 0, got {self.gp_weight}")


class WGANGP(AdversarialModel):
    """WGAN-GP: Wasserstein critic with a gradient penalty, n_critic steps per generator step (Gulrajani et al. 2017)."""

    name = "wgan-gp"
    Config = WGANGPConfig
    train_defaults = {"lr": 1e-4, "beta1": 0.0, "beta2": 0.9}  # Gulrajani et al., Algorithm 1
    critic = True

    def __init__(self, cfg: WGANGPConfig, shape: tuple[int, int, int], num_classes: int | None = None):
        super().__init__(cfg, shape, num_classes)
        self.generator = generator_net(cfg.arch, cfg.latent_dim, shape, cfg.hidden, cfg.layers, cfg.channels)
        self.discriminator = Discriminator(cfg.arch, shape, {"adv": 1}, hidden=cfg.hidden, layers=cfg.layers,
                                           channels=cfg.channels, batchnorm=False)  # the critic f: (B, 1) scores
        self.init_fixed_noise()

    def schedule(self) -> list[str]:
        return ["discriminator"] * self.cfg.n_critic + ["generator"]

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """The critic f(x): (B, C, H, W) -> (B, 1)."""
        return self.discriminator(x)["adv"]

    def discriminator_loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        fake = self.generator(self.noise(len(x))).detach()  # G is frozen in this step
        f_real = self.score(x).mean()
        f_fake = self.score(fake).mean()
        gp = gradient_penalty(self.score, x, fake)
        return {"loss": f_fake - f_real + self.cfg.gp_weight * gp, "wasserstein": (f_real - f_fake).detach(),
                "gp": gp.detach(), "d_real": f_real.detach(), "d_fake": f_fake.detach()}

    def generator_loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        fake = self.generator(self.noise(len(x)))
        f_fake = self.score(fake).mean()  # the critic is frozen in this step
        loss = -f_fake
        return {"loss": loss, "d_fake": f_fake.detach(), "grad_norm": gradient_norm_at(fake)}
