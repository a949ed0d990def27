"""Observables on hand-made showers; separation power, FPD, KPD and the classifier AUC."""
import numpy as np
import pytest

from latentlab.calo import Showers, classifier_auc, fpd, kpd, separation_power, simulate
from latentlab.calo.observables import centres_and_widths, e_ratio, high_level_features, shower_depth, sparsity


def _one_shower(e0=0.0, e1=0.0, e2=0.0):
    layers = [np.zeros((1, 3, 96)), np.zeros((1, 12, 12)), np.zeros((1, 12, 6))]
    layers[0][0, 1, 47], layers[1][0, 5, 5], layers[2][0, 5, 2] = e0, e1, e2
    return Showers(np.array([1.0]), layers)


def test_observables_on_known_showers():
    s = _one_shower(e0=100.0, e1=300.0)
    depth, width = shower_depth(s)
    assert depth[0] == pytest.approx(0.75) and width[0] == pytest.approx(np.sqrt(0.75 - 0.75**2))
    assert sparsity(s)[0].tolist() == pytest.approx([1 / 288, 1 / 144, 0.0])
    layers = [np.zeros((1, 3, 96)), np.zeros((1, 12, 12)), np.zeros((1, 12, 6))]
    layers[1][0, 5, 5], layers[1][0, 6, 5], layers[1][0, 0, 0] = 30.0, 10.0, 1.0
    two = Showers(np.array([1.0]), layers)
    assert e_ratio(two)[0, 1] == pytest.approx(0.5) and e_ratio(two)[0, 0] == 0.0
    layers[1][0, 0, 0] = 0.0
    centres, widths = centres_and_widths(Showers(np.array([1.0]), layers))
    assert centres[0, 1].tolist() == pytest.approx([-10.0, -20.0])     # cells (5, 5) and (6, 5): x -20 and 20 mm
    assert widths[0, 1].tolist() == pytest.approx([np.sqrt(400 - 100), 0.0])   # <x^2> - <x>^2


def test_separation_power_bounds():
    x = np.random.default_rng(0).normal(size=5000)
    assert separation_power(x, x) == pytest.approx(0.0)
    assert separation_power(x, x + 100.0) == pytest.approx(1.0)
    assert 0.0 < separation_power(x, x + 0.5) < 1.0


def test_fpd_is_zero_for_same_set_and_grows_with_shift():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4000, 5)) + 3.0
    same, _ = fpd(x, x, num_batches=4, num_points=4)
    small, _ = fpd(x, x + 0.1, num_batches=4, num_points=4)
    large, _ = fpd(x, x + 0.5, num_batches=4, num_points=4)
    assert same < 1e-3 and same < small < large


def test_kpd_is_zero_for_same_distribution():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(3000, 5)) + 3.0, rng.normal(size=(3000, 5)) + 3.0
    same, err = kpd(x, y, num_batches=5, batch_size=1000)
    shifted, _ = kpd(x, y + 0.5, num_batches=5, batch_size=1000)
    assert abs(same) < 3 * err + 1e-4 and shifted > 100 * abs(same)


@pytest.fixture(scope="module")
def two_runs():
    return simulate("eplus", 600, seed=11), simulate("eplus", 600, seed=12)


def test_classifier_auc_same_simulator_is_half(two_runs):
    result = classifier_auc(*two_runs)
    assert result["auc"] == pytest.approx(0.5, abs=0.08) and result["n_test"] == 360


def test_classifier_auc_scaled_energies_is_one(two_runs):
    a, b = two_runs
    doubled = Showers(b.energy, [x * 2 for x in b.layers], b.overflow)
    assert classifier_auc(a, doubled)["auc"] > 0.97


def test_high_level_features_shape(two_runs):
    values, names = high_level_features(two_runs[0])
    assert values.shape == (600, 19) and len(names) == 19 and np.all(np.isfinite(values))
