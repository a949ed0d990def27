"""Shower observables the field validates generators on, computed for all showers at once.

Definitions follow CaloGAN (arXiv:1712.10321 and 1705.02355; l = layer index 0, 1, 2, E_l its
energy, E_tot = sum_l E_l over the cells, overflow excluded):
    energy per layer E_l, energy fraction f_l = E_l / E_tot, total energy over incident E_tot / E_inc,
    sparsity_l  = fraction of layer l's cells with a deposit (> threshold),
    shower depth s_d = sum_l l E_l / E_tot,  depth width sigma_sd = sqrt(sum_l l^2 E_l / E_tot - s_d^2),
    lateral width per layer = energy-weighted standard deviation of the cell positions,
    E_ratio_l   = (E_1st - E_2nd) / (E_1st + E_2nd) of the two hottest cells,
and the CaloChallenge's (arXiv:2410.21611) high-level features per layer: energy, centres of
energy in x and y, widths in x and y (energy-weighted standard deviations) and sparsity
(``LAYER_FEATURES``). x and y are the geometry's cell coordinates: CaloGAN's cell centres in
mm (x along array axis 0, y along axis 1), or for a CaloChallenge geometry x = r cos(alpha)
("eta") and y = r sin(alpha) ("phi") at the centre of each (alpha, r) bin, r in mm when the
geometry has radial edges. CaloGAN's "lateral width" is the one along array axis 0
(``width_x``); we also give axis 1 (``width_y``). Undefined values (an empty layer) are 0,
as in the CaloChallenge code.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latentlab.calo.io import Showers


@dataclass
class Observable:
    """One observable family: (N, k) values, one column per layer (or a single column)."""

    name: str
    label: str
    unit: str
    values: np.ndarray
    columns: list[str]
    log: bool = False

    def column_names(self) -> list[str]:
        return [f"{self.name}_{c}" if c else self.name for c in self.columns]


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den > 0)
    return out


def layer_energies(s: Showers) -> np.ndarray:
    """(N, L) energy per layer, MeV."""
    return np.stack([s.layer_flat(i).sum(axis=1, dtype=np.float64) for i in range(s.n_layers)], axis=1)


def total_energy(s: Showers) -> np.ndarray:
    """(N,) energy in all cells, MeV."""
    return layer_energies(s).sum(axis=1)


def energy_fractions(s: Showers) -> np.ndarray:
    e = layer_energies(s)
    return _safe_div(e, e.sum(axis=1, keepdims=True))


def response(s: Showers) -> np.ndarray:
    """(N,) E_tot / E_inc (both MeV)."""
    return total_energy(s) / (s.energy * 1000.0)


def sparsity(s: Showers, threshold: float = 0.0) -> np.ndarray:
    """(N, L) fraction of cells above ``threshold`` MeV (CaloGAN's sparsity)."""
    return np.stack([(s.layer_flat(i) > threshold).mean(axis=1) for i in range(s.n_layers)], axis=1)


def shower_depth(s: Showers) -> tuple[np.ndarray, np.ndarray]:
    """(depth, depth width), each (N,), in units of layers."""
    e = layer_energies(s)
    tot = e.sum(axis=1)
    idx = np.arange(s.n_layers, dtype=np.float64)
    depth = _safe_div(e @ idx, tot)
    second = _safe_div(e @ idx**2, tot)
    return depth, np.sqrt(np.maximum(second - depth**2, 0.0))


def centres_and_widths(s: Showers) -> tuple[np.ndarray, np.ndarray]:
    """(centres, widths), each (N, L, 2): energy-weighted mean and std of (x, y) per layer."""
    n = len(s)
    centres = np.zeros((n, s.n_layers, 2))
    widths = np.zeros((n, s.n_layers, 2))
    for i in range(s.n_layers):
        x = s.layer_flat(i).astype(np.float64)
        xy = s.geometry.coordinates(i)
        e = x.sum(axis=1, keepdims=True)
        mean = _safe_div(x @ xy, e)
        second = _safe_div(x @ xy**2, e)
        centres[:, i] = mean
        widths[:, i] = np.sqrt(np.maximum(second - mean**2, 0.0))
    return centres, widths


def e_ratio(s: Showers) -> np.ndarray:
    """(N, L) (E_1st - E_2nd) / (E_1st + E_2nd) of the two hottest cells per layer."""
    out = np.zeros((len(s), s.n_layers))
    for i in range(s.n_layers):
        x = s.layer_flat(i)
        if x.shape[1] < 2:
            continue
        top = np.partition(x, x.shape[1] - 2, axis=1)[:, -2:].astype(np.float64)
        out[:, i] = _safe_div(top[:, 1] - top[:, 0], top[:, 1] + top[:, 0])
    return out


def average_images(s: Showers) -> list[np.ndarray]:
    """Mean deposit per cell, one image per layer (MeV)."""
    return [x.mean(axis=0, dtype=np.float64) for x in s.layers]


# The CaloChallenge's high-level features of each layer (its HighLevelFeatures: E, EC_eta, EC_phi,
# width_eta, width_phi, and the sparsity added for the challenge's evaluation), as ``observables`` names them.
LAYER_FEATURES = ("energy", "centre_x", "centre_y", "width_x", "width_y", "sparsity")


def _axis_names(s: Showers) -> tuple[str, str]:
    if getattr(s.geometry, "n_alpha", None) is not None:
        return "x = r cos(alpha) (eta)", "y = r sin(alpha) (phi)"
    return "axis 0", "axis 1"


def observables(s: Showers) -> list[Observable]:
    """Every observable of the module docstring, as families for plots and tables."""
    layers = [f"layer_{i}" for i in range(s.n_layers)]
    unit = s.geometry.coordinate_unit
    ax, ay = _axis_names(s)
    e = layer_energies(s)
    depth, width = shower_depth(s)
    centres, widths = centres_and_widths(s)
    return [
        Observable("energy", "energy in layer", "MeV", e, layers, log=True),
        Observable("fraction", "energy fraction", "", energy_fractions(s), layers),
        Observable("response", "E_tot / E_inc", "", response(s)[:, None], [""]),
        Observable("sparsity", "fraction of cells hit", "", sparsity(s), layers),
        Observable("depth", "shower depth", "layers", depth[:, None], [""]),
        Observable("depth_width", "shower depth width", "layers", width[:, None], [""]),
        Observable("width_x", f"lateral width, {ax}", unit, widths[:, :, 0], layers),
        Observable("width_y", f"lateral width, {ay}", unit, widths[:, :, 1], layers),
        Observable("centre_x", f"centre of energy, {ax}", unit, centres[:, :, 0], layers),
        Observable("centre_y", f"centre of energy, {ay}", unit, centres[:, :, 1], layers),
        Observable("e_ratio", "E_ratio of the two hottest cells", "", e_ratio(s), layers),
    ]


def layer_features(s: Showers) -> dict[str, np.ndarray]:
    """The CaloChallenge's high-level features per layer: {feature: (N, L)} for ``LAYER_FEATURES``,
    and "response" (N, 1), E_tot / E_inc."""
    centres, widths = centres_and_widths(s)
    return {"energy": layer_energies(s), "centre_x": centres[:, :, 0], "centre_y": centres[:, :, 1],
            "width_x": widths[:, :, 0], "width_y": widths[:, :, 1], "sparsity": sparsity(s),
            "response": response(s)[:, None]}


def response_in_energy_bins(energy_gev: np.ndarray, resp: np.ndarray, edges: np.ndarray) -> list[dict[str, float]]:
    """Per incident-energy bin: showers, mean incident energy, mean of E_tot / E_inc, its standard
    deviation, the resolution std / mean and that resolution's statistical error (Gaussian:
    resolution / sqrt(2 (n - 1))). Bins with fewer than 2 showers hold n and NaN."""
    idx = np.clip(np.searchsorted(edges, energy_gev, side="right") - 1, 0, len(edges) - 2)
    out = []
    for k in range(len(edges) - 1):
        r, e = resp[idx == k], energy_gev[idx == k]
        row = {"e_low_gev": float(edges[k]), "e_high_gev": float(edges[k + 1]), "n": int(len(r)),
               "e_mean_gev": float("nan"), "mean": float("nan"), "std": float("nan"), "resolution": float("nan"),
               "resolution_error": float("nan")}
        if len(r) >= 2:
            mean, std = float(r.mean()), float(r.std(ddof=1))
            res = std / mean if mean > 0 else float("nan")
            row.update(e_mean_gev=float(e.mean()), mean=mean, std=std, resolution=res,
                       resolution_error=res / np.sqrt(2.0 * (len(r) - 1)))
        out.append(row)
    return out


def fit_resolution(rows: list[dict[str, float]]) -> dict[str, float]:
    """Least-squares fit of (std / mean)^2 = a^2 / E[GeV] + b^2 to ``response_in_energy_bins`` rows:
    the stochastic term a and the constant term b (both >= 0; NaN with fewer than 2 bins)."""
    ok = [r for r in rows if np.isfinite(r["resolution"]) and r["e_mean_gev"] > 0]
    if len(ok) < 2:
        return {"a": float("nan"), "b": float("nan")}
    e = np.array([r["e_mean_gev"] for r in ok])
    res2 = np.array([r["resolution"] for r in ok]) ** 2
    w = 1.0 / np.maximum(np.array([2 * r["resolution"] * r["resolution_error"] for r in ok]), 1e-12)
    design = np.stack([1.0 / e, np.ones_like(e)], axis=1) * w[:, None]
    coef = np.linalg.lstsq(design, res2 * w, rcond=None)[0]
    return {"a": float(np.sqrt(max(coef[0], 0.0))), "b": float(np.sqrt(max(coef[1], 0.0)))}


def high_level_features(s: Showers) -> tuple[np.ndarray, list[str]]:
    """(N, F) features for FPD/KPD (CaloChallenge): E_tot/E_inc, and per layer its energy,
    centres and widths of energy on both axes, and sparsity; plus their names."""
    families = {o.name: o for o in observables(s)}
    keep = ["response", "energy", "centre_x", "centre_y", "width_x", "width_y", "sparsity"]
    values = np.concatenate([families[k].values for k in keep], axis=1)
    names = [c for k in keep for c in families[k].column_names()]
    return values, names
