"""GAN (Goodfellow et al. 2014) with MLP networks, minimax or non-saturating generator loss.

generator       G(z): z ~ N(0, I) (B, latent) -> ReLU MLP -> sigmoid -> (B, C, H, W) in [0, 1]
discriminator   D(x) = sigmoid(logit(x)): LeakyReLU MLP -> (B, 1) logit
losses          see latentlab.models.adversarial: D minimises the BCE of real vs fake; G minimises
                log(1 - D(G(z))) (minimax, eq. 1) or -log D(G(z)) (non-saturating, the paper's and the
                lecture notes' fix for the vanishing gradient when D rejects the early fakes)

``UnconditionalGAN`` holds these losses for any pair of networks: ``gan`` (MLPs) and ``dcgan``
(convolutions) differ only in the networks they build.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from latentlab.config import setting
from latentlab.models.adversarial import AdversarialConfig, AdversarialModel, gradient_norm_at, mean_prob
from latentlab.nn.gan_nets import Discriminator, MLPGenerator
from latentlab.nn.losses import discriminator_bce, generator_bce


@dataclass
class GANConfig(AdversarialConfig):
    hidden: int = setting(256, "units per hidden layer of the generator and discriminator")
    layers: int = setting(2, "hidden layers of each network")


class UnconditionalGAN(AdversarialModel):
    """G(z) against D(x) with the BCE losses; subclasses build the two networks."""

    def discriminator_loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        fake = self.generator(self.noise(len(x))).detach()  # (B, C, H, W); G is frozen in this step
        real_logit = self.discriminator(x)["adv"]  # (B, 1)
        fake_logit = self.discriminator(fake)["adv"]
        return {"loss": discriminator_bce(real_logit, fake_logit, self.cfg.smooth),
                "d_real": mean_prob(real_logit), "d_fake": mean_prob(fake_logit)}

    def generator_loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        fake = self.generator(self.noise(len(x)))
        logit = self.discriminator(fake)["adv"]  # D is frozen in this step
        loss = generator_bce(logit, self.cfg.gen_loss)
        return {"loss": loss, "d_fake": mean_prob(logit), "grad_norm": gradient_norm_at(fake)}


class GAN(UnconditionalGAN):
    """GAN with MLP networks, minimax or non-saturating generator loss (Goodfellow et al. 2014)."""

    name = "gan"
    Config = GANConfig

    def __init__(self, cfg: GANConfig, shape: tuple[int, int, int], num_classes: int | None = None):
        super().__init__(cfg, shape, num_classes)
        self.generator = MLPGenerator(cfg.latent_dim, shape, cfg.hidden, cfg.layers)  # (B, latent) -> (B, C, H, W)
        self.discriminator = Discriminator("mlp", shape, {"adv": 1}, hidden=cfg.hidden, layers=cfg.layers)  # -> (B, 1)
        self.init_fixed_noise()
