"""A parameterised electromagnetic shower simulator: a stand-in for Geant4 to learn from.

Real Geant4 showers cannot be downloaded here, so latentlab ships a fast simulator that
writes CaloGAN-layout files for positrons (and electrons) and photons of 1-100 GeV in
CaloGAN's lead / liquid-argon calorimeter (see ``geometry``). It is *not* Geant4: it draws
showers from the Grindhammer-Peters parameterisation (G. Grindhammer, S. Peters, "The
parameterized simulation of electromagnetic showers in homogeneous and sampling
calorimeters", hep-ex/0001020, "GP" below; the model behind Geant4's GFlash), which
describes the average shapes and the main shower-to-shower fluctuations of electromagnetic
showers. Users bring real CaloGAN or CaloChallenge files to the same commands.

Parameter values are GP's; those for sampling calorimeters are as tabulated in Geant4's
GFlash (GFlashSamplingShowerTuning), which implements GP.

Effective medium of the lead/argon stack (GP's mixture rules, computed in ``materials``):
Z_eff = 69.4, X0 = 15.6 mm, E_c = 8.96 MeV, R_M = 36.9 mm, sampling frequency F_S = 2.60,
e/mip e_hat = 0.691. y = E / E_c.

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

Detector response:
  * sampling fluctuations: each cell's energy E_c (MeV, shower scale) is replaced by a
    gamma variate of mean E_c and variance a^2 E_c 1 GeV, so sigma/E = a / sqrt(E[GeV]) with
    a = 2.7% sqrt(d_active[mm] / f_mip) = 10.8% (Fabjan & Gianotti, Rev. Mod. Phys. 75 (2003) 1243);
  * visible energy: cells hold the energy deposited in the liquid argon, a fraction
    e_hat f_mip = 0.172 of the shower energy (Geant4's CaloGAN records only the argon);
  * electronic noise: Gaussian, ``noise_mev`` per cell (visible scale), followed by zero
    suppression below ``threshold_sigma`` x noise (choices of this stand-in, not measured).
Energy beyond the back (480 mm, 30.8 X0) is lost; energy outside a layer's cells goes to
that layer's ``overflow`` bin, as in CaloGAN.
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

from latentlab.calo.geometry import CALOGAN, CaloGANGeometry
from latentlab.calo.io import Showers, write_calogan
from latentlab.errors import ConfigError

PARTICLES = {"eplus": "eplus", "e+": "eplus", "positron": "eplus",
             "eminus": "eminus", "e-": "eminus", "electron": "eminus",
             "gamma": "gamma", "photon": "gamma"}
FITTED_RANGE_GEV = (1.0, 100.0)   # GP fitted their parameters to showers of 1-100 GeV
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
    stochastic_term: float | None = None   # None: the stack's 2.7% sqrt(d/f_mip)
    spot_scale: float = 1.0                # multiplies GP's spot count
    max_weight: float = 10.0
    chunk_spots: int = 50_000              # spots per work unit: small enough to stay in cache


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


def _energies(n: int, energy: float | tuple[float, float] | np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if isinstance(energy, tuple):
        if len(energy) != 2 or not energy[0] <= energy[1]:
            raise ConfigError(f"energy range must be (low, high) with low <= high, got {energy}")
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
    lo, hi = FITTED_RANGE_GEV
    if e.size and (e.min() < lo or e.max() > hi):
        warnings.warn(f"energies {e.min():.3g}-{e.max():.3g} GeV leave the range the Grindhammer-Peters parameters were "
                      f"fitted on ({lo:g}-{hi:g} GeV); the showers there are extrapolations", stacklevel=3)
    return e


def _draw_params(particle: str, e: np.ndarray, geometry: CaloGANGeometry, cfg: SimulatorConfig,
                 a: float, rng: np.random.Generator) -> _Params:
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
    return _Params(e, t0, T, alpha, T * (SPOT_T[0] + SPOT_T[1] * z),
                   np.maximum(alpha * (SPOT_ALPHA[0] + SPOT_ALPHA[1] * z), 1.05), n_spots)


def _log_gamma_pdf_const(alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    return alpha * np.log(beta) - gammaln(alpha)


def _deposit_chunk(p: _Params, geometry: CaloGANGeometry, cfg: SimulatorConfig, a: float,
                   rng: np.random.Generator) -> np.ndarray:
    """Spots of a few showers -> (showers, cells + overflow per layer) energies, shower scale, MeV.

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
    radius *= f4(rm) * np.sqrt(u / (f4(1.0) - u))
    phi = rng.random(owner.size, dtype=f4) * f4(2.0 * np.pi)
    xs, ys = radius * np.cos(phi), radius * np.sin(phi)
    del radius, phi, u
    # which layer (n_layers: leaked out of the back), which cell (else the layer's overflow bin)
    zs = (t + p.t0.astype(f4)[owner]) * f4(st.x0_mm)
    del t
    n_layers, n_cells = len(geometry.layers), geometry.n_voxels
    lx = np.zeros(owner.size, dtype=np.intp)
    for spec in geometry.layers:
        lx += zs >= f4(spec.z_mm[1])
    del zs
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
    cell = np.where(inside, offset + fx * ny + fy, (n_cells + lx).astype(f4)).astype(np.intp)
    del inv_x, inv_y, nx, ny, offset, fx, fy, inside, xs, ys, lx
    width = n_cells + n_layers + 1
    dep = np.bincount(owner * width + cell, energy_per_spot, minlength=nc * width).reshape(nc, width)
    dep = dep[:, : n_cells + n_layers]
    # sampling fluctuations: gamma with mean E and variance a^2 E (1 GeV)
    scale = a * a * 1000.0
    hit = dep > 0
    dep[hit] = rng.standard_gamma(dep[hit] / scale) * scale
    dep *= st.sampling_fraction
    if cfg.noise_mev > 0:
        cells = dep[:, :n_cells]
        cells += rng.normal(0.0, cfg.noise_mev, cells.shape)
        cells[cells < cfg.threshold_sigma * cfg.noise_mev] = 0.0
    return dep.astype(np.float32)


