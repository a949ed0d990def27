"""A parameterised electromagnetic shower simulator: a stand-in for Geant4 to learn from.

Real Geant4 showers cannot be downloaded here, so latentlab ships a fast simulator that
writes CaloGAN-layout files for positrons (and electrons) and photons of 1-100 GeV in
CaloGAN's lead / liquid-argon calorimeter, and CaloChallenge-layout files for electrons of
1 GeV - 1 TeV in the challenge's tungsten / silicon calorimeter binned as dataset 2 (or 3)
(see ``geometry`` and ``materials``). It is *not* Geant4: it draws
showers from the Grindhammer-Peters parameterisation (G. Grindhammer, S. Peters, "The
parameterized simulation of electromagnetic showers in homogeneous and sampling
calorimeters", hep-ex/0001020, "GP" below; the model behind Geant4's GFlash), which
describes the average shapes and the main shower-to-shower fluctuations of electromagnetic
showers. Users bring real CaloGAN or CaloChallenge files to the same commands.

Parameter values are GP's; those for sampling calorimeters are as tabulated in Geant4's
GFlash (GFlashSamplingShowerTuning), which implements GP.

Effective medium of the lead/argon stack (GP's mixture rules, computed in ``materials``):
Z_eff = 69.4, X0 = 15.6 mm, E_c = 8.96 MeV, R_M = 36.9 mm, sampling frequency F_S = 2.60,
e/mip e_hat = 0.691; of the tungsten/silicon stack: Z_eff = 72.5, X0 = 4.22 mm, E_c = 8.23 MeV,
R_M = 10.9 mm, F_S = 2.48, e_hat = 0.704. y = E / E_c.

Energy range: GP fitted their parameters to showers of 1-100 GeV. CaloChallenge energies reach
1 TeV, where every formula below is an extrapolation (T grows as ln y, the spot count as
E^0.959); a run inside a geometry's own range (CaloGAN 1-100 GeV, CaloChallenge 1-1000 GeV)
records this in the showers' ``meta["extrapolated"]`` instead of warning, and energies
outside that range warn.

Longitudinal profile (GP, longitudinal profiles and their sampling corrections): the energy
deposited per radiation length t follows a gamma distribution
    f(t) = (beta t)^(alpha-1) beta exp(-beta t) / Gamma(alpha),  T = (alpha - 1) / beta,
with ln T and ln alpha drawn per shower from correlated Gaussians:
    homogeneous:  T_hom = ln y - 0.812,  alpha_hom = 0.81 + (0.458 + 2.26 / Z) ln y
    sampling:     <ln T>     = ln(T_hom - 0.55 / F_S - 0.69 (1 - e_hat))
                  <ln alpha> = ln(alpha_hom - 0.476 / F_S)
                  sigma(ln T)     = 1 / (-2.5 + 1.25 ln y)     (at most 0.5)
                  sigma(ln alpha) = 1 / (-0.82 + 0.79 ln y)    (at most 0.5)
                  rho = 0.784 - 0.023 ln y
    ln T     = <ln T>     + sigma_T (sqrt((1+rho)/2) z1 + sqrt((1-rho)/2) z2)
    ln alpha = <ln alpha> + sigma_a (sqrt((1+rho)/2) z1 - sqrt((1-rho)/2) z2),  z1, z2 ~ N(0, 1)
(T >= 1 X0 and alpha >= 1.1, the bounds GFlash uses).

Spots (GP, fluctuations of the radial profile; sampling-calorimeter values as in GFlash):
the energy is deposited as N_spot spots,
    N_spot = (10.3 / a) E[GeV]^0.959       (a: stochastic resolution term, below)
whose depths follow their own gamma profile, T_spot = T (0.813 + 0.0019 Z),
alpha_spot = alpha (0.844 + 0.0026 Z). Each spot carries E / N_spot times the importance
weight f(t) / f_spot(t) (capped at ``max_weight`` and renormalised per shower), so that the
mean longitudinal energy profile is f(t) while the number of spots follows f_spot.

Radial profile (GP, radial profiles and their sampling corrections), tau = t / T, r in Moliere radii:
    f(r) = p 2 r R_C^2 / (r^2 + R_C^2)^2 + (1 - p) 2 r R_T^2 / (r^2 + R_T^2)^2
    R_C = 0.0251 + 0.00319 ln E + (0.1162 - 0.000381 Z) tau - 0.0203 (1 - e_hat) + 0.0397 / F_S exp(-tau)
    R_T = (0.659 - 0.00309 Z) (exp(-2.59 (tau - 0.645)) + exp((0.3585 + 0.0412 ln E)(tau - 0.645)))
          - 0.14 (1 - e_hat) - 0.495 / F_S exp(-tau)
    p   = p1 exp((p2 - tau) / p3 - exp((p2 - tau) / p3)) + (1 - e_hat)(0.348 - 0.642 / F_S exp(-(tau - 1)^2))
          p1 = 2.632 - 0.00094 Z, p2 = 0.401 + 0.00187 Z, p3 = 1.313 - 0.0686 ln E     (E in GeV)
A spot takes R = R_C with probability p, else R_T, and r = R_M R sqrt(u / (1 - u)), u ~ U(0, 1)
(the inverse of the cumulative profile); its azimuth is uniform.

Photons: a photon travels an exponentially distributed depth of mean 9/7 X0 before it
converts (PDG, Review of Particle Physics, "Passage of particles through matter": the pair
production mean free path), then showers like an electron of the same energy. This
reproduces the PDG's rule that photon showers peak about 1 X0 deeper (C_gamma = +0.5 vs
C_e = -0.5 in t_max = ln y + C).

Binning: CaloGAN cells are rectangles around the entry point (x = r cos phi, y = r sin phi);
CaloChallenge voxels are cylindrical bins around the shower axis: a spot at depth z, radius r
and azimuth phi lands in the (layer, alpha, r) bin that holds it (``geometry``'s edges).

Detector response:
  * sampling fluctuations: each cell's energy E_c (MeV, shower scale) is replaced by a
    gamma variate of mean E_c and variance a^2 E_c 1 GeV, so sigma/E = a / sqrt(E[GeV]) with
    a = 2.7% sqrt(d_active[mm] / f_mip) (Fabjan & Gianotti, Rev. Mod. Phys. 75 (2003) 1243):
    10.8% for lead/argon, 7.8% for tungsten/silicon;
  * visible energy: cells hold the energy deposited in the active layers, a fraction
    e_hat f_mip of the shower energy: 0.172 in CaloGAN's argon (Geant4's CaloGAN records only
    the argon), 0.0255 in the CaloChallenge silicon;
  * CaloGAN: electronic noise, Gaussian, ``noise_mev`` per cell (visible scale), followed by
    zero suppression below ``threshold_sigma`` x noise (choices of this stand-in, not measured);
  * CaloChallenge: no noise (the challenge's files hold Geant4's deposits) and voxels below
    15.15 keV set to 0, the readout threshold of datasets 2 and 3.
Energy beyond the back (CaloGAN 480 mm, 30.8 X0; CaloChallenge 153 mm, 36.3 X0) is lost;
energy outside a layer's cells (CaloGAN) or beyond its last radial edge (CaloChallenge,
41.85 mm = 3.9 R_M) goes to that layer's ``overflow`` bin, which CaloGAN files keep and
CaloChallenge files, having no place for it, drop.
"""
from __future__ import annotations

