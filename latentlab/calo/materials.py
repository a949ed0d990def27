"""Materials of a sampling calorimeter and the effective medium that a shower sees.

A sampling calorimeter alternates a passive absorber (lead, tungsten) with an active medium
(liquid argon, silicon). Grindhammer and Peters parameterise a shower in such a stack as a
shower in one effective material whose properties are mass-weighted averages of the two
(G. Grindhammer, S. Peters, "The parameterized simulation of electromagnetic showers in
homogeneous and sampling calorimeters", hep-ex/0001020, on sampling calorimeters):

    w_i        = rho_i d_i / sum_j rho_j d_j                         (mass fractions)
    Z_eff      = sum_i w_i Z_i,          A_eff = sum_i w_i A_i
    1/X0_eff   = sum_i w_i / X0_i                                    (X0 in g/cm^2)
    E_c,i      = 2.66 (X0_i Z_i / A_i)^1.1 MeV                       (X0 in g/cm^2)
    E_c,eff    = X0_eff sum_i w_i E_c,i / X0_i
    R_M,eff    = E_s / (sum_i w_i E_c,i / X0_i),   E_s = 21.2 MeV
    F_S        = X0_eff / (d_passive + d_active)                     (sampling frequency)
    e_hat      = 1 / (1 + 0.007 (Z_passive - Z_active))              (e/mip ratio)

The fraction of a shower's energy seen by the active medium ("sampling fraction") is
``e_hat * f_mip`` where ``f_mip`` is the share of a minimum-ionising particle's energy loss
in the active layers, and the stochastic resolution term follows the rule of thumb
``a = 2.7% * sqrt(d_active[mm] / f_mip)`` (C. W. Fabjan, F. Gianotti, "Calorimetry for
particle physics", Rev. Mod. Phys. 75 (2003) 1243, on sampling fluctuations).

Material constants are the PDG's "Atomic and nuclear properties of materials"; the liquid
argon density 1.390 g/cm^3 is the value CaloGAN's Geant4 detector used.

The two stacks (values from the rules above, rounded):

    CaloGAN       2 mm Pb + 4 mm lAr:    Z_eff 69.4, X0 15.6 mm, E_c 8.96 MeV, R_M 36.9 mm,
                  sampling fraction 0.172, a = 10.8%
    CaloChallenge 1.4 mm W + 0.3 mm Si:  Z_eff 72.5, X0 4.22 mm, E_c 8.23 MeV, R_M 10.9 mm,
                  sampling fraction 0.0255, a = 7.8%

The CaloChallenge stack is the detector that made datasets 2 and 3 (arXiv:2410.21611):
Geant4's Par04 example, a cylinder of 90 layers, each 1.4 mm tungsten + 0.3 mm silicon,
read out in 45 layers of 3.4 mm (two W/Si pairs, 0.8 X0 each, 36 X0 in all). Its voxel
energies are the silicon deposits, so the sampling fraction is the silicon's share. The
stochastic term of the rule of thumb is what this module assumes, not a measurement: SiW
test-beam prototypes with thicker tungsten measure about 17% / sqrt(E).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

MOLIERE_SCALE_MEV = 21.2  # E_s in R_M = X0 E_s / E_c (hep-ex/0001020)


@dataclass(frozen=True)
class Material:
    """One material: atomic number, mass number, density (g/cm^3), X0 (g/cm^2), mip dE/dx (MeV cm^2/g)."""

    name: str
    z: float
    a: float
    density: float
    x0_gcm2: float
    dedx_mip: float

    @property
    def x0_mm(self) -> float:
        """Radiation length as a length in mm."""
        return 10.0 * self.x0_gcm2 / self.density

    @property
    def critical_energy_mev(self) -> float:
        """E_c = 2.66 (X0 Z / A)^1.1 MeV, X0 in g/cm^2 (hep-ex/0001020)."""
        return 2.66 * (self.x0_gcm2 * self.z / self.a) ** 1.1


LEAD = Material("Pb", z=82.0, a=207.2, density=11.35, x0_gcm2=6.37, dedx_mip=1.122)
LIQUID_ARGON = Material("lAr", z=18.0, a=39.948, density=1.390, x0_gcm2=19.55, dedx_mip=1.519)
TUNGSTEN = Material("W", z=74.0, a=183.84, density=19.30, x0_gcm2=6.76, dedx_mip=1.145)
SILICON = Material("Si", z=14.0, a=28.0855, density=2.329, x0_gcm2=21.82, dedx_mip=1.664)


@dataclass(frozen=True)
class SamplingStack:
    """A repeated (passive, active) pair of layers with thicknesses in mm."""

    passive: Material
    active: Material
    d_passive_mm: float
    d_active_mm: float

    @property
    def _mass(self) -> tuple[float, float]:
        return self.passive.density * self.d_passive_mm, self.active.density * self.d_active_mm

    @property
    def weights(self) -> tuple[float, float]:
        """Mass fractions w_i of (passive, active)."""
        mp, ma = self._mass
        return mp / (mp + ma), ma / (mp + ma)

    @property
    def z_eff(self) -> float:
        wp, wa = self.weights
        return wp * self.passive.z + wa * self.active.z

    @property
    def a_eff(self) -> float:
        wp, wa = self.weights
        return wp * self.passive.a + wa * self.active.a

    @property
    def density_eff(self) -> float:
        mp, ma = self._mass
        return (mp + ma) / (self.d_passive_mm + self.d_active_mm)

    @property
    def x0_gcm2(self) -> float:
        wp, wa = self.weights
        return 1.0 / (wp / self.passive.x0_gcm2 + wa / self.active.x0_gcm2)

    @property
    def x0_mm(self) -> float:
        """Effective radiation length in mm of the stack."""
        return 10.0 * self.x0_gcm2 / self.density_eff

    @property
    def _ec_over_x0(self) -> float:
        wp, wa = self.weights
        return (wp * self.passive.critical_energy_mev / self.passive.x0_gcm2
                + wa * self.active.critical_energy_mev / self.active.x0_gcm2)

    @property
    def critical_energy_mev(self) -> float:
        return self.x0_gcm2 * self._ec_over_x0

    @property
    def moliere_radius_mm(self) -> float:
        return 10.0 * (MOLIERE_SCALE_MEV / self._ec_over_x0) / self.density_eff

    @property
    def sampling_frequency(self) -> float:
        """F_S = X0_eff / (d_passive + d_active)."""
        return self.x0_mm / (self.d_passive_mm + self.d_active_mm)

    @property
    def e_hat(self) -> float:
        """e/mip = 1 / (1 + 0.007 (Z_passive - Z_active))."""
        return 1.0 / (1.0 + 0.007 * (self.passive.z - self.active.z))

    @property
    def mip_fraction(self) -> float:
        """Share of a mip's energy loss deposited in the active layers."""
        la = self.active.dedx_mip * self.active.density * self.d_active_mm
        lp = self.passive.dedx_mip * self.passive.density * self.d_passive_mm
        return la / (la + lp)

    @property
    def sampling_fraction(self) -> float:
        """Visible (active) energy over the shower energy: e_hat * f_mip."""
        return self.e_hat * self.mip_fraction

    @property
    def stochastic_term(self) -> float:
        """a in sigma/E = a / sqrt(E[GeV]): 2.7% sqrt(d_active[mm] / f_mip) (Fabjan & Gianotti 2003)."""
        return 0.027 * math.sqrt(self.d_active_mm / self.mip_fraction)


# CaloGAN's Geant4 calorimeter: 2 mm lead + 4 mm liquid argon, repeated 80 times (480 mm).
CALOGAN_STACK = SamplingStack(LEAD, LIQUID_ARGON, d_passive_mm=2.0, d_active_mm=4.0)
# CaloChallenge datasets 2 and 3 (Geant4 Par04): 1.4 mm tungsten + 0.3 mm silicon, repeated 90 times (153 mm).
CALOCHALLENGE_STACK = SamplingStack(TUNGSTEN, SILICON, d_passive_mm=1.4, d_active_mm=0.3)
