"""Calorimeter showers in memory (``Showers``) and on disk (CaloGAN and CaloChallenge HDF5).

Units in memory: incident ``energy`` in GeV, cell deposits in MeV (what both file layouts
store for the cells, so CaloGAN files load without conversion).

CaloGAN layout (arXiv:1705.02355; the Mendeley data release), one file per particle:
    energy   (N, 1)      incident energy, GeV (1-100 GeV uniform in the release)
    layer_0  (N, 3, 96)  deposits, MeV
    layer_1  (N, 12, 12)
    layer_2  (N, 12, 6)
    overflow (N, 3)      energy deposited outside each layer's cells, MeV

CaloChallenge 2022 layout (arXiv:2410.21611):
    incident_energies (N, 1)       MeV
    showers           (N, voxels)  MeV, layer after layer (the geometry says how many per layer)
The file does not say its geometry. Without one stated, the readers take, in this order:
the ``geometry`` attribute latentlab writes (``geometry.geometry_spec``), the preset of the
voxel count (6480: dataset 2, 40500: dataset 3), then the ``voxels_per_layer`` attribute.

Readers check what a file holds and raise ``DataError`` naming the problem and the fix:
missing datasets (listing what was found), shapes that do not match the geometry, counts
that disagree, NaN/inf or negative values (with counts and the first shower affected), and
incident energies whose size gives away the wrong unit.
"""
from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from latentlab.calo.geometry import CALOGAN, CaloChallengeGeometry, LayeredGeometry, from_spec, geometry_spec
from latentlab.errors import DataError, LatentlabError

if TYPE_CHECKING:
    import h5py  # imported where a file is opened, so that reading this module does not load HDF5

CALOGAN_ENERGY_RANGE_GEV = (1.0, 100.0)
KNOWN_CALOCHALLENGE_VOXELS = {368: "dataset 1 photons", 533: "dataset 1 pions",
                              6480: "dataset 2 (45 x 16 x 9)", 40500: "dataset 3 (45 x 50 x 18)"}
CALOCHALLENGE_PRESETS = {6480: 2, 40500: 3}   # voxels per shower -> the dataset whose geometry a file gets by default


def _first_bad_rows(mask: np.ndarray) -> int:
    return int(np.argwhere(mask.reshape(mask.shape[0], -1).any(axis=1))[0, 0])


def check_values(name: str, values: np.ndarray, where: str = "") -> None:
    """Raise DataError if ``values`` (N, ...) hold NaN/inf or negative deposits."""
    prefix = f"{where}: " if where else ""
    bad = ~np.isfinite(values)
    problems = []
    if bad.any():
        problems.append(f"{int(bad.sum())} NaN/inf values (first in shower {_first_bad_rows(bad)})")
    neg = np.zeros(values.shape, dtype=bool)
    np.less(values, 0, out=neg, where=~bad)
    if neg.any():
        problems.append(f"{int(neg.sum())} negative values (min {float(values[neg].min()):.4g} MeV, "
                        f"first in shower {_first_bad_rows(neg)})")
    if problems:
        raise DataError(f"{prefix}{name} holds " + " and ".join(problems) + ". Deposits must be finite and >= 0 MeV: "
                        "drop the broken showers, or clip noise with np.clip(x, 0, None), before saving.")


def check_incident(energy_gev: np.ndarray, where: str = "") -> None:
    """Raise DataError unless every incident energy is finite and > 0."""
    prefix = f"{where}: " if where else ""
    bad = ~np.isfinite(energy_gev)
    nonpos = np.zeros(energy_gev.shape, dtype=bool)
    np.less_equal(energy_gev, 0, out=nonpos, where=~bad)
    if bad.any() or nonpos.any():
        first = int(np.argwhere(bad | nonpos)[0, 0])
        raise DataError(f"{prefix}incident energies must be finite and > 0: found {int(bad.sum())} NaN/inf and "
                        f"{int(nonpos.sum())} zero or negative (first at shower {first}). Remove those showers.")