import math
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import gammaln

from latentlab.calo.geometry import CALOGAN, CaloChallengeGeometry, CaloGANGeometry, LayeredGeometry, geometry_spec
from latentlab.calo.io import Showers, write_showers
from latentlab.errors import ConfigError

PARTICLES = {"eplus": "eplus", "e+": "eplus", "positron": "eplus",
             "eminus": "eminus", "e-": "eminus", "electron": "eminus",
             "gamma": "gamma", "photon": "gamma"}
FITTED_RANGE_GEV = (1.0, 100.0)   # GP fitted their parameters to showers of 1-100 GeV
CALOGAN_RANGE_GEV = (1.0, 100.0)         # CaloGAN: uniform in 1-100 GeV
CALOCHALLENGE_RANGE_GEV = (1.0, 1000.0)  # CaloChallenge datasets 2 and 3: log-uniform in 1 GeV - 1 TeV
CALOCHALLENGE_THRESHOLD_MEV = 0.01515    # voxels below 15.15 keV are 0 in datasets 2 and 3
ENERGY_DISTRIBUTIONS = ("uniform", "log-uniform")
MIN_ENERGY_GEV = 0.1              # below this sigma(ln T) and <ln T> stop making sense
PHOTON_CONVERSION_X0 = 9.0 / 7.0  # mean free path for pair production (PDG)

