"""Adversarial autoencoder (Makhzani et al. 2016): an autoencoder whose codes are pushed to the
prior by a discriminator instead of the VAE's KL term.

encode:          z = E(x), deterministic (the first of the paper's three choices of q(z|x), section 2)
decode:          p(x|z) Bernoulli with means sigmoid(decoder(z))
prior:           p(z) = N(0, I)
discriminator:   D(z) = sigmoid(logit(z)), an MLP on codes; prior draws are "real", codes E(x) "fake"
three optimiser groups, each stepping on its own batch, in this order (section 2, "reconstruction
phase" then "regularization phase"):
    reconstruction   encoder + decoder   -log p(x|E(x)) = BCE summed over pixels, averaged over the batch
    discriminator    D                   -[log D(z) + log(1 - D(E(x)))],  z ~ N(0, I)   (Goodfellow et al. 2014, eq. 1)
    generator        encoder             non-saturating -log D(E(x)) (or minimax log(1 - D(E(x))))
The encoder is the GAN's generator: it learns to make the aggregated posterior
q(z) = E_x[q(z|x)] indistinguishable from p(z), which the VAE's per-image KL term only
encourages. The latent map (``latentlab.viz.plots.make_pictures``) shows q(z) filling the prior;
compare it with the VAE's. Sampling decodes prior draws; the logged ``code_std`` (the mean over
dimensions of the codes' standard deviation) should approach 1.

Terms are in nats per image (reconstruction) and the BCE of the adversarial game (``latentlab.nn.losses``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from latentlab.config import check_choices, setting
from latentlab.errors import ConfigError
from latentlab.models.adversarial import GEN_LOSSES, mean_prob
from latentlab.models.base import Encoder, GenerativeModel, Sampler
from latentlab.nn.likelihoods import bernoulli_nll
from latentlab.nn.losses import discriminator_bce, generator_bce
from latentlab.nn.nets import ACTIVATIONS, decoder_net, encoder_net, mlp

ARCHS = ("mlp", "conv")


@dataclass
class AAEConfig:
    arch: str = setting("mlp", "encoder/decoder family", ARCHS)
    latent_dim: int = setting(8, "size of the code z; the prior is N(0, I) (the paper's MNIST codes have 8)")
    hidden: int = setting(512, "units per hidden layer of the encoder and decoder (MLP) / of the dense layer (conv)")
    layers: int = setting(2, "hidden layers of the MLP encoder and decoder")
    channels: int = setting(32, "channels of the first conv layer (the second has twice as many)")
    activation: str = setting("relu", "activation of the MLP encoder and decoder", tuple(ACTIVATIONS))
    d_hidden: int = setting(256, "units per hidden layer of the code discriminator D(z)")
    d_layers: int = setting(2, "hidden layers of the code discriminator D(z)")
    gen_loss: str = setting("non-saturating", "the encoder's adversarial loss: non-saturating -log D(E(x)) "
                            "or minimax log(1 - D(E(x)))", GEN_LOSSES)

    def validate(self) -> None:
        check_choices(self)
        for name in ("latent_dim", "hidden", "layers", "channels", "d_hidden", "d_layers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")


class AAE(GenerativeModel, Sampler, Encoder):
    """Adversarial autoencoder: codes matched to N(0, I) by a discriminator (Makhzani et al. 2016)."""

    name = "aae"
    Config = AAEConfig
    train_defaults = {"lr": 2e-4, "beta1": 0.5, "beta2": 0.999}  # the adversarial phases train like a GAN

    def __init__(self, cfg: AAEConfig, shape: tuple[int, int, int], num_classes: int | None = None):
        super().__init__(cfg, shape, num_classes)
        net = dict(hidden=cfg.hidden, layers=cfg.layers, channels=cfg.channels, act=cfg.activation)
        self.encoder = encoder_net(cfg.arch, shape, cfg.latent_dim, **net)  # (B, C, H, W) -> (B, latent)
        self.decoder = decoder_net(cfg.arch, shape, cfg.latent_dim, **net)  # (B, latent) -> (B, C, H, W) logits
        # (B, latent) -> (B, 1) logit of "drawn from the prior"
        self.discriminator = mlp([cfg.latent_dim] + [cfg.d_hidden] * cfg.d_layers + [1], lambda: nn.LeakyReLU(0.2))

    # --- the training loop's interface ------------------------------------------------
    def optimizer_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"reconstruction": [*self.encoder.parameters(), *self.decoder.parameters()],
                "discriminator": list(self.discriminator.parameters()),
                "generator": list(self.encoder.parameters())}

    def schedule(self) -> list[str]:
        return ["reconstruction", "discriminator", "generator"]

    def loss(self, x: torch.Tensor, y: torch.Tensor | None, group: str) -> dict[str, torch.Tensor]:
        if group == "reconstruction":
            return self.reconstruction_loss(x)
        if group == "discriminator":
            return self.discriminator_loss(x)
        return self.generator_loss(x)

    def evaluate(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """"loss" is the reconstruction term (early stopping); the game's terms beside it."""
        d, g = self.discriminator_loss(x), self.generator_loss(x)
        return {**self.reconstruction_loss(x), "d_loss": d["loss"], "d_real": d["d_real"], "d_fake": d["d_fake"],
                "g_loss": g["loss"], "code_std": d["code_std"]}

    # --- the three phases -------------------------------------------------------------
    def reconstruction_loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        rec = bernoulli_nll(self.decoder(self.encoder(x)), x).mean()  # nats per image
        return {"loss": rec, "rec": rec}

    def prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ N(0, I): (n, latent)."""
        return torch.randn(n, self.cfg.latent_dim, generator=generator, device=self.device)

    def discriminator_loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        codes = self.encoder(x).detach()  # (B, latent), the "fakes"; the encoder is frozen in this step
        real_logit = self.discriminator(self.prior(len(x)))  # (B, 1)
        fake_logit = self.discriminator(codes)
        return {"loss": discriminator_bce(real_logit, fake_logit), "d_real": mean_prob(real_logit),
                "d_fake": mean_prob(fake_logit), "code_std": codes.std(0, unbiased=False).mean()}

    def generator_loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        logit = self.discriminator(self.encoder(x))  # (B, 1); D is frozen in this step
        return {"loss": generator_bce(logit, self.cfg.gen_loss), "d_fake": mean_prob(logit)}

    # --- what users call ----------------------------------------------------------------
    @torch.no_grad()
    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Mean image of p(x|z) in [0, 1]: (B, latent) -> (B, C, H, W)."""
        self.check_labels(y, len(z))
        return torch.sigmoid(self.decoder(z))

    @torch.no_grad()
    def latent(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The code E(x): (B, latent)."""
        self.check_labels(y, len(x))
        return self.encoder(x)

    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Decoded prior draws: (n, C, H, W) in [0, 1]."""
        self.check_labels(y, n)
        return self.decode(self.prior(n, generator))