def _chunks(n_spots: np.ndarray, budget: int) -> list[tuple[int, int]]:
    """Consecutive shower ranges holding about ``budget`` spots each (at least one shower)."""
    window = (np.cumsum(n_spots) - 1) // max(int(budget), 1)   # budget window of each shower's last spot
    cuts = np.flatnonzero(np.diff(window)) + 1
    edges = [0, *cuts.tolist(), int(n_spots.size)]
    return list(zip(edges[:-1], edges[1:]))


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def simulate(particle: str, n: int, energy: float | tuple[float, float] | np.ndarray = (1.0, 100.0), seed: int = 0,
             *, geometry: CaloGANGeometry = CALOGAN, config: SimulatorConfig | None = None,
             workers: int | None = None) -> Showers:
    """Simulate ``n`` showers of ``particle`` ('eplus', 'eminus' or 'gamma').

    ``energy``: one energy (GeV), a (low, high) range drawn uniformly as in CaloGAN, or an
    array of n energies. The result depends only on the arguments, not on ``workers``.
    """
    cfg = config or SimulatorConfig()
    if particle not in PARTICLES:
        raise ConfigError(f"particle {particle!r} is not simulated; choose one of 'eplus', 'eminus', 'gamma' "
                          "(hadronic showers such as piplus are not parameterised here)")
    kind = PARTICLES[particle]
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ConfigError(f"n must be a positive whole number of showers, got {n!r}")
    n = int(n)
    a = cfg.stochastic_term if cfg.stochastic_term is not None else geometry.stack.stochastic_term
    root = np.random.SeedSequence(seed)
    shower_seed, chunk_seed = root.spawn(2)
    rng = np.random.default_rng(shower_seed)
    e = _energies(n, energy, rng)
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
            "particle": kind, "seed": int(seed) if isinstance(seed, (int, np.integer)) else str(seed)}
    return Showers.from_voxels(e, dep[:, :n_cells], geometry, overflow=dep[:, n_cells:], meta=meta)


def simulate_to_file(particle: str, n: int, out: str | Path, energy: float | tuple[float, float] = (1.0, 100.0),
                     seed: int = 0, workers: int | None = None) -> Path:
    """Simulate and write a CaloGAN-layout HDF5 file; returns its path."""
    return write_calogan(out, simulate(particle, n, energy, seed, workers=workers))
