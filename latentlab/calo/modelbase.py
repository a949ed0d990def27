"""What the energy-conditioned shower models share (``calo-wgan``, ``calo-vae``).

Each model turns (noise, incident energy) into v, the log-scaled cells of ``calo.data``;
this base class holds the transform's constants (config fields, so ``load`` restores
them), the energy-consistency term, and ``generate(energy) -> MeV cells``.

Energy consistency (in the spirit of CaloGAN's energy-deposit constraint, arXiv:1712.10321):
    term = mean over the batch of | sum_cells E_gen / <E_dep>(E_inc) - 1 |
with <E_dep>(E) the linear response fitted on the training showers (``calo.data.fit_stats``).

Calibration (``calibrate``, on by default; a two-stage design like CaloFlow's, arXiv:2106.05285,
which learns the layer energies apart from the shape): ``generate`` rescales each shower so
its total is a draw from N(<E_dep>(E), (sigma(E) <E_dep>(E))^2), the response and resolution
fitted on the training showers. Cell ratios, sparsity, centres and widths stay the network's.

Every draw of ``generate`` (noise, cell fluctuations, calibrated totals) comes from its
``generator`` argument (a ``torch.Generator``; None: the global RNG, as in training).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from latentlab.calo.data import check_energies, decode_cells, energy_condition
from latentlab.calo.geometry import LayeredGeometry, from_spec
from latentlab.config import setting
from latentlab.errors import ConfigError
from latentlab.models.base import GenerativeModel

# The transform's fields of CaloConfig: fitted on the training showers (``calo.data.fit_stats``), never given by hand.
FITTED = ("n_cells", "geometry", "e_min", "e_max", "log_scale", "response_slope", "response_intercept", "response_stochastic",
          "response_constant")


@dataclass
class CaloConfig:
    """The data transform (fitted by ``latentlab calo train``; stored in config.json)."""

    n_cells: int = setting(504, "cells per shower (CaloGAN: 288 + 144 + 72; CaloChallenge dataset 2: 6480)")
    geometry: str = setting("calogan", "the showers' geometry (calo.geometry.from_spec): calogan, "
                                       "calochallenge-ds2, ...")
    e_min: float = setting(1.0, "lowest incident energy seen in training, GeV")
    e_max: float = setting(100.0, "highest incident energy seen in training, GeV")
    log_scale: float = setting(10.0, "v = log1p(E_cell / MeV) / log_scale")
    response_slope: float = setting(171.0, "fitted mean deposit per incident GeV, MeV/GeV")
    response_intercept: float = setting(0.0, "fitted mean deposit at 0 GeV, MeV")
    response_stochastic: float = setting(0.0, "fitted stochastic term a of the response resolution a / sqrt(E)")
    response_constant: float = setting(0.0, "fitted constant term b of the response resolution")
    energy_weight: float = setting(1.0, "weight of the energy-consistency term")
    calibrate: bool = setting(True, "generate: rescale each shower to a total drawn from the fitted response "
                                    "N(<E_dep>, sigma(E)); the network gives the shape")

    def validate_calo(self) -> None:
        from_spec(self.geometry)  # a ConfigError naming the choices for an unknown one
        if self.n_cells < 1 or not 0 < self.e_min <= self.e_max or self.log_scale <= 0 or self.response_slope <= 0:
            raise ConfigError(f"inconsistent shower transform (n_cells {self.n_cells}, energies {self.e_min}-"
                              f"{self.e_max} GeV, log_scale {self.log_scale}, slope {self.response_slope}); let "
                              "`latentlab calo train` fit them from the data")
        if self.response_stochastic < 0 or self.response_constant < 0:
            raise ConfigError("response_stochastic and response_constant must be >= 0")
        if self.energy_weight < 0:
            raise ConfigError(f"energy_weight must be >= 0, got {self.energy_weight}")


def leaky_relu() -> nn.Module:
    """The activation between the hidden layers of both shower models' MLPs."""
    return nn.LeakyReLU(0.2)


