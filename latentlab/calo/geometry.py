"""Calorimeter geometries: CaloGAN's three layers and a user-described CaloChallenge one.

A geometry tells the rest of ``latentlab.calo`` how many layers there are, the array shape
of each layer's image, and where each cell sits in the plane transverse to the particle
(``coordinates(layer)``: cell centres, used for centres of energy and lateral widths).

CaloGAN (M. Paganini, L. de Oliveira, B. Nachman, arXiv:1705.02355 and 1712.10321; the
Geant4 code at github.com/hep-lbdl/CaloGAN): a 480 mm cube of 2 mm lead + 4 mm liquid argon
layers, read out in three longitudinal layers 90, 347 and 43 mm deep. Every layer spans
-240..240 mm on both transverse axes; the particle enters at the centre, (0, 0). Cells, as
(array axis 0 x array axis 1) in mm:

    layer_0: 3 x 96 cells of 160 x 5 mm      (z   0 ..  90 mm)
    layer_1: 12 x 12 cells of 40 x 40 mm     (z  90 .. 437 mm)
    layer_2: 12 x 6 cells of 40 x 80 mm      (z 437 .. 480 mm)

With the effective radiation length of the lead/argon stack (15.6 mm, see ``materials``)
the layers are 5.8, 22.3 and 2.8 X0 deep (30.8 X0 in all).

CaloChallenge 2022 (arXiv:2410.21611): showers are flat vectors of voxels, layer after
layer; within a layer the voxels run angular-bin-major, radial-bin-minor (dataset 2:
45 layers x 16 angular x 9 radial bins = 6480 voxels). The user states the voxels per
layer (and optionally the angular bins per layer, to get (alpha, r) images).

The presets for datasets 2 and 3 carry the challenge's binning files (binning_dataset_2.xml,
binning_dataset_3.xml) and its detector (Geant4's Par04 example, see ``materials``), so the
simulator can fill them:

    dataset 2: 45 layers of 3.4 mm (z 0..153 mm); 16 angular bins; 9 radial bins with edges
               0, 4.65, 9.3, 13.95, 18.6, 23.25, 27.9, 32.55, 37.2, 41.85 mm (0.5 R_M of tungsten)
    dataset 3: the same layers; 50 angular bins; 18 radial bins of 2.325 mm (0 .. 41.85 mm)

Angular bin k of n spans alpha in [-pi + 2 pi k / n, -pi + 2 pi (k + 1) / n), and a voxel sits
at x = r cos(alpha), y = r sin(alpha) (r, alpha: the bin centres), as in the challenge's
HighLevelFeatures code.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from latentlab.calo.materials import CALOCHALLENGE_STACK, CALOGAN_STACK, SamplingStack
from latentlab.errors import ConfigError


class LayeredGeometry:
    """What every geometry offers; subclasses define ``layer_shapes`` and ``coordinates``."""

    name: str = "geometry"
    coordinate_unit: str = "mm"

    @property
    def layer_shapes(self) -> tuple[tuple[int, ...], ...]:  # pragma: no cover - abstract
        raise NotImplementedError

    def coordinates(self, layer: int) -> np.ndarray:  # pragma: no cover - abstract
        """(voxels in layer, 2) transverse centres (x, y), in the order of the flattened layer."""
        raise NotImplementedError

    @property
    def n_layers(self) -> int:
        return len(self.layer_shapes)

    @property
    def voxels_per_layer(self) -> tuple[int, ...]:
        return tuple(int(np.prod(s)) for s in self.layer_shapes)

    @property
    def n_voxels(self) -> int:
        return sum(self.voxels_per_layer)

    def describe(self) -> str:
        shapes = ", ".join(f"layer {i}: {s}" for i, s in enumerate(self.layer_shapes))
        return f"{self.name} geometry ({self.n_layers} layers; {shapes}; {self.n_voxels} voxels)"


@dataclass(frozen=True)
class CellLayer:
    """A rectangular layer: cells per axis, cell size per axis (mm), front and back depth (mm)."""

    shape: tuple[int, int]
    cell_mm: tuple[float, float]
    z_mm: tuple[float, float]

    @property
    def extent_mm(self) -> tuple[float, float]:
        return self.shape[0] * self.cell_mm[0], self.shape[1] * self.cell_mm[1]


CALOGAN_LAYERS = (
    CellLayer(shape=(3, 96), cell_mm=(160.0, 5.0), z_mm=(0.0, 90.0)),
    CellLayer(shape=(12, 12), cell_mm=(40.0, 40.0), z_mm=(90.0, 437.0)),
    CellLayer(shape=(12, 6), cell_mm=(40.0, 80.0), z_mm=(437.0, 480.0)),
)


@dataclass(frozen=True)
class CaloGANGeometry(LayeredGeometry):
    """Rectangular-cell layers behind one another, centred on the particle's entry point."""

    layers: tuple[CellLayer, ...] = CALOGAN_LAYERS
    stack: SamplingStack = CALOGAN_STACK
    name: str = "calogan"

    def __post_init__(self) -> None:
        for prev, nxt in zip(self.layers, self.layers[1:]):
            if not math.isclose(prev.z_mm[1], nxt.z_mm[0]):
                raise ConfigError(f"layers must touch: one ends at z={prev.z_mm[1]} mm, the next starts at "
                                  f"z={nxt.z_mm[0]} mm; give contiguous z ranges")

    @property
    def layer_shapes(self) -> tuple[tuple[int, ...], ...]:
        return tuple(layer.shape for layer in self.layers)

    @property
    def depth_mm(self) -> float:
        return self.layers[-1].z_mm[1] - self.layers[0].z_mm[0]

    @property
    def layer_depths_x0(self) -> tuple[float, ...]:
        """Thickness of each layer in effective radiation lengths of the sampling stack."""
        return tuple((layer.z_mm[1] - layer.z_mm[0]) / self.stack.x0_mm for layer in self.layers)

    def axis_centres(self, layer: int) -> tuple[np.ndarray, np.ndarray]:
        """Cell centres (mm) along array axis 0 and axis 1 of one layer."""
        spec = self.layers[layer]
        out = []
        for n, size in zip(spec.shape, spec.cell_mm):
            out.append((np.arange(n) + 0.5) * size - n * size / 2.0)
        return out[0], out[1]

    def coordinates(self, layer: int) -> np.ndarray:
        cx, cy = self.axis_centres(layer)
        gx, gy = np.meshgrid(cx, cy, indexing="ij")
        return np.stack([gx.ravel(), gy.ravel()], axis=1)


