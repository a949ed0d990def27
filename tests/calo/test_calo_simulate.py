"""The Grindhammer-Peters simulator: shapes, energy scale, depth, photons, determinism, bad input; the same for
CaloChallenge dataset 2 (cylindrical bins, 1 GeV - 1 TeV)."""
import warnings

import numpy as np
import pytest

from latentlab.calo import CaloChallengeGeometry, read_calogan, read_showers, simulate, simulate_to_file
from latentlab.calo.materials import CALOCHALLENGE_STACK, CALOGAN_STACK
from latentlab.calo.observables import layer_energies, shower_depth, total_energy
from latentlab.errors import ConfigError


def test_shapes_and_values():
    s = simulate("eplus", 50, seed=1)
    assert len(s) == 50 and s.energy.shape == (50,)
    assert [x.shape for x in s.layers] == [(50, 3, 96), (50, 12, 12), (50, 12, 6)]
    assert s.overflow.shape == (50, 3)
    assert all(np.all(x >= 0) and np.all(np.isfinite(x)) for x in [*s.layers, s.overflow])
    assert 1 <= s.energy.min() and s.energy.max() <= 100
    assert s.meta["particle"] == "eplus"


def test_total_energy_is_linear_in_incident_energy():
    energies = np.repeat([5.0, 20.0, 80.0], 100)
    s = simulate("eplus", energies.size, energy=energies, seed=2)
    ratio = total_energy(s) / (energies * 1000.0)
    means = [ratio[energies == e].mean() for e in (5.0, 20.0, 80.0)]
    assert max(means) - min(means) < 0.02 * np.mean(means)                        # linear response
    assert np.mean(means) == pytest.approx(CALOGAN_STACK.sampling_fraction, rel=0.05)  # ~0.17 in the argon
    spread = ratio[energies == 20.0].std() / means[1]
    assert spread == pytest.approx(CALOGAN_STACK.stochastic_term / np.sqrt(20.0), rel=0.3)  # ~10.8%/sqrt(E)


def test_shower_depth_grows_with_log_energy():
    depths = [shower_depth(simulate("eplus", 200, energy=e, seed=3))[0].mean() for e in (2.0, 10.0, 50.0)]
    assert depths[0] < depths[1] < depths[2]


def test_photons_shower_deeper_than_positrons():
    e = simulate("eplus", 300, energy=20.0, seed=4)
    g = simulate("gamma", 300, energy=20.0, seed=4)
    assert shower_depth(g)[0].mean() > shower_depth(e)[0].mean() + 0.03
    assert layer_energies(g)[:, 0].mean() < 0.8 * layer_energies(e)[:, 0].mean()


def test_deterministic_with_seed_and_independent_of_threads():
    a = simulate("gamma", 40, seed=7, workers=1)
    b = simulate("gamma", 40, seed=7, workers=2)
    c = simulate("gamma", 40, seed=8)
    np.testing.assert_array_equal(a.voxels(), b.voxels())
    np.testing.assert_array_equal(a.energy, b.energy)
    assert not np.array_equal(a.voxels(), c.voxels())


def test_bad_arguments():
    with pytest.raises(ConfigError, match="piplus.*not simulated"):
        simulate("piplus", 10)
    with pytest.raises(ConfigError, match="positive whole number"):
        simulate("eplus", 0)
    with pytest.raises(ConfigError, match=">= 0.1 GeV"):
        simulate("eplus", 3, energy=0.01)
    with pytest.raises(ConfigError, match="one energy per shower"):
        simulate("eplus", 3, energy=np.ones(2))
    with pytest.warns(UserWarning, match="1-100 GeV"):
        simulate("eplus", 2, energy=300.0)


def test_simulate_to_file(tmp_path):
    path = simulate_to_file("gamma", 30, tmp_path / "out" / "g.h5", energy=(10, 20), seed=5)
    s = read_calogan(path)
    assert len(s) == 30 and 10 <= s.energy.min() and s.energy.max() <= 20


# ---------------------------------------------------------------- CaloChallenge dataset 2

DS2 = CaloChallengeGeometry.dataset(2)