@dataclass
class Showers:
    """N showers: incident energies (GeV), per-layer deposits (MeV), optional overflow (MeV)."""

    energy: np.ndarray
    layers: list[np.ndarray]
    overflow: np.ndarray | None = None
    geometry: LayeredGeometry = CALOGAN
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        e = np.asarray(self.energy, dtype=np.float64)
        if e.ndim == 2 and e.shape[1] == 1:
            e = e[:, 0]
        if e.ndim != 1:
            raise DataError(f"energy must have shape (N,) or (N, 1), got {e.shape}")
        self.energy = e
        n = e.shape[0]
        shapes = self.geometry.layer_shapes
        if len(self.layers) != len(shapes):
            raise DataError(f"got {len(self.layers)} layers but the {self.geometry.describe()} has {len(shapes)}")
        layers = []
        for i, (x, shape) in enumerate(zip(self.layers, shapes)):
            x = np.asarray(x)
            if x.shape != (n, *shape):
                raise DataError(f"layer {i} has shape {x.shape}; the {self.geometry.name} geometry needs (N={n}, "
                                f"{', '.join(map(str, shape))}). Reshape it or declare the right geometry.")
            layers.append(x)
        self.layers = layers
        if self.overflow is not None:
            o = np.asarray(self.overflow)
            if o.shape != (n, len(shapes)):
                raise DataError(f"overflow has shape {o.shape}; expected (N={n}, {len(shapes)}), one value per layer")
            self.overflow = o
        check_incident(self.energy)
        for i, x in enumerate(self.layers):
            check_values(f"layer {i}", x)
        if self.overflow is not None:
            check_values("overflow", self.overflow)

    def __len__(self) -> int:
        return int(self.energy.shape[0])

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    def layer_flat(self, i: int) -> np.ndarray:
        """(N, voxels in layer i) view of one layer."""
        return self.layers[i].reshape(len(self), int(np.prod(self.layers[i].shape[1:])))

    def voxels(self) -> np.ndarray:
        """(N, all voxels) deposits, layer after layer (the CaloChallenge order)."""
        return np.concatenate([self.layer_flat(i) for i in range(self.n_layers)], axis=1)

    def take(self, index: Any) -> Showers:
        """A subset of the showers (any numpy index along N)."""
        idx = np.arange(len(self))[index]
        return Showers(self.energy[idx], [x[idx] for x in self.layers],
                       None if self.overflow is None else self.overflow[idx], self.geometry, dict(self.meta))

    @classmethod
    def from_voxels(cls, energy_gev: np.ndarray, voxels: np.ndarray, geometry: LayeredGeometry,
                    overflow: np.ndarray | None = None, meta: dict[str, Any] | None = None) -> Showers:
        """Split flat (N, voxels) deposits into the geometry's layers."""
        voxels = np.asarray(voxels)
        if voxels.ndim != 2 or voxels.shape[1] != geometry.n_voxels:
            raise DataError(f"voxels have shape {voxels.shape}; the {geometry.describe()} needs (N, {geometry.n_voxels})")
        bounds = np.cumsum((0,) + geometry.voxels_per_layer)
        layers = [voxels[:, a:b].reshape((-1, *s)) for a, b, s in zip(bounds[:-1], bounds[1:], geometry.layer_shapes)]
        return cls(energy_gev, layers, overflow, geometry, dict(meta or {}))


# ---------------------------------------------------------------- HDF5 helpers

def _open(path: str | Path) -> h5py.File:
    import h5py
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file; check the path (CaloGAN and CaloChallenge files are HDF5, .h5/.hdf5)")
    try:
        return h5py.File(p, "r")
    except OSError as exc:
        raise DataError(f"{p} is not a readable HDF5 file ({exc}); give a CaloGAN or CaloChallenge .h5 file") from exc


def _dataset_names(f: h5py.File) -> list[str]:
    import h5py
    names: list[str] = []
    f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    return names


def _require(f: h5py.File, path: Path, required: list[str], layout: str, other: str) -> None:
    import h5py
    found = _dataset_names(f)
    missing = [r for r in required if r not in f or not isinstance(f[r], h5py.Dataset)]
    if missing:
        raise DataError(f"{path}: missing dataset(s) {', '.join(repr(m) for m in missing)} for the {layout} layout; "
                        f"the file holds {found or 'no datasets'}. {other}")


