"""The Grindhammer-Peters simulator: shapes, energy scale, depth, photons, determinism, bad input."""
import numpy as np
import pytest

from latentlab.calo import read_calogan, simulate, simulate_to_file
from latentlab.calo.materials import CALOGAN_STACK
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
