"""AC-GAN (Odena, Olah and Shlens 2017): a conditional generator and a discriminator with an
auxiliary classifier head on its shared body (the discriminator does not see the label).

generator       G(z, c): [z, one_hot(c)] -> MLP or DCGAN generator -> (B, C, H, W) in [0, 1]
discriminator   x -> body -> "adv" head (B, 1) real/fake logit and "cls" head (B, K) class logits
losses (eq. 1-2 of the paper, as quantities to minimise)
    L_S = BCE of real vs fake (the ``gan`` losses),   L_C = CE(cls(x), c) + CE(cls(G(z, c)), c)
    discriminator   L_S + class_weight * L_C
    generator       its adversarial loss (non-saturating or minimax) + class_weight * CE(cls(G(z, c)), c)
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from latentlab.config import setting
from latentlab.errors import ConfigError
from latentlab.models.adversarial import AdversarialConfig, mean_prob, signal_norm
from latentlab.models.cgan import LabelledGenerator
from latentlab.nn.gan_nets import ARCHS, Discriminator
from latentlab.nn.losses import discriminator_bce, generator_bce


@dataclass
class ACGANConfig(AdversarialConfig):
    arch: str = setting("conv", "network family: conv (the DCGAN design rules) or mlp", ARCHS)
    hidden: int = setting(256, "units per hidden layer (mlp)")
    layers: int = setting(2, "hidden layers of each network (mlp)")
    channels: int = setting(32, "channels of the discriminator's first conv layer (conv)")
    class_weight: float = setting(1.0, "weight of the auxiliary classification loss L_C")

    def validate(self) -> None:
        super().validate()
        if self.class_weight < 0:
            raise ConfigError(f"class_weight must be >= 0, got {self.class_weight}")


class ACGAN(LabelledGenerator):
    """AC-GAN: conditional generator, discriminator with an auxiliary classifier (Odena et al. 2017)."""

    name = "acgan"
    Config = ACGANConfig

    def __init__(self, cfg: ACGANConfig, shape: tuple[int, int, int], num_classes: int | None = None):
        super().__init__(cfg, shape, num_classes)
        self.build_generator(cfg, shape, num_classes)
        self.discriminator = Discriminator(cfg.arch, shape, {"adv": 1, "cls": num_classes}, hidden=cfg.hidden,
                                           layers=cfg.layers, channels=cfg.channels)  # {"adv": (B, 1), "cls": (B, K)}
        self.init_fixed_noise()

    def discriminator_loss(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        fake = self.generator(self.noise(len(x), y)).detach()  # fakes for the batch's labels
        real, fake_out = self.discriminator(x), self.discriminator(fake)
        adv = discriminator_bce(real["adv"], fake_out["adv"], self.cfg.smooth)
        cls = F.cross_entropy(real["cls"], y) + F.cross_entropy(fake_out["cls"], y)
        return {"loss": adv + self.cfg.class_weight * cls, "adv": adv, "cls": cls,
                "d_real": mean_prob(real["adv"]), "d_fake": mean_prob(fake_out["adv"]),
                "acc_real": (real["cls"].argmax(1) == y).float().mean()}

    def generator_loss(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        fake = self.generator(self.noise(len(x), y))
        out = self.discriminator(fake)
        adv = generator_bce(out["adv"], self.cfg.gen_loss)
        cls = F.cross_entropy(out["cls"], y)
        loss = adv + self.cfg.class_weight * cls
        return {"loss": loss, "adv": adv, "cls": cls, "d_fake": mean_prob(out["adv"]),
                "acc_fake": (out["cls"].argmax(1) == y).float().mean(), "grad_norm": signal_norm(adv, fake)}