NUMERIC_KINDS = {"b": "booleans", "i": "integers", "u": "unsigned integers", "f": "floats"}
DTYPE_KINDS = {"S": "byte strings", "U": "strings", "O": "objects (variable-length data)", "V": "records (a compound type)",
               "c": "complex numbers", "M": "dates", "m": "time spans"}


def _read(f: h5py.File, name: str, limit: int | None) -> np.ndarray:
    """A dataset as a numeric array, checked before it is read: a dataset of strings, records or any other
    non-numeric type is a DataError naming it and its dtype (numpy would fail later, on the arithmetic)."""
    ds = f[name]
    if ds.ndim == 0:
        raise DataError(f"{f.filename}: dataset '{name}' is a single number; it needs one row per shower")
    kind = ds.dtype.kind
    if kind not in NUMERIC_KINDS:
        raise DataError(f"{f.filename}: dataset '{name}' holds {DTYPE_KINDS.get(kind, 'values')} (dtype {ds.dtype}), not "
                        f"numbers; deposits and energies must be float or integer arrays: write it again with "
                        f"f.create_dataset('{name}', data=np.asarray(values, dtype='float32'))")
    try:
        return ds[()] if limit is None else ds[:limit]
    except (OSError, TypeError, ValueError) as exc:
        raise DataError(f"{f.filename}: dataset '{name}' cannot be read ({exc}); the file is damaged or was cut short: "
                        "write it again") from exc


def _atomic_h5(path: str | Path, write: Any) -> Path:
    import h5py
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _incident(raw: np.ndarray, path: Path, name: str) -> np.ndarray:
    e = np.asarray(raw, dtype=np.float64)
    if e.ndim == 2 and e.shape[1] == 1:
        e = e[:, 0]
    if e.ndim != 1:
        raise DataError(f"{path}: dataset '{name}' has shape {raw.shape}; expected (N, 1) incident energies")
    return e


def _same_count(path: Path, counts: dict[str, int]) -> None:
    if len(set(counts.values())) > 1:
        listing = ", ".join(f"'{k}': {v}" for k, v in counts.items())
        raise DataError(f"{path}: datasets disagree on the number of showers ({listing}); "
                        "every dataset needs one row per shower")


def _warn_energy_balance(showers: Showers, path: Path) -> None:
    """Deposits far above the incident energy give away mixed units."""
    if len(showers) == 0:
        return
    ratio = showers.voxels().sum(axis=1) / (showers.energy * 1000.0)
    med = float(np.median(ratio))
    if med > 2.0:
        warnings.warn(f"{path}: the cells hold {med:.3g} times the incident energy (median over showers); units are "
                      "probably mixed: cells must be MeV, CaloGAN `energy` GeV, CaloChallenge `incident_energies` MeV",
                      stacklevel=3)


# ---------------------------------------------------------------- CaloGAN