# GP hep-ex/0001020: longitudinal, homogeneous media, and the sampling-calorimeter corrections.
T_HOM = -0.812
ALPHA_HOM = (0.81, 0.458, 2.26)
T_SAM = (-0.55, -0.69)
ALPHA_SAM = -0.476
SIGMA_LNT_SAM = (-2.5, 1.25)
SIGMA_LNA_SAM = (-0.82, 0.79)
RHO_SAM = (0.784, -0.023)
# Radial profile, homogeneous media, and the sampling-calorimeter corrections.
RC_HOM = (0.0251, 0.00319, 0.1162, -0.000381)
RT_HOM = (0.659, -0.00309, 0.645, -2.59, 0.3585, 0.0412)
P_HOM = (2.632, -0.00094, 0.401, 0.00187, 1.313, -0.0686)
RC_SAM = (-0.0203, 0.0397)
RT_SAM = (-0.14, -0.495)
P_SAM = (0.348, -0.642)
# Spots in sampling calorimeters (GP's values as tabulated in Geant4's GFlashSamplingShowerTuning).
SPOT_N = (10.3, 0.959)
SPOT_T = (0.813, 0.0019)
SPOT_ALPHA = (0.844, 0.0026)


@dataclass(frozen=True)
class SimulatorConfig:
    """Knobs of the detector response and of the computation (defaults documented above)."""

    noise_mev: float = 0.2
    threshold_sigma: float = 3.0
    threshold_mev: float = 0.0             # zero suppression below this many MeV (after the noise)
    stochastic_term: float | None = None   # None: the stack's 2.7% sqrt(d/f_mip)
    spot_scale: float = 1.0                # multiplies GP's spot count
    max_spots: int | None = None           # at most this many spots per shower (None: GP's count)
    max_weight: float = 10.0
    chunk_spots: int = 50_000              # spots per work unit: small enough to stay in cache


def default_config(geometry: LayeredGeometry) -> SimulatorConfig:
    """The detector response of a geometry: CaloGAN's noise, or the CaloChallenge's 15.15 keV threshold."""
    if isinstance(geometry, CaloGANGeometry):
        return SimulatorConfig()
    return SimulatorConfig(noise_mev=0.0, threshold_mev=CALOCHALLENGE_THRESHOLD_MEV)


def default_energies(geometry: LayeredGeometry) -> tuple[tuple[float, float], str]:
    """The incident energies a geometry's published showers have: ((low, high) GeV, distribution)."""
    if isinstance(geometry, CaloGANGeometry):
        return CALOGAN_RANGE_GEV, "uniform"
    return CALOCHALLENGE_RANGE_GEV, "log-uniform"


@dataclass
class _Params:
    """Per-shower draws (arrays of length N)."""

    energy: np.ndarray   # GeV
    t0: np.ndarray       # X0, start of the shower
    T: np.ndarray
    alpha: np.ndarray
    T_spot: np.ndarray
    alpha_spot: np.ndarray
    n_spots: np.ndarray


