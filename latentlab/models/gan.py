"""GAN (Goodfellow et al. 2014) with MLP networks, minimax or non-saturating generator loss.

generator       G(z): z ~ N(0, I) (B, latent) -> ReLU MLP -> sigmoid -> (B, C, H, W) in [0, 1]
discriminator   D(x) = sigmoid(logit(x)): LeakyReLU MLP -> (B, 1) logit
losses          see latentlab.models.adversarial: D minimises the BCE of real vs fake; G minimises
                log(1 - D(G(z))) (minimax, eq. 1) or -log D(G(z)) (non-saturating, the paper's and the
                lecture notes' fix for the vanishing gradient when D rejects the early fakes)
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from latentlab.config import setting
from latentlab.models.adversarial import GEN_LOSSES, AdversarialModel, check_gan_config, discriminator_bce, generator_bce, mean_prob, signal_norm
from latentlab.nn.gan_nets import Discriminator, MLPGenerator


@dataclass
class GANConfig:
    latent_dim: int = setting(64, "size of the noise vector z ~ N(0, I)")
    hidden: int = setting(256, "units per hidden layer of the generator and discriminator")
    layers: int = setting(2, "hidden layers of each network")
    gen_loss: str = setting("non-saturating", "generator loss: non-saturating -log D(G(z)) or minimax log(1 - D(G(z)))", GEN_LOSSES)
    d_steps: int = setting(1, "k: discriminator steps per generator step")
    smooth: float = setting(0.0, "one-sided label smoothing: the discriminator's target for real images is 1 - smooth")

    def validate(self) -> None:
        check_gan_config(self)


class GAN(AdversarialModel):
    """GAN with MLP networks, minimax or non-saturating generator loss (Goodfellow et al. 2014)."""

    name = "gan"
    Config = GANConfig

    def __init__(self, cfg: GANConfig, shape: tuple[int, int, int], num_classes: int | None = None):
        super().__init__(cfg, shape, num_classes)
        self.generator = MLPGenerator(cfg.latent_dim, shape, cfg.hidden, cfg.layers)  # (B, latent) -> (B, C, H, W)
        self.discriminator = Discriminator("mlp", shape, {"adv": 1}, hidden=cfg.hidden, layers=cfg.layers)  # -> (B, 1)
        self.init_fixed_noise()

    def noise(self, n: int, y: torch.Tensor | None = None) -> torch.Tensor:
        return torch.randn(n, self.cfg.latent_dim, device=self.device)  # (n, latent)

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
        return {"loss": loss, "d_fake": mean_prob(logit), "grad_norm": signal_norm(loss, fake)}
