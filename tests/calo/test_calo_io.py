"""Round trips of both HDF5 layouts and the loaders' messages for bad files."""
import h5py
import numpy as np
import pytest

from latentlab.calo import (CALOGAN, CaloChallengeGeometry, Showers, read_calochallenge, read_calogan, read_showers,
                            simulate, write_calochallenge, write_calogan)
from latentlab.errors import DataError


@pytest.fixture(scope="module")
def showers():
    return simulate("eplus", 20, energy=(1, 100), seed=3)


def _calogan_file(path, n=5, energy=None, **override):
    data = {"energy": np.linspace(1, 100, n).reshape(n, 1) if energy is None else energy,
            "layer_0": np.ones((n, 3, 96)), "layer_1": np.ones((n, 12, 12)), "layer_2": np.ones((n, 12, 6)),
            "overflow": np.zeros((n, 3))}
    data.update(override)
    with h5py.File(path, "w") as f:
        for k, v in data.items():
            if v is not None:
                f[k] = v
    return path


def test_calogan_round_trip(tmp_path, showers):
    path = write_calogan(tmp_path / "s.h5", showers)
    with h5py.File(path) as f:
        assert {k: f[k].shape for k in f} == {"energy": (20, 1), "layer_0": (20, 3, 96), "layer_1": (20, 12, 12),
                                            "layer_2": (20, 12, 6), "overflow": (20, 3)}
    back = read_calogan(path)
    np.testing.assert_allclose(back.energy, showers.energy, rtol=1e-6)
    for a, b in zip(back.layers, showers.layers):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(back.overflow, showers.overflow)
    assert read_showers(path).layers[1].shape == (20, 12, 12)


def test_calochallenge_round_trip(tmp_path, showers):
    geometry = CaloChallengeGeometry((288, 144, 72))
    path = write_calochallenge(tmp_path / "c.h5", showers)
    with h5py.File(path) as f:
        assert f["showers"].shape == (20, 504)
        np.testing.assert_allclose(f["incident_energies"][:, 0], showers.energy * 1000, rtol=1e-6)
    back = read_calochallenge(path, geometry)
    np.testing.assert_allclose(back.energy, showers.energy, rtol=1e-6)
    np.testing.assert_array_equal(back.voxels(), showers.voxels())
    assert read_showers(path, geometry).n_layers == 3


def test_calochallenge_regular_geometry_images(tmp_path):
    geometry = CaloChallengeGeometry.regular(n_layers=3, n_alpha=4, n_radial=5)
    rng = np.random.default_rng(0)
    s = Showers.from_voxels(rng.uniform(1, 10, 7), rng.exponential(1.0, (7, 60)), geometry)
    back = read_calochallenge(write_calochallenge(tmp_path / "r.h5", s), geometry)
    assert [x.shape for x in back.layers] == [(7, 4, 5)] * 3
    np.testing.assert_allclose(back.voxels(), s.voxels(), rtol=1e-6)


def test_missing_datasets_are_listed(tmp_path):
    path = _calogan_file(tmp_path / "m.h5", layer_1=None, layer_2=None)
    found = r"holds \['energy', 'layer_0', 'overflow'\]"
    with pytest.raises(DataError, match=r"missing dataset\(s\) 'layer_1', 'layer_2'.*" + found):
        read_calogan(path)


def test_calogan_file_given_to_calochallenge_reader(tmp_path):
    with pytest.raises(DataError, match="missing dataset.*'incident_energies', 'showers'.*read_calogan"):
        read_calochallenge(_calogan_file(tmp_path / "g.h5"), CaloChallengeGeometry((504,)))


def test_calochallenge_file_given_to_calogan_reader(tmp_path, showers):
    path = write_calochallenge(tmp_path / "c.h5", showers)
    with pytest.raises(DataError, match="read_calochallenge"):
        read_calogan(path)
    assert read_showers(path).geometry == CALOGAN  # latentlab's files name their geometry
    bare = tmp_path / "bare.h5"
    with h5py.File(bare, "w") as f:  # another tool's file of 504 voxels: the split into layers is unknown
        f["incident_energies"] = np.full((3, 1), 5000.0)
        f["showers"] = np.ones((3, 504))
    with pytest.raises(DataError, match="does not say how they split into layers: give the geometry"):
        read_showers(bare)


def test_wrong_layer_shape(tmp_path):
    with pytest.raises(DataError, match=r"'layer_1' has shape \(5, 12, 6\).*needs \(N, 12, 12\)"):
        read_calogan(_calogan_file(tmp_path / "w.h5", layer_1=np.ones((5, 12, 6))))
    with pytest.raises(DataError, match="transposed"):
        read_calogan(_calogan_file(tmp_path / "t.h5", layer_2=np.ones((5, 6, 12))))


def test_counts_disagree(tmp_path):
    with pytest.raises(DataError, match="disagree on the number of showers"):
        read_calogan(_calogan_file(tmp_path / "n.h5", layer_0=np.ones((4, 3, 96))))