def _energies(n: int, energy: float | tuple[float, float] | np.ndarray, distribution: str,
              rng: np.random.Generator) -> np.ndarray:
    if isinstance(energy, (tuple, list)):
        if len(energy) != 2 or not energy[0] <= energy[1]:
            raise ConfigError(f"energy range must be (low, high) with low <= high, got {energy}")
        if distribution == "log-uniform":
            if not energy[0] > 0:
                raise ConfigError(f"a log-uniform energy range needs low > 0 GeV, got {energy[0]}")
            e = np.exp(rng.uniform(math.log(energy[0]), math.log(energy[1]), n))
        else:
            e = rng.uniform(energy[0], energy[1], n)
    elif np.ndim(energy) == 0:
        e = np.full(n, float(energy))  # type: ignore[arg-type]
    else:
        e = np.asarray(energy, dtype=np.float64).ravel()
        if e.shape[0] != n:
            raise ConfigError(f"got {e.shape[0]} energies for n={n} showers; give one energy per shower")
    if not np.all(np.isfinite(e)) or e.min(initial=np.inf) < MIN_ENERGY_GEV:
        raise ConfigError(f"energies must be finite and >= {MIN_ENERGY_GEV} GeV (got min {np.nanmin(e):.4g}); "
                          "the parameterisation has no meaning below that")
    return e


def _extrapolation(e: np.ndarray, geometry: LayeredGeometry) -> str | None:
    """A note on the showers outside GP's fitted range; a warning when they also leave the geometry's own range."""
    lo, hi = FITTED_RANGE_GEV
    outside = (e < lo) | (e > hi)
    if not outside.any():
        return None
    (g_lo, g_hi), _ = default_energies(geometry)
    if e.min() < min(lo, g_lo) or e.max() > max(hi, g_hi):
        warnings.warn(f"energies {e.min():.3g}-{e.max():.3g} GeV leave the range the Grindhammer-Peters parameters "
                      f"were fitted on ({lo:g}-{hi:g} GeV); the showers there are extrapolations", stacklevel=3)
    return (f"{int(outside.sum())} of {e.size} showers lie outside {lo:g}-{hi:g} GeV, the range the Grindhammer-Peters "
            "parameters were fitted on: they are extrapolations")


def _draw_params(particle: str, e: np.ndarray, geometry: CaloGANGeometry | CaloChallengeGeometry,
                 cfg: SimulatorConfig, a: float, rng: np.random.Generator) -> _Params:
    """Per-shower longitudinal parameters with GP's correlated fluctuations (module docstring)."""
    st = geometry.stack
    z, fs, eh = st.z_eff, st.sampling_frequency, st.e_hat
    lny = np.log(e * 1000.0 / st.critical_energy_mev)
    t_mean = np.maximum(lny + T_HOM + T_SAM[0] / fs + T_SAM[1] * (1.0 - eh), 1.1)
    a_mean = np.maximum(ALPHA_HOM[0] + (ALPHA_HOM[1] + ALPHA_HOM[2] / z) * lny + ALPHA_SAM / fs, 1.1)
    den_t = SIGMA_LNT_SAM[0] + SIGMA_LNT_SAM[1] * lny
    den_a = SIGMA_LNA_SAM[0] + SIGMA_LNA_SAM[1] * lny
    sig_t = np.where(den_t > 2.0, 1.0 / np.maximum(den_t, 2.0), 0.5)
    sig_a = np.where(den_a > 2.0, 1.0 / np.maximum(den_a, 2.0), 0.5)
    rho = np.clip(RHO_SAM[0] + RHO_SAM[1] * lny, -1.0, 1.0)
    z1, z2 = rng.standard_normal((2, e.size))
    c1, c2 = np.sqrt((1 + rho) / 2), np.sqrt((1 - rho) / 2)
    T = np.maximum(np.exp(np.log(t_mean) + sig_t * (c1 * z1 + c2 * z2)), 1.0)
    alpha = np.maximum(np.exp(np.log(a_mean) + sig_a * (c1 * z1 - c2 * z2)), 1.1)
    t0 = rng.exponential(PHOTON_CONVERSION_X0, e.size) if particle == "gamma" else np.zeros(e.size)
    n_spots = np.maximum(1, np.rint(cfg.spot_scale * SPOT_N[0] / a * e ** SPOT_N[1])).astype(np.int64)
    if cfg.max_spots is not None:
        np.minimum(n_spots, max(int(cfg.max_spots), 1), out=n_spots)
    return _Params(e, t0, T, alpha, T * (SPOT_T[0] + SPOT_T[1] * z),
                   np.maximum(alpha * (SPOT_ALPHA[0] + SPOT_ALPHA[1] * z), 1.05), n_spots)


