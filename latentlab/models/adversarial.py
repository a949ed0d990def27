"""What every GAN of latentlab shares: two optimiser groups, the k:1 schedule, the
Gaussian noise, the fixed latent batch, and the settings of the GANs trained with BCE losses.

The training loop steps the "discriminator" group k times (``d_steps``), then the
"generator" group once, each on a fresh batch, with the other network frozen, as the
lecture notes describe. ``loss(x, y, group)`` returns the terms the loop logs as
``train_<group>/<term>``: "loss" (what that group minimises), "d_real" = mean D(x),
"d_fake" = mean D(G(z)), and in the generator step "grad_norm" = the mean norm per
image of d loss / d G(z), the learning signal the discriminator sends the generator (read off
the step's backward pass by a hook, so it costs nothing and is known once backward has run).

Losses (``latentlab.nn.losses``), with D(x) = sigmoid(logit):
    discriminator   -[ log D(x) + log(1 - D(G(z))) ]     (eq. 1 of Goodfellow et al., as a BCE to minimise);
                    with one-sided label smoothing (Salimans et al. 2016) the real target is 1 - smooth
    generator       minimax:          log(1 - D(G(z)))   (eq. 1: saturates, gradient -> 0 when D(G(z)) -> 0)
                    non-saturating:  -log D(G(z))        (section 3 of the paper: strong gradients early on)

Training defaults: Adam with lr 2e-4 and betas (0.5, 0.999) (DCGAN, Radford et al. 2016, section 4).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from latentlab.config import check_choices, setting
from latentlab.errors import ConfigError
from latentlab.models.base import GenerativeModel, LatentGenerator

GEN_LOSSES = ("non-saturating", "minimax")


def check_gan_config(cfg) -> None:
    """Shared range checks of the GAN configs (fields a config lacks are skipped)."""
    check_choices(cfg)
    for name in ("latent_dim", "hidden", "layers", "channels", "d_steps", "n_critic"):
        if getattr(cfg, name, 1) < 1:
            raise ConfigError(f"{name} must be at least 1, got {getattr(cfg, name)}")
    if not 0 <= getattr(cfg, "smooth", 0.0) < 1:
        raise ConfigError(f"smooth (one-sided label smoothing) must be in [0, 1): the real target is 1 - smooth; got {cfg.smooth}")


@dataclass
class AdversarialConfig:
    """The settings of every GAN trained with the BCE losses (gan, dcgan, cgan, acgan, infogan);
    each model's Config adds its networks' fields after these."""

    latent_dim: int = setting(64, "size of the noise vector z ~ N(0, I)")
    gen_loss: str = setting("non-saturating", "generator loss: non-saturating -log D(G(z)) or minimax log(1 - D(G(z)))", GEN_LOSSES)
    d_steps: int = setting(1, "k: discriminator steps per generator step")
    smooth: float = setting(0.0, "one-sided label smoothing: the discriminator's target for real images is 1 - smooth")

    def validate(self) -> None:
        check_gan_config(self)


def at_least_two(x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Batch norm needs two images per batch: a last batch of one image is doubled."""
    if len(x) > 1:
        return x, y
    return x.repeat(2, 1, 1, 1), None if y is None else y.repeat(2)


def mean_prob(logits: torch.Tensor) -> torch.Tensor:
    """Mean D = sigmoid(logit), for the logs (no gradient)."""
    return torch.sigmoid(logits.detach()).mean()


def gradient_norm_at(fake: torch.Tensor) -> torch.Tensor:
    """Mean over images of ||d loss / d G(z)|| * B for the loss the step minimises, read off the step's own
    backward pass (a hook on G(z): no extra pass through D). The returned scalar is 0 until that backward
    has run, and stays 0 where none runs (evaluation); ``signal_norm`` computes it at once, for a part of
    the loss."""
    out = torch.zeros((), device=fake.device)
    if torch.is_grad_enabled() and fake.requires_grad:
        def fill(grad: torch.Tensor) -> None:
            out.copy_(grad.detach().flatten(1).float().norm(dim=1).mean() * len(grad))  # undo the batch mean
        fake.register_hook(fill)
    return out


def signal_norm(loss: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Mean over images of ||d loss / d G(z)|| * B: how much gradient reaches the generator's output
    (an extra backward pass through D; ``gradient_norm_at`` is free when ``loss`` is the step's whole loss)."""
    if not (torch.is_grad_enabled() and fake.requires_grad):
        return torch.zeros((), device=fake.device)
    (g,) = torch.autograd.grad(loss, fake, retain_graph=True)
    return g.flatten(1).norm(dim=1).mean() * len(fake)  # undo the batch mean of the loss


class AdversarialModel(GenerativeModel, LatentGenerator):
    """Base of the GANs: subclasses build ``self.generator`` and ``self.discriminator``, define
    ``discriminator_loss`` / ``generator_loss`` (and ``noise`` when the input is more than z ~ N(0, I)),
    then call ``init_fixed_noise``."""

    train_defaults = {"lr": 2e-4, "beta1": 0.5, "beta2": 0.999}  # DCGAN (Radford et al. 2016, section 4)

    # --- the training loop's interface ------------------------------------------------
    def optimizer_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        return {"discriminator": list(self.discriminator.parameters()), "generator": list(self.generator.parameters())}

    def schedule(self) -> list[str]:
        return ["discriminator"] * self.cfg.d_steps + ["generator"]

    def loss(self, x: torch.Tensor, y: torch.Tensor | None, group: str) -> dict[str, torch.Tensor]:
        x, y = at_least_two(x, y)
        if group == "discriminator":
            return self.discriminator_loss(x, y)
        return self.generator_loss(x, y)

    def evaluate(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Held-out real images against as many fresh fakes: "loss" is the discriminator's loss."""
        x, y = at_least_two(x, y)
        d = self.discriminator_loss(x, y)
        g = self.generator_loss(x, y)
        return {**d, "g_loss": g["loss"]}

    # --- what subclasses define -------------------------------------------------------
    def noise(self, n: int, y: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ N(0, I): (n, latent); a conditional or coded GAN appends its labels / codes."""
        return torch.randn(n, self.cfg.latent_dim, generator=generator, device=self.device)

    def discriminator_loss(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def generator_loss(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def fixed_noise(self) -> torch.Tensor:
        """The latent batch drawn once (at construction, from the seeded global RNG, like the weights)
        and kept as the buffer ``fixed_input`` for the per-epoch grids."""
        return self.noise(self.grid_cols * self.grid_cols)

    def init_fixed_noise(self) -> None:
        with torch.no_grad():
            self.register_buffer("fixed_input", self.fixed_noise())

    # --- what users call ----------------------------------------------------------------
    @torch.no_grad()
    def generate(self, codes: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] from generator inputs: (B, in_dim) -> (B, C, H, W)."""
        return self.generator(codes)

    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        y = self.check_labels(y, n)
        return self.generate(self.noise(n, y, generator))
