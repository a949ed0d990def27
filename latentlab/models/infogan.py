"""InfoGAN (Chen et al. 2016): a GAN whose generator input carries codes c that the
discriminator's Q head must recover, so that the codes take on meaning without labels.

generator input   [z, one_hot(c_cat), c_cont]: z ~ N(0, I) (latent), c_cat ~ Cat(n_cat) uniform,
                  c_cont ~ U(-1, 1)^n_cont
discriminator     x -> shared body -> "adv" head (B, 1) logit and "q" head (B, n_cat + n_cont):
                  Q(c_cat | x) logits and the means of Q(c_cont | x), a unit-variance Gaussian
mutual information bound (eq. 5-6 of the paper), as a loss to minimise:
    L_I = CE(Q_cat(G(z, c)), c_cat) + cont_weight * 1/2 sum_j (c_cont_j - mu_j)^2   (-log Q up to constants)
    discriminator   BCE of real vs fake + info_weight * L_I  (the body and the Q head learn to recover c)
    generator       its adversarial loss + info_weight * L_I (G learns to make c recoverable)
Pictures: ``code_traversals()`` gives "code_c<j>" (one row per category and c_cont_j from -2 to 2
along each row, the other codes and z fixed per row; the training pictures save them as
``code_c<j>.png``): on MNIST c_cat tends to pick the digit and c_cont the slant or width.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from latentlab.config import setting
from latentlab.errors import ConfigError
from latentlab.models.adversarial import AdversarialConfig, AdversarialModel, mean_prob, signal_norm
from latentlab.nn.gan_nets import ARCHS, Discriminator, generator_net
from latentlab.nn.losses import discriminator_bce, generator_bce


@dataclass
class InfoGANConfig(AdversarialConfig):
    latent_dim: int = setting(62, "size of the incompressible noise z ~ N(0, I)")
    arch: str = setting("conv", "network family: conv (the DCGAN design rules) or mlp", ARCHS)
    n_cat: int = setting(10, "categories of the categorical code c_cat (0 for none)")
    n_cont: int = setting(2, "number of continuous codes c_cont ~ U(-1, 1) (0 for none)")
    info_weight: float = setting(1.0, "lambda: weight of the mutual-information loss L_I")
    cont_weight: float = setting(1.0, "weight of the continuous codes' part of L_I")
    hidden: int = setting(256, "units per hidden layer (mlp)")
    layers: int = setting(2, "hidden layers of each network (mlp)")
    channels: int = setting(32, "channels of the discriminator's first conv layer (conv)")

    def validate(self) -> None:
        super().validate()
        if self.n_cat < 0 or self.n_cont < 0 or self.n_cat == 1:
            raise ConfigError(f"got n_cat={self.n_cat}, n_cont={self.n_cont}: n_cat must be 0 (no categorical code) or at least 2 "
                              "categories, and n_cont at least 0")
        if self.n_cat + self.n_cont == 0:
            raise ConfigError("InfoGAN needs at least one code: set n_cat >= 2 or n_cont >= 1 (or train 'gan' instead)")
        if self.info_weight < 0 or self.cont_weight < 0:
            raise ConfigError(f"info_weight and cont_weight must be >= 0, got {self.info_weight} and {self.cont_weight}")


class InfoGAN(AdversarialModel):
    """InfoGAN: categorical and continuous codes recovered by a Q head on the discriminator (Chen et al. 2016)."""

    name = "infogan"
    Config = InfoGANConfig
    traversal = (-2.0, 2.0)  # the paper varies each continuous code over [-2, 2], beyond its training range

    def __init__(self, cfg: InfoGANConfig, shape: tuple[int, int, int], num_classes: int | None = None):
        super().__init__(cfg, shape, num_classes)
        in_dim = cfg.latent_dim + cfg.n_cat + cfg.n_cont
        self.generator = generator_net(cfg.arch, in_dim, shape, cfg.hidden, cfg.layers, cfg.channels)
        self.discriminator = Discriminator(cfg.arch, shape, {"adv": 1, "q": cfg.n_cat + cfg.n_cont}, hidden=cfg.hidden,
                                           layers=cfg.layers, channels=cfg.channels)  # {"adv": (B, 1), "q": (B, n_cat + n_cont)}
        self.init_fixed_noise()

    def noise(self, n: int, y: torch.Tensor | None = None, generator: torch.Generator | None = None,
              cat: torch.Tensor | int | None = None, cont: torch.Tensor | None = None,
              z: torch.Tensor | None = None) -> torch.Tensor:
        """[z, one_hot(c_cat), c_cont] (n, latent + n_cat + n_cont); the parts not given are drawn from the
        prior (in this order): c_cat ~ Cat(n_cat) uniform, c_cont ~ U(-1, 1)^n_cont, z ~ N(0, I)."""
        if cat is None:
            cat = torch.randint(max(self.cfg.n_cat, 1), (n,), generator=generator, device=self.device)  # (n,)
        if cont is None:
            cont = torch.rand(n, self.cfg.n_cont, generator=generator, device=self.device) * 2 - 1  # (n, n_cont)
        if z is None:
            z = torch.randn(n, self.cfg.latent_dim, generator=generator, device=self.device)  # (n, latent)
        cat = torch.as_tensor(cat, device=self.device).expand(n)
        cont = torch.as_tensor(cont, dtype=torch.float, device=self.device).expand(n, -1)
        parts = [z, F.one_hot(cat, self.cfg.n_cat).float() if self.cfg.n_cat else cont[:, :0], cont]
        return torch.cat(parts, 1)

    def split(self, inp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Generator input -> (z, c_cat (B,) long, c_cont (B, n_cont))."""
        d, k = self.cfg.latent_dim, self.cfg.n_cat
        cat = inp[:, d:d + k].argmax(1) if k else inp.new_zeros(len(inp), dtype=torch.long)
        return inp[:, :d], cat, inp[:, d + k:]

    def info_loss(self, q: torch.Tensor, inp: torch.Tensor) -> torch.Tensor:
        """L_I: -log Q(c | G(z, c)) up to constants, averaged over the batch."""
        _, cat, cont = self.split(inp)
        k = self.cfg.n_cat
        loss = F.cross_entropy(q[:, :k], cat) if k else q.new_zeros(())
        if self.cfg.n_cont:
            loss = loss + self.cfg.cont_weight * 0.5 * (q[:, k:] - cont).pow(2).sum(1).mean()
        return loss

    def discriminator_loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        inp = self.noise(len(x))
        fake = self.generator(inp).detach()  # G is frozen in this step
        real, out = self.discriminator(x), self.discriminator(fake)
        adv = discriminator_bce(real["adv"], out["adv"], self.cfg.smooth)
        info = self.info_loss(out["q"], inp)
        return {"loss": adv + self.cfg.info_weight * info, "adv": adv, "info": info,
                "d_real": mean_prob(real["adv"]), "d_fake": mean_prob(out["adv"])}

    def generator_loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        inp = self.noise(len(x))
        fake = self.generator(inp)
        out = self.discriminator(fake)  # D and Q are frozen in this step
        adv = generator_bce(out["adv"], self.cfg.gen_loss)
        info = self.info_loss(out["q"], inp)
        return {"loss": adv + self.cfg.info_weight * info, "adv": adv, "info": info,
                "d_fake": mean_prob(out["adv"]), "grad_norm": signal_norm(adv, fake)}

    # --- pictures -----------------------------------------------------------------------
    @property
    def grid_rows(self) -> int:
        return self.cfg.n_cat or self.grid_cols

    def traversal_input(self, j: int, z: torch.Tensor) -> torch.Tensor:
        """One row per category (z[r] fixed along row r), continuous code j from -2 to 2 along each row, the others 0."""
        rows, cols = self.grid_rows, self.grid_cols
        cont = torch.zeros(rows * cols, self.cfg.n_cont, device=z.device)
        if self.cfg.n_cont:
            cont[:, j] = torch.linspace(*self.traversal, cols, device=z.device).repeat(rows)
        cat = torch.arange(rows, device=z.device).repeat_interleave(cols) % max(self.cfg.n_cat, 1)
        return self.noise(rows * cols, cat=cat, cont=cont, z=z.repeat_interleave(cols, 0))

    def fixed_noise(self) -> torch.Tensor:
        """The c_1 traversal with one fixed z per row (the frames of training.gif)."""
        return self.traversal_input(0, torch.randn(self.grid_rows, self.cfg.latent_dim))

    @torch.no_grad()
    def code_traversals(self) -> dict[str, torch.Tensor]:
        """name -> (rows * cols, C, H, W) images, ``grid_cols`` per row: "code_c<j>" varies continuous code j
        along each row (one row per category, z fixed per row, from ``fixed_input``); with no continuous
        code, "code_cat" shows the fixed grid. Call it in eval mode (the generator's batch norm)."""
        z = self.split(self.fixed_input)[0][::self.grid_cols]  # (rows, latent): the row's fixed z
        if not self.cfg.n_cont:
            return {"code_cat": self.generate(self.fixed_input)}
        return {f"code_c{j + 1}": self.generate(self.traversal_input(j, z)) for j in range(self.cfg.n_cont)}
