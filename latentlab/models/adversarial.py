"""What every GAN of latentlab shares: two optimiser groups, the k:1 schedule, the
losses of Goodfellow et al. (2014), the fixed latent batch and the pictures of training.

The training loop steps the "discriminator" group k times (``d_steps``), then the
"generator" group once, each on a fresh batch, with the other network frozen, as the
lecture notes describe. ``loss(x, y, group)`` returns the terms the loop logs as
``train_<group>/<term>``: "loss" (what that group minimises), "d_real" = mean D(x),
"d_fake" = mean D(G(z)), and in the generator step "grad_norm" = the mean norm per
image of d loss / d G(z), the learning signal the discriminator sends the generator.

Losses, with D(x) = sigmoid(logit):
    discriminator   -[ log D(x) + log(1 - D(G(z))) ]     (eq. 1 of Goodfellow et al., as a BCE to minimise);
                    with one-sided label smoothing (Salimans et al. 2016) the real target is 1 - smooth
    generator       minimax:          log(1 - D(G(z)))   (eq. 1: saturates, gradient -> 0 when D(G(z)) -> 0)
                    non-saturating:  -log D(G(z))        (section 3 of the paper: strong gradients early on)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from latentlab.config import check_choices
from latentlab.errors import ConfigError
from latentlab.models.base import GenerativeModel

GEN_LOSSES = ("non-saturating", "minimax")


def check_gan_config(cfg) -> None:
    """Shared range checks of the GAN configs (fields a config lacks are skipped)."""
    check_choices(cfg)
    for name in ("latent_dim", "hidden", "layers", "channels", "d_steps", "n_critic"):
        if getattr(cfg, name, 1) < 1:
            raise ConfigError(f"{name} must be at least 1, got {getattr(cfg, name)}")
    if not 0 <= getattr(cfg, "smooth", 0.0) < 1:
        raise ConfigError(f"smooth (one-sided label smoothing) must be in [0, 1): the real target is 1 - smooth; got {cfg.smooth}")


def discriminator_bce(real_logits: torch.Tensor, fake_logits: torch.Tensor, smooth: float = 0.0) -> torch.Tensor:
    """-E[log D(x)] - E[log(1 - D(G(z)))], real target 1 - smooth (one-sided smoothing)."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, 1.0 - smooth))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def generator_bce(fake_logits: torch.Tensor, kind: str) -> torch.Tensor:
    """minimax: E[log(1 - D(G(z)))] = -softplus(logit); non-saturating: -E[log D(G(z))] = softplus(-logit)."""
    if kind == "minimax":
        return -F.softplus(fake_logits).mean()
    return F.softplus(-fake_logits).mean()


def at_least_two(x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Batch norm needs two images per batch: a last batch of one image is doubled."""
    if len(x) > 1:
        return x, y
    return x.repeat(2, 1, 1, 1), None if y is None else y.repeat(2)


def mean_prob(logits: torch.Tensor) -> torch.Tensor:
    """Mean D = sigmoid(logit), for the logs (no gradient)."""
    return torch.sigmoid(logits.detach()).mean()


def signal_norm(loss: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Mean over images of ||d loss / d G(z)|| * B: how much gradient reaches the generator's output."""
    if not (torch.is_grad_enabled() and fake.requires_grad):
        return torch.zeros((), device=fake.device)
    (g,) = torch.autograd.grad(loss, fake, retain_graph=True)
    return g.flatten(1).norm(dim=1).mean() * len(fake)  # undo the batch mean of the loss


class AdversarialModel(GenerativeModel):
    """Base of the GANs: subclasses build ``self.generator`` and ``self.discriminator``,
    define ``noise`` and ``discriminator_loss`` / ``generator_loss``, then call ``init_fixed_noise``."""

    can_sample = True
    adam_betas = (0.5, 0.999)  # DCGAN (Radford et al. 2016, section 4)
    default_lr = 2e-4  # DCGAN (Radford et al. 2016, section 4)
    grid_cols = 8  # the fixed latent batch is shown as a grid this wide
    critic = False  # True for WGAN: D outputs scores, not probabilities

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
    def noise(self, n: int, y: torch.Tensor | None = None) -> torch.Tensor:
        """The generator's input for n images (labels y for conditional models): (n, in_dim)."""
        raise NotImplementedError

    def discriminator_loss(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def generator_loss(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def fixed_noise(self) -> torch.Tensor:
        """The latent batch drawn once and kept (a buffer) for the per-epoch grids."""
        return self.noise(self.grid_cols * self.grid_cols)

    def init_fixed_noise(self) -> None:
        with torch.no_grad():
            self.register_buffer("fixed_input", self.fixed_noise())

    # --- what users call ----------------------------------------------------------------
    def generate(self, inp: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] from generator inputs: (B, in_dim) -> (B, C, H, W)."""
        return self.generator(inp)

    def sample(self, n: int, y: torch.Tensor | int | None = None) -> torch.Tensor:
        y = self.check_labels(y, n)
        return self.generate(self.noise(n, y))

    def epoch_end(self, run_dir: str, epoch: int) -> None:
        """Frame of the fixed latent batch -> training.gif, and dynamics.png from metrics.jsonl."""
        from latentlab.viz import gif
        from latentlab.training.run_folder import read_metrics
        was_training = self.training
        self.eval()
        with torch.no_grad():
            gif.save_frame(self.generate(self.fixed_input), run_dir, epoch, self.grid_cols)
            self.epoch_pictures(Path(run_dir))
        self.train(was_training)
        gif.write_gif(run_dir)
        plot_dynamics(read_metrics(run_dir), Path(run_dir) / "dynamics.png", critic=self.critic)

    def epoch_pictures(self, run_dir: Path) -> None:
        """Extra per-epoch pictures (InfoGAN's code traversals)."""


def plot_dynamics(metrics: list[dict], path: Path, critic: bool = False) -> Path | None:
    """Both losses, mean D(x) and mean D(G(z)), and the generator's gradient signal per epoch."""
    from matplotlib.ticker import MaxNLocator

    from latentlab.viz.plots import plt, save_figure
    if not metrics:
        return None
    epochs = [r["epoch"] for r in metrics]

    def series(key: str) -> list[float]:
        return [r.get(key, np.nan) for r in metrics]

    has_signal = any(np.isfinite(series("train_generator/grad_norm")))
    fig, axes = plt.subplots(1, 3 if has_signal else 2, figsize=(13 if has_signal else 9, 3.4), squeeze=False)
    ax = axes[0, 0]
    ax.plot(epochs, series("train_discriminator/loss"), marker="o", ms=3, label="critic" if critic else "discriminator")
    ax.plot(epochs, series("train_generator/loss"), marker="o", ms=3, label="generator")
    ax.set(title="losses (train)", xlabel="epoch")
    ax.legend()
    ax = axes[0, 1]
    ax.plot(epochs, series("train_discriminator/d_real"), marker="o", ms=3, label="mean D(x)")
    ax.plot(epochs, series("train_discriminator/d_fake"), marker="o", ms=3, label="mean D(G(z))")
    if not critic:
        ax.set_ylim(-0.02, 1.02)
        ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set(title="critic scores" if critic else "discriminator outputs (D steps)", xlabel="epoch")
    ax.legend()
    if has_signal:
        ax = axes[0, 2]
        ax.plot(epochs, series("train_generator/grad_norm"), marker="o", ms=3, color="C2")
        ax.set(title="||d loss_G / d G(z)|| per image", xlabel="epoch", yscale="log")
    for ax in axes.flat:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return save_figure(fig, path)
