"""calo-vae: an energy-conditioned VAE for calorimeter showers (Sohn et al. 2015's conditional
VAE; Kingma & Welling 2014), with MLPs on the 504 cells.

data     v = log1p(E_cell / MeV) / log_scale, (B, 504); c = log incident energy mapped to [-1, 1]
encode   q(z | v, c) = N(mu, diag(exp(logvar))),  MLP [v, c] -> (mu, logvar)
decode   h = MLP [z, c] -> (B, 504); each cell v = max(0, h + sigma_k eps), eps ~ N(0, 1): a censored
         ("Tobit", Tobin 1958) Gaussian with a learned width sigma_k per cell, so cells are >= 0 MeV,
         empty cells exactly 0, and cell-level fluctuations and sparsity come from the likelihood
loss     -ELBO = E_q[-log p(v | z, c)] + beta KL(q(z | v, c) || N(0, I))
             -log p(v | h) = sum_k  (v_k - h_k)^2 / (2 sigma_k^2) + log sigma_k   where v_k > 0
                                    -log Phi(-h_k / sigma_k)                      where v_k = 0
         (constants dropped), plus energy_weight * mean |sum_cells E(relu(h)) / <E_dep>(E) - 1|,
         the energy-consistency term (``calo.modelbase``).
generate z ~ N(0, I), decode with the requested energy, draw v from the censored Gaussian.
The training defaults (``train_defaults``) suit a few CPU minutes on ~20k showers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from latentlab.calo.modelbase import CaloConfig, CaloModel, leaky_relu, randn
from latentlab.config import setting
from latentlab.errors import ConfigError
from latentlab.nn.losses import gaussian_kl, reparameterize
from latentlab.nn.nets import mlp


@dataclass
class CaloVAEConfig(CaloConfig):
    latent_dim: int = setting(16, "size of the latent code z")
    hidden: int = setting(256, "units per hidden layer of encoder and decoder")
    layers: int = setting(2, "hidden layers of each network")
    sigma: float = setting(0.05, "initial width of each cell's censored Gaussian on v (learned per cell)")
    beta: float = setting(1.0, "weight of the KL term")

    def validate(self) -> None:
        self.validate_calo()
        if min(self.latent_dim, self.hidden, self.layers) < 1:
            raise ConfigError("latent_dim, hidden and layers must all be at least 1")
        if self.sigma <= 0 or self.beta < 0:
            raise ConfigError(f"sigma must be > 0 and beta >= 0, got {self.sigma} and {self.beta}")


class CaloVAE(CaloModel):
    """Energy-conditioned VAE for calorimeter showers (MLP, censored Gaussian likelihood)."""

    name = "calo-vae"
    Config = CaloVAEConfig
    train_defaults = {"lr": 1e-3, "batch_size": 128, "epochs": 30}

    def __init__(self, cfg: CaloVAEConfig, shape: tuple[int, int, int], num_classes: int | None = None):
        super().__init__(cfg, shape, num_classes)
        hidden = [cfg.hidden] * cfg.layers
        self.encoder = mlp([cfg.n_cells + 1, *hidden, 2 * cfg.latent_dim], leaky_relu)  # [v, c] -> (B, 2 latent)
        self.decoder = mlp([cfg.latent_dim + 1, *hidden, cfg.n_cells], leaky_relu)  # [z, c] -> (B, 504) h
        self.log_sigma = torch.nn.Parameter(torch.full((cfg.n_cells,), math.log(cfg.sigma)))  # (504,) per cell

    def encode(self, v: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(torch.cat([v, c], dim=1)).chunk(2, dim=1)  # (B, latent) each
        return mu, logvar.clamp(-12, 8)

    def decode(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.decoder(torch.cat([z, c], dim=1))  # (B, 504) pre-ReLU h

    def generate_v(self, energy_gev: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        c = self.condition(energy_gev)  # (B, 1)
        z = randn((len(c), self.cfg.latent_dim), generator, c.device)  # (B, latent)
        h = self.decode(z, c)  # (B, 504)
        return torch.relu(h + self.log_sigma.exp() * randn(h.shape, generator, h.device))  # censored Gaussian draw

    def nll(self, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """-log p(v | h) of the censored Gaussian, summed over cells: (B,)."""
        log_sigma = self.log_sigma.clamp(-7, 1)
        sigma = log_sigma.exp()
        observed = 0.5 * ((v - h) / sigma).pow(2) + log_sigma
        empty = -torch.special.log_ndtr(-h / sigma)  # P(h + sigma eps <= 0) = Phi(-h / sigma)
        return torch.where(v > 0, observed, empty).sum(1)

    def loss(self, x: torch.Tensor, y: torch.Tensor | None, group: str) -> dict[str, torch.Tensor]:
        if y is None:
            raise ConfigError("calo-vae needs the incident energies as labels: train it with `latentlab calo train`")
        v = x.flatten(1).float()  # (B, 504)
        c = self.condition(y)
        mu, logvar = self.encode(v, c)
        h = self.decode(reparameterize(mu, logvar), c)
        rec = self.nll(v, h).mean()
        kl = gaussian_kl(mu, logvar).mean()  # KL(N(mu, var) || N(0, I))
        energy = self.energy_term(torch.relu(h), y)
        return {"loss": rec + self.cfg.beta * kl + self.cfg.energy_weight * energy, "rec": rec, "kl": kl,
                "energy": energy}
