"""Showers as tensors for the generative models (``calo-wgan``, ``calo-vae``), and back.

The transform, fitted once on the training showers and stored in the model's config
(``config.json``), so ``latentlab.load(run)`` restores it:

    cells      v = log1p(E_cell / 1 MeV) / log_scale         (B, cells), 0 for an empty cell
                                                             (cells: CaloGAN 504, CaloChallenge dataset 2 6480)
               log_scale = the largest log1p(E_cell) in training, so v lies in [0, 1]
    inverse    E_cell = expm1(log_scale * v) MeV              >= 0 whenever v >= 0
    energy     c = 2 (ln E - ln e_min) / (ln e_max - ln e_min) - 1     (B, 1), [-1, 1] over training
    response   expected deposit <E_dep>(E) = response_slope * E + response_intercept  (MeV, E in GeV):
               least squares on the training showers; the energy-consistency term of both
               models compares the generated total with it
    resolution sigma(E_dep) / <E_dep> = sqrt(response_stochastic^2 / E + response_constant^2), fitted
               the same way; with ``calibrate`` the models draw each shower's total from it

``x`` of the training ``Dataset`` is v as (N, 1, 1, cells); ``y`` the incident energy in GeV,
(N, 1) float32 (the training loop passes it through to ``model.loss(x, y, group)``). The
geometry's spec string (``geometry.geometry_spec``) is stored with the constants, so a model
knows the layers, and the file layout, of the showers it makes.
"""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch

from latentlab.calo.geometry import geometry_spec
from latentlab.calo.io import Showers
from latentlab.data import Dataset, Split
from latentlab.errors import DataError


def fit_stats(showers: Showers) -> dict[str, Any]:
    """The transform's constants for these (training) showers, as model settings."""
    if len(showers) < 2:
        raise DataError(f"need at least 2 showers to train on, got {len(showers)}; simulate more "
                        "(latentlab calo simulate --n 20000 --out showers.h5)")
    vox = showers.voxels()
    e = showers.energy
    dep = vox.sum(axis=1)
    slope, intercept = np.polyfit(e, dep, 1) if np.ptp(e) > 0 else (dep.mean() / e[0], 0.0)
    # resolution: var(E_dep / <E_dep> | E) = a^2 / E + b^2 (stochastic and constant terms), least squares
    r2 = (dep / np.maximum(slope * e + intercept, 1e-3) - 1.0) ** 2
    design = np.stack([1.0 / e, np.ones_like(e)], axis=1)
    (a2, b2), *_ = np.linalg.lstsq(design, r2, rcond=None)
    if b2 < 0:  # no constant term in these data: fit the stochastic term alone
        a2, b2 = float(np.sum(r2 / e) / np.sum(1.0 / e ** 2)), 0.0
    return {"n_cells": int(vox.shape[1]), "geometry": geometry_spec(showers.geometry),
            "e_min": float(e.min()), "e_max": float(e.max()),
            "log_scale": float(max(np.log1p(vox.max()), 1e-3)),
            "response_slope": float(slope), "response_intercept": float(intercept),
            "response_stochastic": float(np.sqrt(max(a2, 0.0))), "response_constant": float(np.sqrt(max(b2, 0.0)))}


def encode_cells(cells_mev: torch.Tensor, log_scale: float) -> torch.Tensor:
    """MeV deposits -> v in [0, 1] (any shape)."""
    return torch.log1p(cells_mev) / log_scale


def decode_cells(v: torch.Tensor, log_scale: float) -> torch.Tensor:
    """v -> MeV deposits; v is clamped at 0 first, so deposits are never negative."""
    return torch.expm1(v.clamp(min=0) * log_scale)


def energy_condition(energy_gev: torch.Tensor, e_min: float, e_max: float) -> torch.Tensor:
    """Incident energy (GeV) -> c in [-1, 1] over the training range (log scale), shape (B, 1)."""
    lo, hi = math.log(e_min), math.log(e_max)
    width = hi - lo if hi > lo else 1.0
    return (2.0 * (torch.log(energy_gev.reshape(-1, 1)) - lo) / width - 1.0).float()


def check_energies(energy_gev: np.ndarray, e_min: float, e_max: float, where: str = "") -> None:
    """DataError for NaN / non-positive energies; a warning (naming the range) outside the training range."""
    e = np.asarray(energy_gev, dtype=np.float64).ravel()
    bad = ~np.isfinite(e) | (np.nan_to_num(e, nan=-1.0) <= 0)
    if bad.any():
        first = int(np.argwhere(bad)[0, 0])
        raise DataError(f"{where}incident energies must be finite and > 0 GeV: {int(bad.sum())} are not "
                        f"(first: {e[first]!r} at position {first})")
    outside = (e < e_min * (1 - 1e-6)) | (e > e_max * (1 + 1e-6))
    if outside.any():
        warnings.warn(f"{where}{int(outside.sum())} of {e.size} incident energies ({e[outside].min():.4g}-"
                      f"{e[outside].max():.4g} GeV) lie outside the range the model was trained on, "
                      f"{e_min:.4g}-{e_max:.4g} GeV: the model extrapolates there and its showers are not validated",
                      stacklevel=3)


def split_indices(n: int, val_fraction: float, test_fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    """Shuffled (train, val, test) indices; the test part is the held-out reference for validation."""
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise DataError(f"val_fraction ({val_fraction}) and test_fraction ({test_fraction}) must be in [0, 1) "
                        "and leave showers to train on")
    order = np.random.default_rng(seed).permutation(n)
    n_test, n_val = int(round(test_fraction * n)), int(round(val_fraction * n))
    return order[n_test + n_val:], order[n_test:n_test + n_val], order[:n_test]


def to_split(showers: Showers, log_scale: float) -> Split:
    cells = torch.from_numpy(showers.voxels().astype(np.float32))
    x = encode_cells(cells, log_scale).reshape(len(showers), 1, 1, showers.geometry.n_voxels)  # (N, 1, 1, cells)
    y = torch.from_numpy(showers.energy.astype(np.float32)).reshape(-1, 1)  # (N, 1) GeV
    return Split(x, y)


def to_dataset(showers: Showers, name: str, val_fraction: float = 0.1, test_fraction: float = 0.1,
               seed: int = 0) -> tuple[Dataset, dict[str, Any], np.ndarray]:
    """(Dataset for ``latentlab.train``, fitted transform constants, indices of the held-out test showers)."""
    tr, va, te = split_indices(len(showers), val_fraction, test_fraction, seed)
    train = showers.take(tr)
    stats = fit_stats(train)
    parts = [to_split(train, stats["log_scale"]), to_split(showers.take(va), stats["log_scale"]),
             to_split(showers.take(te), stats["log_scale"])]
    return Dataset(name, *parts, classes=None), stats, te
