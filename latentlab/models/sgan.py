"""Semi-supervised GAN (Odena 2016, "Semi-Supervised Learning with Generative Adversarial Networks";
Salimans et al. 2016, "Improved Techniques for Training GANs", section 5): the discriminator is a
classifier of the K classes and of "fake", trained on a few labelled images and every unlabelled one.

generator       G(z): z ~ N(0, I) (B, latent) -> MLP or DCGAN generator -> (B, C, H, W) in [0, 1]
discriminator   x -> body -> "cls" head: K logits l(x). The (K+1)-th class, "fake", has its logit fixed
                at 0 (Salimans et al.'s parametrisation of the K+1 classes), so that
                    p(y = k | x, real) = softmax(l(x))_k,    D(x) = p(real | x) = Z(x) / (Z(x) + 1),  Z = sum_k exp l_k(x)
                i.e. D(x) = sigmoid(log Z(x)): the GAN losses act on the logit logsumexp_k l_k(x).
                In training, Gaussian noise is added to D's input pixels (std ``noise_in``) and to the
                input of every later layer of D (std ``noise_hidden``), as in Salimans et al.'s MNIST network.
losses (as quantities to minimise)
    discriminator   L_supervised + unsup_weight * L_unsupervised
                    L_supervised   = -E_{(x, y), y >= 0} log p(y | x, real)   cross-entropy on the labelled images;
                                     the images with hidden labels (y = -1) take no part in it
                    L_unsupervised = -E_x log D(x) - E_z log(1 - D(G(z)))    every real image of the batch
                                     against as many fakes (the BCE of ``latentlab.nn.losses``)
    generator       feature matching (Salimans et al., section 3.1): || E_x f(x) - E_z f(G(z)) ||^2 / dim f,
                    f = D's last hidden layer (the mean over features, as the authors' code); or the
                    non-saturating -log D(G(z)) or minimax log(1 - D(G(z))) loss on D's logit
data            ``--labels N`` (``latentlab.data.labelled``) keeps the labels of N training images; each
                batch is then ``batch_size`` images with their labels hidden and the labelled ones cycled,
                as Salimans et al. train (a labelled and an unlabelled batch per step)
classifier      classify(x) = argmax_k l_k(x), predict_proba(x) = softmax(l(x)); ``evaluate`` logs the
                validation accuracy (``val_accuracy``), and early stopping follows the discriminator's
                loss, as for every GAN

Defaults. Salimans et al.'s MNIST networks are a discriminator of 1000, 500, 250, 250, 250 units with
Gaussian noise and weight normalisation and a generator of 500, 500 units; Adam lr 0.003 decayed
linearly to 0, 300 epochs. The default here is CPU-sized: D 784 -> 500 -> 500 -> 500 -> K (LeakyReLU(0.2),
noise 0.3 / 0.5, weight normalisation; 0.9 M weights against 1.5 M), G 100 -> 500 -> 500 -> 784 (batch
norm, ReLU), batch 100, Adam lr 3e-3 with betas (0.5, 0.999) decayed linearly to 0 over 100 epochs;
``--arch conv`` uses the DCGAN networks of ``latentlab.nn.gan_nets``. Measured on MNIST with 100 labels
(bench/sgan.py, one thread a run): these defaults 97.84% +- 0.43 test accuracy over 3 seeds (98.23,
97.91, 97.37; 38 to 44 minutes a run on a shared core, about 19 s an epoch on a quiet one); the same
over 60 epochs 96.97% +- 0.49 (97.52, 96.77, 96.61); the earlier defaults (no weight normalisation,
constant lr 1e-3, 20 epochs) 92.28% +- 0.57.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from latentlab.config import setting
from latentlab.errors import ConfigError
from latentlab.models.adversarial import AdversarialConfig, AdversarialModel, gradient_norm_at, mean_prob
from latentlab.models.base import SemiSupervised
from latentlab.nn.gan_nets import ARCHS, Discriminator, generator_net
from latentlab.nn.losses import discriminator_bce, generator_bce

SGAN_GEN_LOSSES = ("feature-matching", "non-saturating", "minimax")


@dataclass
class SGANConfig(AdversarialConfig):
    latent_dim: int = setting(100, "size of the noise vector z ~ N(0, I) (Salimans et al.: 100)")
    gen_loss: str = setting("feature-matching", "generator loss: feature-matching ||E f(x) - E f(G(z))||^2 on D's last hidden "
                                                "layer (Salimans et al. 3.1), non-saturating -log D(G(z)) or minimax "
                                                "log(1 - D(G(z)))", SGAN_GEN_LOSSES)
    arch: str = setting("mlp", "network family: mlp (Salimans et al.'s MNIST design, CPU-sized) or conv (DCGAN's rules)", ARCHS)
    hidden: int = setting(500, "units per hidden layer of D and G (mlp)")
    layers: int = setting(3, "hidden layers of the discriminator (mlp)")
    g_layers: int = setting(2, "hidden layers of the generator (mlp)")
    channels: int = setting(32, "channels of the discriminator's first conv layer (conv)")
    noise_in: float = setting(0.3, "std of the Gaussian noise added to D's input pixels in training (Salimans et al.: 0.3)")
    noise_hidden: float = setting(0.5, "std of the Gaussian noise added to the input of D's later layers in training "
                                       "(Salimans et al.: 0.5)")
    weight_norm: bool = setting(True, "weight normalisation (Salimans & Kingma 2016), w = g v / ||v||, on every layer of D, "
                                      "as in Salimans et al.'s MNIST discriminator (it goes with their lr 3e-3)")
    unsup_weight: float = setting(0.5, "weight of the unsupervised loss -log D(x) - log(1 - D(G(z))) against the supervised "
                                       "cross-entropy (0.5: Salimans et al.'s code halves both terms; 0: a classifier of the "
                                       "labelled images alone)")

    def validate(self) -> None:
        super().validate()
        if self.g_layers < 1:
            raise ConfigError(f"g_layers must be at least 1, got {self.g_layers}")
        for name in ("noise_in", "noise_hidden", "unsup_weight"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ConfigError(f"{name} must be >= 0 and finite (0 = none), got {value}")


class GaussianNoise:
    """A forward pre-hook adding N(0, std^2) noise to a layer's input while the layer is in training
    mode (like dropout: none in eval mode). Salimans et al.'s Gaussian noise layers, without new
    modules, so that the discriminator's weights keep the keys of ``latentlab.nn.gan_nets``."""

    def __init__(self, std: float):
        self.std = std

    def __call__(self, module: nn.Module, args: tuple) -> tuple | None:
        if not (module.training and self.std > 0):
            return None
        h, *rest = args
        return (h + self.std * torch.randn_like(h), *rest)


