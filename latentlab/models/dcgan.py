"""DCGAN (Radford, Metz and Chintala 2016): the GAN with the lecture notes' convolutional design rules.

generator       z (B, latent) -> convT to (B, 2ch, H/4, W/4) -> BN, ReLU -> convT (B, ch, H/2, W/2) -> BN, ReLU
                -> convT (B, C, H, W) -> sigmoid
discriminator   (B, C, H, W) -> conv stride 2 (B, ch, H/2, W/2) -> LeakyReLU -> conv stride 2 (B, 2ch, H/4, W/4)
                -> BN, LeakyReLU -> conv over the whole map (B, 1) logit
No hidden fully connected layer; no batch norm on D's input layer or G's output layer (see gan_nets).
Losses and training as for ``gan`` (non-saturating by default; Adam betas (0.5, 0.999)), but Adam at lr 2e-3,
not the paper's 2e-4: faster to good samples on a CPU budget (see ``train_defaults``).
"""
from __future__ import annotations

from dataclasses import dataclass

from latentlab.config import setting
from latentlab.models.adversarial import AdversarialConfig, AdversarialModel
from latentlab.models.gan import UnconditionalGAN
from latentlab.nn.gan_nets import ConvGenerator, Discriminator


@dataclass
class DCGANConfig(AdversarialConfig):
    channels: int = setting(32, "channels of the discriminator's first conv layer (the second has twice as many; G mirrors it)")


class DCGAN(UnconditionalGAN):
    """DCGAN: strided and transposed convolutions, batch norm, ReLU in G, LeakyReLU in D (Radford et al. 2016)."""

    name = "dcgan"
    Config = DCGANConfig
    # Adam at 2e-3, ten times the paper's 2e-4 (betas kept): after 15 CPU-minutes on MNIST, FD 41 against 77
    # at 2e-4 (49 at 1e-3); a moving average of the weights, a wider net and label smoothing did not help
    # at that budget (bench/gan_defaults.py). 30 epochs: about 12 minutes of one core.
    train_defaults = {**AdversarialModel.train_defaults, "lr": 2e-3, "epochs": 30}

    def __init__(self, cfg: DCGANConfig, shape: tuple[int, int, int], num_classes: int | None = None):
        super().__init__(cfg, shape, num_classes)
        self.generator = ConvGenerator(cfg.latent_dim, shape, cfg.channels)  # (B, latent) -> (B, C, H, W)
        self.discriminator = Discriminator("conv", shape, {"adv": 1}, channels=cfg.channels)  # -> (B, 1)
        self.init_fixed_noise()