CALOGAN = CaloGANGeometry()


# CaloChallenge datasets 2 and 3: 45 readout layers of 3.4 mm and radial bins of 4.65 / 2.325 mm (the binning files).
CALOCHALLENGE_LAYERS = 45
CALOCHALLENGE_LAYER_MM = 3.4
CALOCHALLENGE_BINS = {2: (16, 9, 4.65), 3: (50, 18, 2.325)}   # dataset: (angular bins, radial bins, radial bin mm)


@dataclass(frozen=True)
class CaloChallengeGeometry(LayeredGeometry):
    """Voxels per layer, optionally split into (angular, radial) bins.

    ``n_alpha[i]`` angular bins in layer ``i`` make its image (n_alpha, voxels / n_alpha);
    ``r_edges_mm[i]`` (radial bin edges) put coordinates in mm, otherwise radii are in
    units of radial bins. Without ``n_alpha`` the layers stay flat vectors. ``z_edges_mm``
    (the layers' boundaries along the axis, n_layers + 1 values) and ``stack`` (the
    material) complete the description for the simulator.
    """

    layer_voxels: tuple[int, ...]
    n_alpha: tuple[int, ...] | None = None
    r_edges_mm: tuple[tuple[float, ...], ...] | None = None
    name: str = "calochallenge"
    z_edges_mm: tuple[float, ...] | None = None
    stack: SamplingStack | None = None

    def __post_init__(self) -> None:
        v = tuple(int(x) for x in self.layer_voxels)
        if not v or min(v) <= 0:
            raise ConfigError(f"voxels per layer must be positive integers, got {self.layer_voxels}; "
                              "give e.g. (144,) * 45 for CaloChallenge dataset 2")
        object.__setattr__(self, "layer_voxels", v)
        if self.n_alpha is not None:
            a = tuple(int(x) for x in self.n_alpha)
            if len(a) != len(v) or any(k <= 0 or n % k for k, n in zip(a, v)):
                raise ConfigError(f"n_alpha {self.n_alpha} must give, for each of the {len(v)} layers, a positive "
                                  f"number of angular bins that divides that layer's voxel count {v}")
            object.__setattr__(self, "n_alpha", a)
        if self.r_edges_mm is not None:
            if self.n_alpha is None or len(self.r_edges_mm) != len(v):
                raise ConfigError("r_edges_mm needs n_alpha and one list of radial edges per layer")
            r_edges = tuple(tuple(float(x) for x in edges) for edges in self.r_edges_mm)
            for i, edges in enumerate(r_edges):
                if len(edges) != v[i] // self.n_alpha[i] + 1:
                    raise ConfigError(f"layer {i} has {v[i] // self.n_alpha[i]} radial bins, so it needs "
                                      f"{v[i] // self.n_alpha[i] + 1} radial edges, got {len(edges)}")
                if edges[0] < 0 or any(b <= a for a, b in zip(edges, edges[1:])):
                    raise ConfigError(f"layer {i}: radial edges must start at >= 0 mm and increase, got {edges}")
            object.__setattr__(self, "r_edges_mm", r_edges)
        if self.z_edges_mm is not None:
            z = tuple(float(x) for x in self.z_edges_mm)
            if len(z) != len(v) + 1 or any(b <= a for a, b in zip(z, z[1:])):
                raise ConfigError(f"z_edges_mm needs {len(v) + 1} increasing values (the boundaries of {len(v)} "
                                  f"layers along the axis, mm), got {len(z)}")
            object.__setattr__(self, "z_edges_mm", z)

    @classmethod
    def regular(cls, n_layers: int, n_alpha: int, n_radial: int, name: str = "calochallenge") -> CaloChallengeGeometry:
        """Every layer has n_alpha x n_radial voxels (CaloChallenge datasets 2 and 3)."""
        return cls((n_alpha * n_radial,) * n_layers, (n_alpha,) * n_layers, name=name)

    @classmethod
    def dataset(cls, number: int) -> CaloChallengeGeometry:
        """CaloChallenge dataset 2 (45 x 16 x 9) or 3 (45 x 50 x 18), with the binning files' radial edges,
        the 3.4 mm layers and the tungsten/silicon stack; dataset 1 is irregular: state it."""
        if number in CALOCHALLENGE_BINS:
            n_alpha, n_r, dr = CALOCHALLENGE_BINS[number]
            edges = tuple(round(dr * k, 6) for k in range(n_r + 1))
            n = CALOCHALLENGE_LAYERS
            return cls((n_alpha * n_r,) * n, (n_alpha,) * n, (edges,) * n, name=f"calochallenge-ds{number}",
                       z_edges_mm=tuple(round(CALOCHALLENGE_LAYER_MM * k, 6) for k in range(n + 1)),
                       stack=CALOCHALLENGE_STACK)
        raise ConfigError(f"no preset for CaloChallenge dataset {number}; presets are 2 and 3. For dataset 1 "
                          "give its voxels per layer, e.g. CaloChallengeGeometry((8, 160, 190, 5, 5)) for photons")

    @property
    def layer_shapes(self) -> tuple[tuple[int, ...], ...]:
        if self.n_alpha is None:
            return tuple((n,) for n in self.layer_voxels)
        return tuple((a, n // a) for a, n in zip(self.n_alpha, self.layer_voxels))

    @property
    def simulatable(self) -> bool:
        """Whether the simulator can fill it: radial edges, layer boundaries and material are all known."""
        return self.r_edges_mm is not None and self.z_edges_mm is not None and self.stack is not None

    @property
    def layer_depths_x0(self) -> tuple[float, ...]:
        """Thickness of each layer in effective radiation lengths (needs z_edges_mm and stack)."""
        if self.z_edges_mm is None or self.stack is None:
            raise ConfigError(f"the {self.name} geometry does not state its layer depths and material")
        z = self.z_edges_mm
        return tuple((b - a) / self.stack.x0_mm for a, b in zip(z, z[1:]))

    @property
    def coordinate_unit(self) -> str:  # type: ignore[override]
        if self.r_edges_mm is not None:
            return "mm"
        return "radial bins" if self.n_alpha is not None else "voxel index"

    def coordinates(self, layer: int) -> np.ndarray:
        n = self.layer_voxels[layer]
        if self.n_alpha is None:
            return np.stack([np.arange(n, dtype=float), np.zeros(n)], axis=1)
        n_a = self.n_alpha[layer]
        n_r = n // n_a
        if self.r_edges_mm is not None:
            edges = np.asarray(self.r_edges_mm[layer], dtype=float)
            r = 0.5 * (edges[1:] + edges[:-1])
        else:
            r = np.arange(n_r) + 0.5
        alpha = -np.pi + 2.0 * np.pi * (np.arange(n_a) + 0.5) / n_a  # bin centres, bins from -pi (module doc)
        ga, gr = np.meshgrid(alpha, r, indexing="ij")
        if n_a == 1:  # no angular information: put the energy on the x axis at its radius
            ga = np.zeros_like(ga)
        return np.stack([(gr * np.cos(ga)).ravel(), (gr * np.sin(ga)).ravel()], axis=1)


def geometry_spec(geometry: LayeredGeometry) -> str:
    """A short string that ``from_spec`` turns back into the geometry (stored in a shower model's config):
    "calogan", "calochallenge-ds2", "calochallenge-ds3", or "calochallenge:<voxels per layer>[/<angular bins>]"."""
    if geometry == CALOGAN:
        return "calogan"
    if isinstance(geometry, CaloChallengeGeometry):
        for number in (2, 3):
            if geometry == CaloChallengeGeometry.dataset(number):
                return f"calochallenge-ds{number}"
        spec = "calochallenge:" + ",".join(str(v) for v in geometry.layer_voxels)
        if geometry.n_alpha is not None:
            spec += "/" + ",".join(str(a) for a in geometry.n_alpha)
        return spec
    raise ConfigError(f"the {geometry.name} geometry has no spec string; shower models know CaloGAN and "
                      "CaloChallenge geometries")


def from_spec(spec: str) -> LayeredGeometry:
    """The geometry named by ``geometry_spec``'s string."""
    if spec == "calogan":
        return CALOGAN
    if spec.startswith("calochallenge-ds") and spec[len("calochallenge-ds"):].isdigit():
        return CaloChallengeGeometry.dataset(int(spec[len("calochallenge-ds"):]))
    if spec.startswith("calochallenge:"):
        body = spec[len("calochallenge:"):]
        voxels, _, alpha = body.partition("/")
        try:
            v = tuple(int(x) for x in voxels.split(","))
            a = tuple(int(x) for x in alpha.split(",")) if alpha else None
        except ValueError:
            v = ()
        if v:
            return CaloChallengeGeometry(v, a)
    raise ConfigError(f"unknown geometry {spec!r}; use calogan, calochallenge-ds2, calochallenge-ds3 or "
                      "calochallenge:<voxels per layer, comma-separated>[/<angular bins per layer>]")
