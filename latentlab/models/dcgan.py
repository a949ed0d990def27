"""DCGAN (Radford, Metz and Chintala 2016): the GAN with the lecture notes' convolutional design rules.

generator       z (B, latent) -> convT to (B, 2ch, H/4, W/4) -> BN, ReLU -> convT (B, ch, H/2, W/2) -> BN, ReLU
                -> convT (B, C, H, W) -> sigmoid
discriminator   (B, C, H, W) -> conv stride 2 (B, ch, H/2, W/2) -> LeakyReLU -> conv stride 2 (B, 2ch, H/4, W/4)
                -> BN, LeakyReLU -> conv over the whole map (B, 1) logit
No hidden fully connected layer; no batch norm on D's input layer or G's output layer (see gan_nets).
Losses and training as for ``gan`` (non-saturating by default; Adam betas (0.5, 0.999); the paper uses lr 2e-4).
"""
from __future__ import annotations

from dataclasses import dataclass

from latentlab.config import setting
from latentlab.models.adversarial import GEN_LOSSES, check_gan_config
from latentlab.models.gan import GAN
from latentlab.nn.gan_nets import ConvGenerator, Discriminator


@dataclass
class DCGANConfig:
    latent_dim: int = setting(64, "size of the noise vector z ~ N(0, I)")
    channels: int = setting(32, "channels of the discriminator's first conv layer (the second has twice as many; G mirrors it)")
    gen_loss: str = setting("non-saturating", "generator loss: non-saturating -log D(G(z)) or minimax log(1 - D(G(z)))", GEN_LOSSES)
    d_steps: int = setting(1, "k: discriminator steps per generator step")
    smooth: float = setting(0.0, "one-sided label smoothing: the discriminator's target for real images is 1 - smooth")

    def validate(self) -> None:
        check_gan_config(self)


class DCGAN(GAN):
    """DCGAN: strided and transposed convolutions, batch norm, ReLU in G, LeakyReLU in D (Radford et al. 2016)."""

    name = "dcgan"
    Config = DCGANConfig

    def __init__(self, cfg: DCGANConfig, shape: tuple[int, int, int], num_classes: int | None = None):
        super(GAN, self).__init__(cfg, shape, num_classes)
        self.generator = ConvGenerator(cfg.latent_dim, shape, cfg.channels)  # (B, latent) -> (B, C, H, W)
        self.discriminator = Discriminator("conv", shape, {"adv": 1}, channels=cfg.channels)  # -> (B, 1)
        self.init_fixed_noise()
