"""calo-wgan: an energy-conditioned WGAN-GP for calorimeter showers, in the spirit of CaloGAN
(Paganini, de Oliveira, Nachman, arXiv:1705.02355, 1712.10321), with MLPs on the 504 cells.

data        v = log1p(E_cell / MeV) / log_scale, (B, 504); c = log incident energy mapped to [-1, 1]
generator   G(z, c): [z ~ N(0, I), c] -> MLP -> ReLU -> v >= 0, so every cell is >= 0 MeV and
            empty cells are exactly 0 (sparsity)
critic      f(v, c, phi): MLP on the cells, the condition and energy features phi(v) (log of each
            layer's energy over the expected deposit, as CaloGAN shows its discriminator the
            layer energies), no batch norm (the penalty is per shower)
losses      WGAN-GP (Gulrajani et al. 2017, Algorithm 1), conditional on c:
    critic      E[f(G(z, c), c)] - E[f(v, c)] + lambda E[(||grad_v f(v_hat, c)|| - 1)^2],
                v_hat = eps v + (1 - eps) G(z, c), eps ~ U(0, 1) per shower
    generator   -E[f(G(z, c), c)] + energy_weight * mean |sum_cells E_gen / <E_dep>(E) - 1|
                (the energy-consistency term, ``calo.modelbase``)
n_critic critic steps per generator step; Adam betas (0.5, 0.9). The training defaults
(``train_defaults``, the Config's field defaults) suit a few CPU minutes on ~20k showers.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from latentlab.calo.modelbase import CaloConfig, CaloModel, leaky_relu, randn
from latentlab.config import setting
from latentlab.errors import ConfigError
from latentlab.nn.losses import gradient_penalty
from latentlab.nn.nets import mlp

CALOGAN_LAYER_CELLS = (288, 144, 72)


@dataclass
class CaloWGANConfig(CaloConfig):
    latent_dim: int = setting(32, "size of the noise vector z ~ N(0, I)")
    hidden: int = setting(256, "units per hidden layer of both networks")
    layers: int = setting(2, "hidden layers of each network")
    n_critic: int = setting(3, "critic steps per generator step")
    gp_weight: float = setting(10.0, "lambda: weight of the gradient penalty")
    energy_weight: float = setting(5.0, "weight of the energy-consistency term")

    def validate(self) -> None:
        self.validate_calo()
        if min(self.latent_dim, self.hidden, self.layers, self.n_critic) < 1:
            raise ConfigError("latent_dim, hidden, layers and n_critic must all be at least 1")
        if self.gp_weight < 0:
            raise ConfigError(f"gp_weight must be >= 0, got {self.gp_weight}")


class CaloWGAN(CaloModel):
    """Energy-conditioned WGAN-GP for calorimeter showers (CaloGAN-style, MLP)."""

    name = "calo-wgan"
    Config = CaloWGANConfig
    train_defaults = {"lr": 2e-4, "batch_size": 128, "epochs": 30, "beta1": 0.5, "beta2": 0.9}

    def __init__(self, cfg: CaloWGANConfig, shape: tuple[int, int, int], num_classes: int | None = None):
        super().__init__(cfg, shape, num_classes)
        d = cfg.n_cells
        self.layer_cells = CALOGAN_LAYER_CELLS if d == sum(CALOGAN_LAYER_CELLS) else (d,)
        hidden = [cfg.hidden] * cfg.layers
        self.generator = mlp([cfg.latent_dim + 1, *hidden, d], leaky_relu)  # [z, c] -> (B, 504) pre-ReLU
        self.discriminator = mlp([d + 1 + len(self.layer_cells) + 1, *hidden, 1], leaky_relu)  # the critic f

    def optimizer_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"critic": list(self.discriminator.parameters()), "generator": list(self.generator.parameters())}

    def schedule(self) -> list[str]:
        return ["critic"] * self.cfg.n_critic + ["generator"]

    # --- the two networks ---------------------------------------------------------------
    def generate_v(self, energy_gev: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        c = self.condition(energy_gev)  # (B, 1)
        z = randn((len(c), self.cfg.latent_dim), generator, c.device)  # (B, latent)
        return torch.relu(self.generator(torch.cat([z, c], dim=1)))  # (B, 504), >= 0

    def energy_features(self, v: torch.Tensor, energy_gev: torch.Tensor) -> torch.Tensor:
        """log(layer energy / expected deposit) per layer and for the total: (B, layers + 1)."""
        cells = self.to_mev(v)  # (B, 504) MeV
        expected = self.expected_deposit(energy_gev).unsqueeze(1)  # (B, 1)
        layers = torch.stack([part.sum(1) for part in cells.split(self.layer_cells, dim=1)], dim=1)  # (B, L)
        sums = torch.cat([layers, layers.sum(1, keepdim=True)], dim=1)
        return torch.log(sums / expected + 1e-3)

    def critic(self, v: torch.Tensor, energy_gev: torch.Tensor) -> torch.Tensor:
        c = self.condition(energy_gev)
        return self.discriminator(torch.cat([v, c, self.energy_features(v, energy_gev)], dim=1))  # (B, 1)

    # --- what the training loop calls ---------------------------------------------------
    def loss(self, x: torch.Tensor, y: torch.Tensor | None, group: str) -> dict[str, torch.Tensor]:
        if y is None:
            raise ConfigError("calo-wgan needs the incident energies as labels: train it with `latentlab calo train`")
        real = x.flatten(1).float()  # (B, 504)
        if group == "critic":
            fake = self.generate_v(y).detach()  # G is frozen in this step
            f_real, f_fake = self.critic(real, y).mean(), self.critic(fake, y).mean()
            gp = gradient_penalty(lambda v: self.critic(v, y), real, fake)  # on interpolates of the same energies
            return {"loss": f_fake - f_real + self.cfg.gp_weight * gp, "wasserstein": (f_real - f_fake).detach(),
                    "gp": gp.detach()}
        fake = self.generate_v(y)
        adv = -self.critic(fake, y).mean()
        energy = self.energy_term(fake, y)
        return {"loss": adv + self.cfg.energy_weight * energy, "adv": adv.detach(), "energy": energy.detach()}

    def evaluate(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Validation: the critic's W1 estimate and the energy term of fresh showers ("loss" = their sum)."""
        real = x.flatten(1).float()
        fake = self.generate_v(y)
        w = self.critic(real, y).mean() - self.critic(fake, y).mean()
        energy = self.energy_term(fake, y)
        return {"loss": w.abs() + energy, "wasserstein": w, "energy": energy}