def read_calogan(path: str | Path, energy_unit: str = "GeV", limit: int | None = None,
                 geometry: LayeredGeometry = CALOGAN) -> Showers:
    """Read a CaloGAN file (``energy`` GeV, ``layer_0..2`` and ``overflow`` MeV) into Showers.

    ``energy_unit="MeV"`` reads a file whose ``energy`` was written in MeV; ``limit`` reads
    only the first showers.
    """
    path = Path(path)
    if energy_unit not in ("GeV", "MeV"):
        raise DataError(f"energy_unit must be 'GeV' or 'MeV', got {energy_unit!r}")
    layer_names = [f"layer_{i}" for i in range(geometry.n_layers)]
    with _open(path) as f:
        _require(f, path, ["energy", *layer_names], "CaloGAN",
                 "If this is a CaloChallenge file (incident_energies, showers) read it with read_calochallenge.")
        energy = _incident(_read(f, "energy", limit), path, "energy")
        layers = [_read(f, name, limit) for name in layer_names]
        overflow = _read(f, "overflow", limit) if "overflow" in f else None
    counts = {"energy": len(energy), **{n: len(x) for n, x in zip(layer_names, layers)}}
    if overflow is not None:
        counts["overflow"] = len(overflow)
    _same_count(path, counts)
    for name, x, shape in zip(layer_names, layers, geometry.layer_shapes):
        if x.shape[1:] != tuple(shape):
            hint = " (it looks transposed: swap its last two axes)" if x.shape[1:] == tuple(shape)[::-1] else ""
            raise DataError(f"{path}: dataset '{name}' has shape {x.shape}; the {geometry.name} geometry needs "
                            f"(N, {', '.join(map(str, shape))}){hint}")
        check_values(f"dataset '{name}'", x, str(path))
    if overflow is not None:
        if overflow.shape[1:] != (geometry.n_layers,):
            raise DataError(f"{path}: dataset 'overflow' has shape {overflow.shape}; expected (N, {geometry.n_layers})")
        check_values("dataset 'overflow'", overflow, str(path))
    check_incident(energy, f"{path}: dataset 'energy'")
    if energy_unit == "MeV":
        energy = energy / 1000.0
    elif len(energy) and energy.max() > 1000.0:
        lo, hi = CALOGAN_ENERGY_RANGE_GEV
        raise DataError(f"{path}: dataset 'energy' reaches {energy.max():.4g}, which looks like MeV: CaloGAN stores the "
                        f"incident energy in GeV ({lo:g}-{hi:g} GeV in the published files). Divide it by 1000 or "
                        "read the file with energy_unit='MeV'.")
    showers = Showers(energy, layers, overflow, geometry, {"source": str(path), "layout": "calogan"})
    _warn_energy_balance(showers, path)
    return showers


def write_calogan(path: str | Path, showers: Showers, dtype: str = "float32") -> Path:
    """Write Showers in the CaloGAN layout (readable by CaloGAN's own code and any h5py user)."""
    if showers.geometry.layer_shapes != CALOGAN.layer_shapes:
        raise DataError(f"the CaloGAN layout needs layers {CALOGAN.layer_shapes}, these showers have the "
                        f"{showers.geometry.describe()}; write them with write_calochallenge instead")
    n = len(showers)
    overflow = showers.overflow if showers.overflow is not None else np.zeros((n, showers.n_layers))

    def write(f: h5py.File) -> None:
        f.create_dataset("energy", data=showers.energy.reshape(n, 1).astype(dtype))
        for i, x in enumerate(showers.layers):
            f.create_dataset(f"layer_{i}", data=np.asarray(x, dtype=dtype))
        f.create_dataset("overflow", data=np.asarray(overflow, dtype=dtype))
        f.attrs["units"] = "energy: GeV; layer_*, overflow: MeV"
        for k, v in showers.meta.items():
            if isinstance(v, (str, int, float)):
                f.attrs[k] = v

    return _atomic_h5(path, write)


# ---------------------------------------------------------------- CaloChallenge

def _attr_text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _file_geometry(f: h5py.File, path: Path, n_voxels: int) -> LayeredGeometry:
    """The geometry of a CaloChallenge file that states none (module docstring)."""
    if "geometry" in f.attrs:
        try:
            geometry = from_spec(_attr_text(f.attrs["geometry"]))
        except LatentlabError:
            geometry = None
        if geometry is not None and geometry.n_voxels == n_voxels:
            return geometry
    if n_voxels in CALOCHALLENGE_PRESETS:
        return CaloChallengeGeometry.dataset(CALOCHALLENGE_PRESETS[n_voxels])
    if "voxels_per_layer" in f.attrs:
        layers = tuple(int(v) for v in np.ravel(f.attrs["voxels_per_layer"]))
        if layers and sum(layers) == n_voxels and min(layers) > 0:
            return CaloChallengeGeometry(layers)
    known = KNOWN_CALOCHALLENGE_VOXELS.get(n_voxels)
    hint = f" ({n_voxels} voxels is CaloChallenge {known})" if known else ""
    raise DataError(f"{path} is a CaloChallenge file of {n_voxels} voxels per shower{hint} and does not say how they "
                    "split into layers: give the geometry, e.g. CaloChallengeGeometry((8, 160, 190, 5, 5)) for "
                    "dataset 1 photons")