def supervised_cross_entropy(logits: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy and accuracy over the images whose label is known (y >= 0); (0, 0) when none is.
    logits (B, K), y (B,) with -1 for a hidden label -> two scalars."""
    if y is None:
        zero = logits.new_zeros(())
        return zero, zero
    known = (y >= 0).to(logits.dtype)  # (B,)
    count = known.sum().clamp(min=1)
    ce = F.cross_entropy(logits, y.clamp(min=0), reduction="none")  # (B,); hidden labels masked out below
    hits = (logits.detach().argmax(1) == y).to(logits.dtype)
    return (ce * known).sum() / count, (hits * known).sum() / count


class SGAN(AdversarialModel, SemiSupervised):
    """Semi-supervised GAN: the discriminator classifies K classes and "fake" (Odena 2016; Salimans et al. 2016)."""

    name = "sgan"
    Config = SGANConfig
    # Salimans et al.: batches of 100, Adam beta1 0.5, lr 0.003 with weight normalisation, decayed linearly to 0;
    # 100 epochs here (they train 300): 97.84% test accuracy with 100 labels over 3 seeds (see the docstring)
    # val_images 0: the validation accuracy is this model's figure, on every held-out image
    train_defaults = {**AdversarialModel.train_defaults, "lr": 3e-3, "batch_size": 100, "epochs": 100, "lr_schedule": "linear",
                      "val_images": 0}

    def __init__(self, cfg: SGANConfig, shape: tuple[int, int, int], num_classes: int | None = None):
        super().__init__(cfg, shape, num_classes)
        if not num_classes:
            raise ConfigError("'sgan' is a classifier and needs a labelled dataset (digits, mnist, fashion-mnist, or "
                              "arrays/folders with labels; --labels N keeps only N of them); use 'gan' or 'dcgan' for "
                              "unlabelled images")
        self.generator = generator_net(cfg.arch, cfg.latent_dim, shape, cfg.hidden, cfg.g_layers, cfg.channels)  # -> (B, C, H, W)
        self.discriminator = Discriminator(cfg.arch, shape, {"cls": num_classes}, hidden=cfg.hidden, layers=cfg.layers,
                                           channels=cfg.channels)  # {"cls": (B, K)}
        weights = [m for m in self.discriminator.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
        for layer in weights[1:]:  # every layer after the first; the first gets noise_in on the pixels (discriminate)
            layer.register_forward_pre_hook(GaussianNoise(cfg.noise_hidden))
        if cfg.weight_norm:  # weight -> parametrizations.weight.original0 (g, per output unit) and original1 (v)
            for layer in weights:
                nn.utils.parametrizations.weight_norm(layer)
        self.init_fixed_noise()

    def discriminate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(f(x), l(x)): D's last hidden layer, flattened (B, F), and its K class logits (B, K)."""
        if self.training and self.cfg.noise_in > 0:
            x = x + self.cfg.noise_in * torch.randn_like(x)
        h = self.discriminator.body(x)  # (B, hidden) or (B, 2ch, H/4, W/4)
        return h.flatten(1), self.discriminator.heads["cls"](h)

    def discriminator_loss(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        fake = self.generator(self.noise(len(x))).detach()  # G is frozen in this step
        _, real_logits = self.discriminate(x)  # (B, K)
        _, fake_logits = self.discriminate(fake)
        real, fake_d = real_logits.logsumexp(1), fake_logits.logsumexp(1)  # (B,): logit D = log Z
        unsup = discriminator_bce(real, fake_d, self.cfg.smooth)
        sup, accuracy = supervised_cross_entropy(real_logits, y)
        return {"loss": sup + self.cfg.unsup_weight * unsup, "sup": sup, "unsup": unsup,
                "d_real": mean_prob(real), "d_fake": mean_prob(fake_d), "acc_labelled": accuracy}

    def generator_loss(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        fake = self.generator(self.noise(len(x)))  # (B, C, H, W)
        f_fake, fake_logits = self.discriminate(fake)  # D is frozen in this step
        fake_d = fake_logits.logsumexp(1)  # (B,)
        if self.cfg.gen_loss == "feature-matching":
            with torch.no_grad():
                f_real, _ = self.discriminate(x)  # (B, F): no gradient reaches G through the real images
            loss = (f_real.mean(0) - f_fake.mean(0)).pow(2).mean()
        else:
            loss = generator_bce(fake_d, self.cfg.gen_loss)
        return {"loss": loss, "d_fake": mean_prob(fake_d), "grad_norm": gradient_norm_at(fake)}

    def evaluate(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """The GANs' terms ("loss" is the discriminator's, supervised part included) and the accuracy."""
        terms = super().evaluate(x, y)
        if y is None:
            return terms
        _, accuracy = supervised_cross_entropy(self.discriminate(x)[1], y)
        return {**terms, "accuracy": accuracy}

    # --- what users call ----------------------------------------------------------------
    @torch.no_grad()
    def class_logits(self, x: torch.Tensor) -> torch.Tensor:
        """l(x): the K class logits of the discriminator, (B, C, H, W) -> (B, K)."""
        return self.discriminate(x)[1]

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """p(y = k | x, real) = softmax(l(x))_k: (B, C, H, W) -> (B, K), rows summing to 1."""
        return torch.softmax(self.class_logits(x).float(), 1)

    @torch.no_grad()
    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """The most probable class: (B, C, H, W) -> (B,) int64."""
        return self.class_logits(x).argmax(1)