def test_ds2_shapes_energies_and_no_warning_in_its_own_range():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 1 GeV - 1 TeV is the dataset's range: a note in meta, no warning
        s = simulate("eminus", 150, geometry=DS2, seed=1)
    assert s.voxels().shape == (150, 6480) and [x.shape for x in s.layers] == [(150, 16, 9)] * 45
    assert s.overflow.shape == (150, 45) and np.all(s.voxels() >= 0)
    assert s.meta["geometry"] == "calochallenge-ds2" and "log-uniform 1-1000 GeV" in s.meta["energy_distribution"]
    assert "fitted on" in s.meta["extrapolated"]
    assert 1 <= s.energy.min() and s.energy.max() <= 1000
    decades = np.log10(s.energy)
    assert 0.2 < np.mean(decades < 1) < 0.47 and 0.2 < np.mean(decades > 2) < 0.47  # log-uniform: a third per decade
    cells = s.voxels()
    assert cells[cells > 0].min() >= 0.01515  # the 15.15 keV readout threshold
    with pytest.warns(UserWarning, match="1-100 GeV"):
        simulate("eminus", 1, energy=2000.0, geometry=DS2)


def test_ds2_energy_scale_and_resolution():
    energies = np.repeat([5.0, 50.0], 60)
    s = simulate("eminus", energies.size, energy=energies, geometry=DS2, seed=2)
    ratio = total_energy(s) / (energies * 1000.0)
    means = [ratio[energies == e].mean() for e in (5.0, 50.0)]
    assert abs(means[0] - means[1]) < 0.02 * np.mean(means)  # linear response
    # the silicon's share of the shower (~2.6%), less the ~1% beyond the last radial edge (41.85 mm = 3.9 R_M)
    assert np.mean(means) == pytest.approx(CALOCHALLENGE_STACK.sampling_fraction, rel=0.04)
    leak = s.overflow.sum(axis=1) / (s.overflow.sum(axis=1) + total_energy(s))
    assert 0.001 < leak.mean() < 0.05
    spread = ratio[energies == 5.0].std() / means[0]
    assert spread == pytest.approx(CALOCHALLENGE_STACK.stochastic_term / np.sqrt(5.0), rel=0.3)  # ~7.8% / sqrt(E)


def test_ds2_cylindrical_binning_and_depth():
    low = simulate("eminus", 60, energy=5.0, geometry=DS2, seed=3)
    high = simulate("eminus", 20, energy=300.0, geometry=DS2, seed=3)
    images = low.voxels().reshape(-1, 45, 16, 9)
    radial = images.sum(axis=(0, 1, 2))
    assert radial[0] > 0.5 * radial.sum() and np.all(np.diff(radial) < 0)  # concentrated on the axis, falling
    angular = images.sum(axis=(0, 1, 3))
    assert np.all(np.abs(angular / angular.mean() - 1) < 0.15)  # no preferred azimuth
    profile = [x.voxels().reshape(-1, 45, 144).sum(axis=(0, 2)) for x in (low, high)]
    assert np.argmax(profile[0]) < np.argmax(profile[1])  # the maximum moves back as ln E
    assert shower_depth(low)[0].mean() + 2 < shower_depth(high)[0].mean()
    assert sum(DS2.layer_depths_x0) == pytest.approx(36.3, abs=0.1)  # 45 layers of 3.4 mm W/Si, 0.81 X0 each


def test_ds2_deterministic_per_seed():
    a = simulate("eminus", 30, energy=(1.0, 50.0), geometry=DS2, seed=7, workers=1)
    b = simulate("eminus", 30, energy=(1.0, 50.0), geometry=DS2, seed=7, workers=2)
    np.testing.assert_array_equal(a.voxels(), b.voxels())
    assert not np.array_equal(a.voxels(), simulate("eminus", 30, energy=(1.0, 50.0), geometry=DS2, seed=8).voxels())
    with pytest.raises(ConfigError, match="radial edges, layer boundaries and material"):
        simulate("eminus", 2, geometry=CaloChallengeGeometry.regular(45, 16, 9))
    with pytest.raises(ConfigError, match="'uniform' or 'log-uniform'"):
        simulate("eminus", 2, geometry=DS2, distribution="normal")


def test_ds2_simulate_to_file(tmp_path):
    path = simulate_to_file("eminus", 12, tmp_path / "ds2.h5", energy=(2.0, 20.0), geometry=DS2, seed=5)
    s = read_showers(path)  # a CaloChallenge file of 6480 voxels: dataset 2 without saying so
    assert s.geometry == DS2 and len(s) == 12 and 2 <= s.energy.min() and s.energy.max() <= 20