def read_calochallenge(path: str | Path, geometry: LayeredGeometry | None = None, energy_unit: str = "MeV",
                       limit: int | None = None) -> Showers:
    """Read a CaloChallenge file (``incident_energies``, ``showers``, both MeV); ``geometry`` None: the file's own
    (see the module docstring: 6480 voxels are dataset 2)."""
    path = Path(path)
    if energy_unit not in ("GeV", "MeV"):
        raise DataError(f"energy_unit must be 'GeV' or 'MeV', got {energy_unit!r}")
    with _open(path) as f:
        _require(f, path, ["incident_energies", "showers"], "CaloChallenge",
                 "If this is a CaloGAN file (energy, layer_0..2) read it with read_calogan.")
        energy = _incident(_read(f, "incident_energies", limit), path, "incident_energies")
        voxels = _read(f, "showers", limit)
        if geometry is None and voxels.ndim == 2:
            geometry = _file_geometry(f, path, voxels.shape[1])
    _same_count(path, {"incident_energies": len(energy), "showers": len(voxels)})
    if voxels.ndim != 2 or geometry is None:
        raise DataError(f"{path}: dataset 'showers' has shape {voxels.shape}; expected (N, voxels)")
    if voxels.shape[1] != geometry.n_voxels:
        known = KNOWN_CALOCHALLENGE_VOXELS.get(voxels.shape[1])
        hint = f" {voxels.shape[1]} voxels is CaloChallenge {known}." if known else ""
        raise DataError(f"{path}: 'showers' has {voxels.shape[1]} voxels per shower but the declared "
                        f"{geometry.describe()} has {geometry.n_voxels}.{hint} Declare the file's geometry.")
    check_values("dataset 'showers'", voxels, str(path))
    check_incident(energy, f"{path}: dataset 'incident_energies'")
    if energy_unit == "MeV":
        if len(energy) and energy.max() < 250.0:
            raise DataError(f"{path}: 'incident_energies' are all below {energy.max():.4g}, which looks like GeV: the "
                            "CaloChallenge stores MeV (its datasets span 256 MeV - 4 TeV). Multiply by 1000 or read "
                            "the file with energy_unit='GeV'.")
        energy = energy / 1000.0
    showers = Showers.from_voxels(energy, voxels, geometry, meta={"source": str(path), "layout": "calochallenge"})
    _warn_energy_balance(showers, path)
    return showers


def write_calochallenge(path: str | Path, showers: Showers, dtype: str = "float32") -> Path:
    """Write Showers in the CaloChallenge layout: incident_energies (N, 1) and showers (N, voxels), MeV."""
    n = len(showers)

    def write(f: h5py.File) -> None:
        f.create_dataset("incident_energies", data=(showers.energy * 1000.0).reshape(n, 1).astype(dtype))
        f.create_dataset("showers", data=showers.voxels().astype(dtype))
        f.attrs["units"] = "incident_energies, showers: MeV"
        f.attrs["voxels_per_layer"] = np.asarray(showers.geometry.voxels_per_layer)
        try:
            f.attrs["geometry"] = geometry_spec(showers.geometry)
        except LatentlabError:
            pass  # a geometry without a spec string: voxels_per_layer says what can be said
        for k, v in showers.meta.items():
            if isinstance(v, (str, int, float)) and k not in f.attrs:
                f.attrs[k] = v

    return _atomic_h5(path, write)


def write_showers(path: str | Path, showers: Showers, dtype: str = "float32") -> Path:
    """Write Showers in their geometry's layout: CaloGAN's for the CaloGAN geometry, else CaloChallenge's."""
    if showers.geometry.layer_shapes == CALOGAN.layer_shapes:
        return write_calogan(path, showers, dtype)
    return write_calochallenge(path, showers, dtype)


def read_showers(path: str | Path, geometry: LayeredGeometry | None = None, limit: int | None = None) -> Showers:
    """Read either layout, recognised by its dataset names (a CaloChallenge file without ``geometry``: its own,
    see the module docstring)."""
    path = Path(path)
    with _open(path) as f:
        names = set(f.keys())
    if "showers" in names or "incident_energies" in names:
        return read_calochallenge(path, geometry, limit=limit)
    return read_calogan(path, limit=limit, geometry=geometry or CALOGAN)