def randn(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """N(0, 1) draws of ``shape`` on ``device``, taken from ``generator`` (on whichever device it lives)."""
    if generator is None:
        return torch.randn(shape, device=device)
    return torch.randn(shape, generator=generator, device=generator.device).to(device)


class CaloModel(GenerativeModel):
    """Base of the shower models: v <-> MeV, the energy condition, the energy term, generate().

    None of the image interfaces (Sampler, Encoder, ...) applies: a shower model is asked for
    showers at given incident energies, with ``generate``."""

    eval_hint = ("calorimeter runs are evaluated with `latentlab calo validate` "
                 "(RUN/validation/ already holds the report on held-out showers)")

    def __init__(self, cfg: CaloConfig, shape: tuple[int, int, int], num_classes: int | None = None):
        super().__init__(cfg, shape, num_classes)
        if int(np.prod(shape)) != cfg.n_cells:
            raise ValueError(f"'{self.name}' models calorimeter showers of {cfg.n_cells} cells, but the data has shape "
                             f"{tuple(shape)}: train it with `latentlab calo train {self.name} --data showers.h5`")

    @property
    def geometry(self) -> LayeredGeometry:
        """The geometry of the showers this model was trained on (its voxels per layer, coordinates)."""
        return from_spec(self.cfg.geometry)

    # --- the transform ------------------------------------------------------------------
    def condition(self, energy_gev: torch.Tensor) -> torch.Tensor:
        return energy_condition(energy_gev.to(self.device), self.cfg.e_min, self.cfg.e_max)  # (B, 1)

    def to_mev(self, v: torch.Tensor) -> torch.Tensor:
        return decode_cells(v.float(), self.cfg.log_scale)  # (B, cells), MeV >= 0

    def expected_deposit(self, energy_gev: torch.Tensor) -> torch.Tensor:
        e = energy_gev.reshape(-1).float()
        return (self.cfg.response_slope * e + self.cfg.response_intercept).clamp(min=1e-3)  # (B,) MeV

    def energy_term(self, v: torch.Tensor, energy_gev: torch.Tensor) -> torch.Tensor:
        """mean |sum of generated cells / expected deposit - 1| over the batch."""
        total = self.to_mev(v.flatten(1)).sum(dim=1)  # (B,)
        return (total / self.expected_deposit(energy_gev) - 1.0).abs().mean()

    def calibrate_total(self, cells: torch.Tensor, energy_gev: torch.Tensor,
                        generator: torch.Generator | None = None) -> torch.Tensor:
        """Rescale (B, cells) MeV showers to totals drawn from the fitted response (see the module doc)."""
        e = energy_gev.reshape(-1).float().to(cells.device)
        expected = self.expected_deposit(e)  # (B,)
        rel = torch.sqrt(self.cfg.response_stochastic ** 2 / e + self.cfg.response_constant ** 2)  # (B,)
        target = (expected * (1 + rel * randn(e.shape, generator, e.device))).clamp(min=0.05 * expected)
        total = cells.sum(1)
        scale = torch.where(total > 0, target / total.clamp(min=1e-6), torch.ones_like(total))
        return cells * scale.unsqueeze(1)

    # --- what users call ----------------------------------------------------------------
    def generate_v(self, energy_gev: torch.Tensor,
                   generator: torch.Generator | None = None) -> torch.Tensor:  # pragma: no cover - abstract
        """(B,) energies -> (B, cells) v, one new shower per energy, every draw from ``generator``."""
        raise NotImplementedError

    @torch.no_grad()
    def generate(self, energy_gev: torch.Tensor | np.ndarray | float, n: int | None = None,
                 batch_size: int = 1024, generator: torch.Generator | None = None) -> torch.Tensor:
        """New showers, (B, cells) MeV on the CPU, for the given incident energies (GeV); a single
        energy needs ``n``. Every draw comes from ``generator`` (None: the global RNG)."""
        e = torch.as_tensor(np.asarray(energy_gev, dtype=np.float32)).reshape(-1)
        if e.numel() == 1 and n is not None:
            e = e.expand(n)
        check_energies(e.numpy(), self.cfg.e_min, self.cfg.e_max)
        was_training = self.training
        self.eval()
        out = [self._generate_chunk(chunk.to(self.device), generator) for chunk in e.split(batch_size)]
        self.train(was_training)
        return torch.cat(out) if out else torch.zeros(0, self.cfg.n_cells)

    def _generate_chunk(self, energy_gev: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        cells = self.to_mev(self.generate_v(energy_gev, generator))  # (B, cells) MeV
        if self.cfg.calibrate and (self.cfg.response_stochastic > 0 or self.cfg.response_constant > 0):
            cells = self.calibrate_total(cells, energy_gev, generator)
        return cells.cpu()