def test_negative_and_nan_deposits(tmp_path):
    neg = np.ones((5, 12, 12))
    neg[2, 0, 0] = -3.0
    with pytest.raises(DataError, match=r"'layer_1' holds 1 negative values \(min -3 MeV, first in shower 2\)"):
        read_calogan(_calogan_file(tmp_path / "neg.h5", layer_1=neg))
    nan = np.ones((5, 3, 96))
    nan[4, 1, 2] = np.nan
    nan[4, 1, 3] = np.inf
    with pytest.raises(DataError, match=r"'layer_0' holds 2 NaN/inf values \(first in shower 4\)"):
        read_calogan(_calogan_file(tmp_path / "nan.h5", layer_0=nan))


def test_bad_incident_energies(tmp_path):
    with pytest.raises(DataError, match="incident energies must be finite and > 0.*1 zero or negative"):
        read_calogan(_calogan_file(tmp_path / "e.h5", energy=np.array([[1.0], [-2.0], [3.0], [4.0], [5.0]])))
    with pytest.raises(DataError, match="1 NaN/inf"):
        read_calogan(_calogan_file(tmp_path / "f.h5", energy=np.array([[1.0], [np.nan], [3.0], [4.0], [5.0]])))


def test_energy_unit_hints(tmp_path, showers):
    mev = _calogan_file(tmp_path / "mev.h5", energy=np.linspace(1e3, 1e5, 5).reshape(5, 1))
    with pytest.raises(DataError, match="looks like MeV.*energy_unit='MeV'"):
        read_calogan(mev)
    assert read_calogan(mev, energy_unit="MeV").energy.max() == pytest.approx(100.0)
    geometry = CaloChallengeGeometry((288, 144, 72))
    gev = tmp_path / "gev.h5"
    with h5py.File(gev, "w") as f:
        f["incident_energies"] = showers.energy.reshape(-1, 1)
        f["showers"] = showers.voxels()
    with pytest.raises(DataError, match="looks like GeV.*energy_unit='GeV'"):
        read_calochallenge(gev, geometry)
    assert read_calochallenge(gev, geometry, energy_unit="GeV").energy == pytest.approx(showers.energy)


def test_calochallenge_voxel_count_mismatch(tmp_path):
    path = tmp_path / "ds1.h5"
    with h5py.File(path, "w") as f:
        f["incident_energies"] = np.full((3, 1), 5000.0)
        f["showers"] = np.ones((3, 368))
    with pytest.raises(DataError, match="368 voxels per shower.*has 6480.*dataset 1 photons"):
        read_calochallenge(path, CaloChallengeGeometry.dataset(2))


def test_not_a_file_or_not_hdf5(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_calogan(tmp_path / "absent.h5")
    junk = tmp_path / "junk.h5"
    junk.write_text("hello")
    with pytest.raises(DataError, match="not a readable HDF5 file"):
        read_calogan(junk)


def test_showers_checks_shapes_and_values():
    with pytest.raises(DataError, match=r"layer 1 has shape \(2, 12, 6\)"):
        Showers(np.ones(2), [np.zeros((2, 3, 96)), np.zeros((2, 12, 6)), np.zeros((2, 12, 6))])
    with pytest.raises(DataError, match="negative"):
        Showers(np.ones(2), [-np.ones((2, 3, 96)), np.zeros((2, 12, 12)), np.zeros((2, 12, 6))])
    with pytest.raises(DataError, match="CaloGAN layout needs"):
        write_calogan("unused.h5", Showers.from_voxels(np.ones(2), np.zeros((2, 10)), CaloChallengeGeometry((10,))))
    assert CALOGAN.layer_depths_x0 == pytest.approx((5.77, 22.25, 2.76), abs=0.01)


def test_ds2_round_trip_and_default_geometry(tmp_path):
    from latentlab.calo.geometry import from_spec, geometry_spec
    ds2 = CaloChallengeGeometry.dataset(2)
    assert from_spec(geometry_spec(ds2)) == ds2 and ds2.r_edges_mm[0][-1] == 41.85 and ds2.z_edges_mm[-1] == 153.0
    s = simulate("eminus", 10, energy=(1.0, 30.0), geometry=ds2, seed=2)
    path = write_calochallenge(tmp_path / "ds2.h5", s)
    with h5py.File(path) as f:
        assert {k: f[k].shape for k in f} == {"incident_energies": (10, 1), "showers": (10, 6480)}
        np.testing.assert_allclose(f["incident_energies"][:, 0], s.energy * 1000, rtol=1e-6)  # MeV
    back = read_showers(path)
    assert back.geometry == ds2 and [x.shape for x in back.layers] == [(10, 16, 9)] * 45
    np.testing.assert_array_equal(back.voxels(), s.voxels().astype(np.float32))
    bare = tmp_path / "bare.h5"  # the challenge's own files carry no attributes: 6480 voxels are dataset 2
    with h5py.File(bare, "w") as f:
        f["incident_energies"] = s.energy.reshape(-1, 1) * 1000
        f["showers"] = s.voxels()
    assert read_showers(bare).geometry == ds2 and read_calochallenge(bare).geometry == ds2
    # angular bins start at alpha = -pi, as in the challenge's code: bin 0's centre lies at x < 0, y < 0
    x, y = ds2.coordinates(0)[0]
    assert x < 0 and y < 0 and np.hypot(x, y) == pytest.approx(4.65 / 2)