def _log_gamma_pdf_const(alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    return alpha * np.log(beta) - gammaln(alpha)


def _deposit_chunk(p: _Params, geometry: CaloGANGeometry | CaloChallengeGeometry, cfg: SimulatorConfig, a: float,
                   rng: np.random.Generator) -> np.ndarray:
    """Spots of a few showers -> (showers, cells + overflow per layer) energies, visible scale, MeV.

    Per-spot arrays are float32 (mm and X0 need no more), which halves memory traffic and
    lets numpy use its fast single-precision exp/log/sin/cos.
    """
    f4 = np.float32
    st = geometry.stack
    z, fs, one_eh, rm = st.z_eff, st.sampling_frequency, 1.0 - st.e_hat, st.moliere_radius_mm
    nc = p.energy.size
    owner = np.repeat(np.arange(nc), p.n_spots)
    beta = (p.alpha - 1.0) / p.T
    beta_s = (p.alpha_spot - 1.0) / p.T_spot
    # depth of each spot (X0 after the shower start) from the spot profile
    t = rng.standard_gamma(p.alpha_spot.astype(f4)[owner], dtype=f4)
    t /= beta_s.astype(f4)[owner]
    np.maximum(t, f4(1e-6), out=t)
    # importance weight f(t) / f_spot(t), capped, then renormalised to mean 1 per shower
    const = _log_gamma_pdf_const(p.alpha, beta) - _log_gamma_pdf_const(p.alpha_spot, beta_s)
    log_w = (p.alpha - p.alpha_spot).astype(f4)[owner] * np.log(t) - (beta - beta_s).astype(f4)[owner] * t
    log_w += const.astype(f4)[owner]
    w = np.exp(np.minimum(log_w, f4(math.log(cfg.max_weight))))
    del log_w
    energy_per_spot = w * (p.energy * 1000.0 / np.bincount(owner, w, minlength=nc)).astype(f4)[owner]
    del w
    # radial profile at tau = t / T (module docstring)
    tau = t / p.T.astype(f4)[owner]
    ln_e = np.log(p.energy).astype(f4)[owner]
    e_tau = np.exp(-tau)
    r_core = (f4(RC_HOM[0] + RC_SAM[0] * one_eh) + f4(RC_HOM[1]) * ln_e + f4(RC_HOM[2] + RC_HOM[3] * z) * tau
              + f4(RC_SAM[1] / fs) * e_tau)
    k1, k2, k3 = f4(RT_HOM[0] + RT_HOM[1] * z), f4(RT_HOM[2]), f4(RT_HOM[3])
    r_tail = (k1 * (np.exp(k3 * (tau - k2)) + np.exp((f4(RT_HOM[4]) + f4(RT_HOM[5]) * ln_e) * (tau - k2)))
              + f4(RT_SAM[0] * one_eh) + f4(RT_SAM[1] / fs) * e_tau)
    x = (f4(P_HOM[2] + P_HOM[3] * z) - tau) / (f4(P_HOM[4]) + f4(P_HOM[5]) * ln_e)
    p_core = (f4(P_HOM[0] + P_HOM[1] * z) * np.exp(x - np.exp(x))
              + f4(one_eh) * (f4(P_SAM[0]) + f4(P_SAM[1] / fs) * np.exp(-((tau - f4(1.0)) ** 2))))
    del x, e_tau, ln_e, tau
    radius = np.where(rng.random(owner.size, dtype=f4) < p_core, r_core, r_tail)
    np.maximum(radius, f4(1e-3), out=radius)
    del r_core, r_tail, p_core
    u = np.minimum(rng.random(owner.size, dtype=f4), f4(1.0 - 1e-6))
    radius *= f4(rm) * np.sqrt(u / (f4(1.0) - u))   # mm from the shower axis
    del u
    turn = rng.random(owner.size, dtype=f4)         # azimuth / (2 pi), uniform in [0, 1)
    zs = (t + p.t0.astype(f4)[owner]) * f4(st.x0_mm)  # mm behind the front
    del t
    if isinstance(geometry, CaloGANGeometry):
        cell = _calogan_cells(geometry, radius, turn, zs)
    else:
        cell = _cylinder_cells(geometry, radius, turn, zs)
    del radius, turn, zs
    n_layers, n_cells = geometry.n_layers, geometry.n_voxels
    width = n_cells + n_layers + 1
    dep = np.bincount(owner * width + cell, energy_per_spot, minlength=nc * width).reshape(nc, width)
    dep = dep[:, : n_cells + n_layers]
    # sampling fluctuations: gamma with mean E and variance a^2 E (1 GeV)
    scale = a * a * 1000.0
    hit = dep > 0
    dep[hit] = rng.standard_gamma(dep[hit] / scale) * scale
    dep *= st.sampling_fraction
    cells = dep[:, :n_cells]
    if cfg.noise_mev > 0:
        cells += rng.normal(0.0, cfg.noise_mev, cells.shape)
    cut = max(cfg.threshold_sigma * cfg.noise_mev if cfg.noise_mev > 0 else 0.0, cfg.threshold_mev)
    if cut > 0:
        cells[cells < cut] = 0.0
    return dep.astype(np.float32)


def _calogan_cells(geometry: CaloGANGeometry, radius: np.ndarray, turn: np.ndarray, zs: np.ndarray) -> np.ndarray:
    """Spot -> index of its rectangular cell, else its layer's overflow (n_cells + layer), else leaked (+ n_layers)."""
    f4 = np.float32
    phi = turn * f4(2.0 * np.pi)
    xs, ys = radius * np.cos(phi), radius * np.sin(phi)
    del phi
    n_layers, n_cells = len(geometry.layers), geometry.n_voxels
    lx = np.zeros(zs.size, dtype=np.intp)
    for spec in geometry.layers:
        lx += zs >= f4(spec.z_mm[1])
    # per-layer lookups (a last, empty entry for leaked spots), float32: cell numbers stay exact below 2^24
    inv_x = np.array([1.0 / s.cell_mm[0] for s in geometry.layers] + [1.0], dtype=f4)[lx]
    inv_y = np.array([1.0 / s.cell_mm[1] for s in geometry.layers] + [1.0], dtype=f4)[lx]
    nx = np.array([s.shape[0] for s in geometry.layers] + [0], dtype=f4)[lx]
    ny = np.array([s.shape[1] for s in geometry.layers] + [0], dtype=f4)[lx]
    first = np.cumsum([0] + [s.shape[0] * s.shape[1] for s in geometry.layers])
    offset = first.astype(f4)[lx]
    fx = np.floor(xs * inv_x + f4(0.5) * nx)   # cell index along axis 0, may lie outside
    fy = np.floor(ys * inv_y + f4(0.5) * ny)
    inside = (fx >= 0) & (fx < nx) & (fy >= 0) & (fy < ny)
    return np.where(inside, offset + fx * ny + fy, (n_cells + lx).astype(f4)).astype(np.intp)


def _cylinder_cells(geometry: CaloChallengeGeometry, radius: np.ndarray, turn: np.ndarray,
                    zs: np.ndarray) -> np.ndarray:
    """Spot -> index of its (layer, alpha, r) voxel, else its layer's overflow (beyond the last radial edge),
    else leaked (before the front or behind the back: n_cells + n_layers)."""
    n_layers, n_cells = geometry.n_layers, geometry.n_voxels
    z = np.asarray(geometry.z_edges_mm, dtype=np.float64)
    step = np.diff(z)
    if np.allclose(step, step[0]):  # equal layers (the presets): arithmetic instead of a search
        lx = np.floor((zs - np.float32(z[0])) * np.float32(1.0 / step[0])).astype(np.intp)
    else:
        lx = np.searchsorted(z.astype(np.float32), zs, side="right") - 1
    lx[(lx < 0) | (lx >= n_layers)] = n_layers  # (spots,) layer, n_layers: leaked
    first = np.cumsum((0,) + geometry.voxels_per_layer)  # (n_layers + 1,) first voxel of each layer
    groups: dict[tuple[tuple[float, ...], int], list[int]] = {}  # layers that share their binning
    for i, (edges, n_a) in enumerate(zip(geometry.r_edges_mm, geometry.n_alpha)):
        groups.setdefault((edges, n_a), []).append(i)
    if len(groups) == 1:  # every layer binned alike (the presets): no selection needed
        (edges, n_a), = groups
        return _voxel(lx, radius, turn, edges, n_a, first, n_cells, n_layers)
    cell = np.full(zs.size, n_cells + n_layers, dtype=np.intp)
    for (edges, n_a), layers in groups.items():
        sel = np.isin(lx, layers)
        cell[sel] = _voxel(lx[sel], radius[sel], turn[sel], edges, n_a, first, n_cells, n_layers)
    return cell


def _voxel(lx: np.ndarray, radius: np.ndarray, turn: np.ndarray, edges: tuple[float, ...], n_a: int,
           first: np.ndarray, n_cells: int, n_layers: int) -> np.ndarray:
    """Voxel (or overflow, or leaked) index of spots in layers that share radial ``edges`` and ``n_a`` angular bins."""
    n_r = len(edges) - 1
    rb = np.searchsorted(np.asarray(edges, dtype=np.float32), radius, side="right") - 1  # n_r: beyond the last edge
    ab = np.minimum((turn * np.float32(n_a)).astype(np.intp), n_a - 1)  # angular bin, counted from alpha = -pi
    inside = (rb >= 0) & (rb < n_r) & (lx < n_layers)
    return np.where(inside, first[lx] + ab * n_r + rb, n_cells + lx)


def _chunks(n_spots: np.ndarray, budget: int) -> list[tuple[int, int]]:
    """Consecutive shower ranges holding about ``budget`` spots each (at least one shower)."""
    window = (np.cumsum(n_spots) - 1) // max(int(budget), 1)   # budget window of each shower's last spot
    cuts = np.flatnonzero(np.diff(window)) + 1
    edges = [0, *cuts.tolist(), int(n_spots.size)]
    return list(zip(edges[:-1], edges[1:]))


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def simulate(particle: str, n: int, energy: float | tuple[float, float] | np.ndarray | None = None, seed: int = 0,
             *, geometry: LayeredGeometry = CALOGAN, config: SimulatorConfig | None = None,
             workers: int | None = None, distribution: str | None = None) -> Showers:
    """Simulate ``n`` showers of ``particle`` ('eplus', 'eminus' or 'gamma') in ``geometry``.

    ``energy``: one energy (GeV), a (low, high) range, or an array of n energies; None: the
    geometry's own range (CaloGAN 1-100 GeV, CaloChallenge 1-1000 GeV). A range is drawn
    ``distribution`` 'uniform' or 'log-uniform' (None: the geometry's convention, uniform for
    CaloGAN, log-uniform for CaloChallenge). ``geometry``: CALOGAN or a CaloChallenge preset
    (``CaloChallengeGeometry.dataset(2)``); ``config``: None takes ``default_config(geometry)``.
    The result depends only on the arguments, not on ``workers``.
    """
    if isinstance(geometry, CaloChallengeGeometry) and not geometry.simulatable:
        raise ConfigError(f"the simulator needs the radial edges, layer boundaries and material of the {geometry.name} "
                          "geometry; use a preset that has them (calochallenge-ds2, calochallenge-ds3)")
    if not isinstance(geometry, (CaloGANGeometry, CaloChallengeGeometry)):
        raise ConfigError(f"the simulator fills CaloGAN and CaloChallenge geometries, not {geometry.name}")
    cfg = config or default_config(geometry)
    if particle not in PARTICLES:
        raise ConfigError(f"particle {particle!r} is not simulated; choose one of 'eplus', 'eminus', 'gamma' "
                          "(hadronic showers such as piplus are not parameterised here)")
    kind = PARTICLES[particle]
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ConfigError(f"n must be a positive whole number of showers, got {n!r}")
    n = int(n)
    own_range, own_distribution = default_energies(geometry)
    distribution = distribution or own_distribution
    if distribution not in ENERGY_DISTRIBUTIONS:
        raise ConfigError(f"energy distribution {distribution!r} is unknown; choose 'uniform' or 'log-uniform'")
    energy = own_range if energy is None else energy
    a = cfg.stochastic_term if cfg.stochastic_term is not None else geometry.stack.stochastic_term
    root = np.random.SeedSequence(seed)
    shower_seed, chunk_seed = root.spawn(2)
    rng = np.random.default_rng(shower_seed)
    e = _energies(n, energy, distribution, rng)
    note = _extrapolation(e, geometry)
    params = _draw_params(kind, e, geometry, cfg, a, rng)
    bounds = _chunks(params.n_spots, cfg.chunk_spots)
    seeds = chunk_seed.spawn(len(bounds))

    def run(i: int) -> np.ndarray:
        lo, hi = bounds[i]
        part = _Params(*(getattr(params, f)[lo:hi] for f in _Params.__dataclass_fields__))
        return _deposit_chunk(part, geometry, cfg, a, np.random.default_rng(seeds[i]))

    workers = workers or min(len(bounds), _cpu_count())
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(run, range(len(bounds))))
    else:
        parts = [run(i) for i in range(len(bounds))]
    dep = np.concatenate(parts, axis=0)
    del parts
    n_cells = geometry.n_voxels
    meta = {"generator": "latentlab.calo.simulate (Grindhammer-Peters parameterisation, not Geant4)",
            "particle": kind, "seed": int(seed) if isinstance(seed, (int, np.integer)) else str(seed),
            "geometry": geometry_spec(geometry)}
    if isinstance(energy, (tuple, list)):
        meta["energy_distribution"] = f"{distribution} {energy[0]:g}-{energy[1]:g} GeV"
    if note:
        meta["extrapolated"] = note
    visible = float(dep.sum())
    meta["overflow_fraction"] = float(dep[:, n_cells:].sum()) / visible if visible > 0 else 0.0  # outside the cells
    return Showers.from_voxels(e, dep[:, :n_cells], geometry, overflow=dep[:, n_cells:], meta=meta)


def simulate_to_file(particle: str, n: int, out: str | Path, energy: float | tuple[float, float] | None = None,
                     seed: int = 0, workers: int | None = None, *, geometry: LayeredGeometry = CALOGAN,
                     distribution: str | None = None) -> Path:
    """Simulate and write an HDF5 file in the geometry's layout (CaloGAN or CaloChallenge); returns its path."""
    return write_showers(out, simulate(particle, n, energy, seed, geometry=geometry, workers=workers,
                                       distribution=distribution))
