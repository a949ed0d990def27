"""Conditional GAN (Mirza and Osindero 2014): the class label goes into both networks.

generator       G(z, y): [z, one_hot(y)] (B, latent + K) -> MLP or DCGAN generator -> (B, C, H, W) in [0, 1]
discriminator   D(x, y): MLP on [flatten(x), one_hot(y)], or DCGAN convolutions on x with K constant
                label planes appended to its channels -> (B, 1) logit
losses          those of ``gan`` with every D and G conditioned on y: the fakes of a batch are drawn
                for the labels of that batch's real images, so D must judge image *and* label.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from latentlab.config import setting
from latentlab.errors import ConfigError
from latentlab.models.adversarial import AdversarialConfig, AdversarialModel, gradient_norm_at, mean_prob
from latentlab.models.base import ConditionalSampler
from latentlab.nn.gan_nets import ARCHS, Discriminator, generator_net
from latentlab.nn.losses import discriminator_bce, generator_bce


@dataclass
class CGANConfig(AdversarialConfig):
    arch: str = setting("conv", "network family: conv (the DCGAN design rules) or mlp (Mirza and Osindero's; slower to follow the label)", ARCHS)
    hidden: int = setting(256, "units per hidden layer (mlp)")
    layers: int = setting(2, "hidden layers of each network (mlp)")
    channels: int = setting(32, "channels of the discriminator's first conv layer (conv)")


class LabelledGenerator(AdversarialModel, ConditionalSampler):
    """Shared by cGAN and AC-GAN: G(z, y) on [z, one_hot(y)], the fixed grid one row per class."""

    def build_generator(self, cfg, shape: tuple[int, int, int], num_classes: int | None) -> None:
        if not num_classes:
            raise ConfigError(f"'{self.name}' is conditional and needs a labelled dataset (digits, mnist, fashion-mnist, "
                              "or arrays/folders with labels); use 'gan' or 'dcgan' for unlabelled images")
        self.generator = generator_net(cfg.arch, cfg.latent_dim + num_classes, shape, cfg.hidden, cfg.layers, cfg.channels)

    def one_hot(self, y: torch.Tensor) -> torch.Tensor:
        return F.one_hot(y, self.num_classes).float()  # (B, K)

    def noise(self, n: int, y: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """[z, one_hot(y)] (n, latent + K); labels drawn uniformly when y is None."""
        if y is None:
            y = torch.randint(self.num_classes, (n,), generator=generator, device=self.device)
        z = torch.randn(n, self.cfg.latent_dim, generator=generator, device=self.device)
        return torch.cat([z, self.one_hot(y)], 1)

    def fixed_noise(self) -> torch.Tensor:
        """One row per class; the same z in every row, so each column is one 'style'."""
        cols, k = self.grid_cols, self.num_classes
        z = torch.randn(cols, self.cfg.latent_dim).repeat(k, 1)  # (K * cols, latent)
        y = torch.arange(k).repeat_interleave(cols)  # (K * cols,) 0 0 .. 1 1 ..
        return torch.cat([z, self.one_hot(y)], 1)


class CGAN(LabelledGenerator):
    """Conditional GAN: labels into both generator and discriminator (Mirza and Osindero 2014)."""

    name = "cgan"
    Config = CGANConfig

    def __init__(self, cfg: CGANConfig, shape: tuple[int, int, int], num_classes: int | None = None):
        super().__init__(cfg, shape, num_classes)
        self.build_generator(cfg, shape, num_classes)
        self.discriminator = Discriminator(cfg.arch, shape, {"adv": 1}, cond_dim=num_classes, hidden=cfg.hidden,
                                           layers=cfg.layers, channels=cfg.channels)  # D(x, y) -> (B, 1)
        self.init_fixed_noise()

    def discriminator_loss(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        fake = self.generator(self.noise(len(x), y)).detach()  # fakes for the batch's labels
        real_logit = self.discriminator(x, self.one_hot(y))["adv"]  # (B, 1)
        fake_logit = self.discriminator(fake, self.one_hot(y))["adv"]
        return {"loss": discriminator_bce(real_logit, fake_logit, self.cfg.smooth),
                "d_real": mean_prob(real_logit), "d_fake": mean_prob(fake_logit)}

    def generator_loss(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        fake = self.generator(self.noise(len(x), y))
        logit = self.discriminator(fake, self.one_hot(y))["adv"]
        loss = generator_bce(logit, self.cfg.gen_loss)
        return {"loss": loss, "d_fake": mean_prob(logit), "grad_norm": gradient_norm_at(fake)}
