"""BiGAN / ALI (Donahue et al. 2017, "Adversarial Feature Learning"; Dumoulin et al. 2017,
"Adversarially Learned Inference"): a GAN that also learns an encoder, adversarially.

generator       G(z): z ~ N(0, I) (B, latent) -> (B, C, H, W) in [0, 1]   (``latentlab.nn.gan_nets``)
encoder         E(x): (B, C, H, W) -> (B, latent), deterministic (BiGAN's choice; ALI's is a Gaussian), with
                batch norm as in Donahue et al.'s networks: without it E collapsed to nearly one code for
                every image on digits (spread 0.09 against the prior's 1 after 100 epochs)
discriminator   D(x, z) = sigmoid(logit(x, z)) on joint pairs: the code enters as extra inputs
                (concatenated after the pixels for ``mlp``, as constant planes for ``conv``)
game            min_{G,E} max_D  E_x[log D(x, E(x))] + E_z[log(1 - D(G(z), z))]   (Donahue et al., section 3)
losses (``latentlab.nn.losses``, logits l = logit(D)):
    discriminator   BCE with (x, E(x)) real and (G(z), z) fake:  -log D(x, E(x)) - log(1 - D(G(z), z))
    generator       G and E together play the reversed game, since 1 - D = sigmoid(-l):
                    non-saturating  -log D(G(z), z) - log(1 - D(x, E(x)))   (the labels swapped, as in ALI)
                    minimax          log(1 - D(G(z), z)) + log D(x, E(x))
At the optimum E and G invert each other (Donahue et al., section 3): G(E(x)) reconstructs x
without ever being trained on a reconstruction loss. The lecture's picture is the pairs of an
image and G(E(x)) (reconstructions.png); ``evaluate`` logs their mean squared error per pixel
(``rec_mse``); E(x) are features for a nearest-neighbour classifier (Donahue et al.: about 97% on MNIST).

Everything else (schedule, fixed code batch, training pictures, Adam lr 2e-4 and betas (0.5, 0.999))
is the GANs' (``latentlab.models.adversarial``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from latentlab.config import setting
from latentlab.models.adversarial import AdversarialConfig, AdversarialModel, gradient_norm_at, mean_prob
from latentlab.models.base import Encoder
from latentlab.nn.gan_nets import ARCHS, ConvBody, Discriminator, generator_net
from latentlab.nn.losses import discriminator_bce, generator_bce


@dataclass
class BiGANConfig(AdversarialConfig):
    latent_dim: int = setting(50, "size of z ~ N(0, I) and of the code E(x) (Donahue et al. use 50 on MNIST)")
    arch: str = setting("mlp", "network family of G, E and D: mlp or conv (the DCGAN design rules)", ARCHS)
    hidden: int = setting(256, "units per hidden layer of G, E and D (mlp)")
    layers: int = setting(2, "hidden layers of each network (mlp)")
    channels: int = setting(32, "channels of the first conv layer of D and E (conv)")


class MLPEncoder(nn.Module):
    """(B, C, H, W) -> (B, latent): pixels centred to [-1, 1], ``layers`` x (linear -> batch norm -> LeakyReLU(0.2)), linear."""

    def __init__(self, shape: tuple[int, int, int], latent: int, hidden: int = 256, layers: int = 2):
        super().__init__()
        sizes = [math.prod(shape)] + [hidden] * layers
        blocks: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            blocks += [nn.Linear(a, b, bias=False), nn.BatchNorm1d(b), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*blocks, nn.Linear(sizes[-1], latent))

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer, (B, hidden)."""
        return self.net[:-1](x.flatten(1) * 2 - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net[-1](self.hidden(x))  # (B, latent)


def encoder_net(arch: str, shape: tuple[int, int, int], latent: int, hidden: int, layers: int, channels: int) -> nn.Module:
    """E: the discriminator's body (``mlp``: with batch norm added; ``conv``: the DCGAN body) and a linear code head."""
    if arch == "mlp":
        return MLPEncoder(shape, latent, hidden, layers)
    body = ConvBody(shape, 0, channels)  # (B, 2ch, H/4, W/4)
    return nn.Sequential(body, nn.Conv2d(body.out_channels, latent, body.out_size), nn.Flatten())  # (B, latent)


class BiGAN(AdversarialModel, Encoder):
    """BiGAN / ALI: an encoder E learnt with the generator against a discriminator on (x, z) pairs (Donahue et al. 2017)."""

    name = "bigan"
    Config = BiGANConfig

    def __init__(self, cfg: BiGANConfig, shape: tuple[int, int, int], num_classes: int | None = None):
        super().__init__(cfg, shape, num_classes)
        self.generator = generator_net(cfg.arch, cfg.latent_dim, shape, cfg.hidden, cfg.layers, cfg.channels)  # -> (B, C, H, W)
        self.encoder = encoder_net(cfg.arch, shape, cfg.latent_dim, cfg.hidden, cfg.layers, cfg.channels)  # -> (B, latent)
        self.discriminator = Discriminator(cfg.arch, shape, {"adv": 1}, cond_dim=cfg.latent_dim, hidden=cfg.hidden,
                                           layers=cfg.layers, channels=cfg.channels)  # (x, z) -> {"adv": (B, 1)}
        self.init_fixed_noise()

    def optimizer_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        return {"discriminator": list(self.discriminator.parameters()),
                "generator": [*self.generator.parameters(), *self.encoder.parameters()]}

    def pair_logits(self, x: torch.Tensor, code: torch.Tensor, fake: torch.Tensor,
                    z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """logit D(x, E(x)) and logit D(G(z), z), each (B, 1)."""
        return self.discriminator(x, code)["adv"], self.discriminator(fake, z)["adv"]

    def discriminator_loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        z = self.noise(len(x))  # (B, latent)
        code, fake = self.encoder(x).detach(), self.generator(z).detach()  # G and E are frozen in this step
        real_logit, fake_logit = self.pair_logits(x, code, fake, z)
        return {"loss": discriminator_bce(real_logit, fake_logit, self.cfg.smooth),
                "d_real": mean_prob(real_logit), "d_fake": mean_prob(fake_logit)}

    def generator_loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        z = self.noise(len(x))
        fake = self.generator(z)  # (B, C, H, W)
        real_logit, fake_logit = self.pair_logits(x, self.encoder(x), fake, z)  # D is frozen in this step
        # G fools D on (G(z), z); E on (x, E(x)), whose "fool D" direction is logit -> -inf
        loss = generator_bce(fake_logit, self.cfg.gen_loss) + generator_bce(-real_logit, self.cfg.gen_loss)
        return {"loss": loss, "d_real": mean_prob(real_logit), "d_fake": mean_prob(fake_logit),
                "grad_norm": gradient_norm_at(fake)}

    def evaluate(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """The GANs' terms, and the squared error per pixel of the reconstructions G(E(x))."""
        terms = super().evaluate(x, y)
        rec = self.generator(self.encoder(x))
        return {**terms, "rec_mse": (rec - x).pow(2).mean()}

    # --- what users call ----------------------------------------------------------------
    @torch.no_grad()
    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """G(z): (B, latent) -> (B, C, H, W) in [0, 1]."""
        self.check_labels(y, len(z))
        return self.generate(z)

    @torch.no_grad()
    def latent(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The code E(x): (B, latent)."""
        self.check_labels(y, len(x))
        return self.encoder(x)

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """E's last hidden layer: (B, hidden) for ``mlp``, (B, 2 ch H/4 W/4) for ``conv``. The features of
        Donahue et al.'s nearest-neighbour classifier: their code scores both E(x) and this layer and finds
        the layer better (97.35% against 92.10% for E(x) in the example run of its README, MNIST, 1024 units)."""
        if isinstance(self.encoder, MLPEncoder):
            return self.encoder.hidden(x)
        return self.encoder[0](x).flatten(1)
