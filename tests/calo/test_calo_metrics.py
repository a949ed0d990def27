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


# ---------------------------------------------------------------- CaloChallenge conventions

def test_layer_features_on_a_hand_made_calochallenge_shower():
    from latentlab.calo import CaloChallengeGeometry
    from latentlab.calo.observables import layer_features
    geo = CaloChallengeGeometry((8, 8), (4, 4), r_edges_mm=((0.0, 10.0, 30.0),) * 2)  # r centres 5 and 20 mm
    vox = np.zeros((1, 16))
    vox[0, 1], vox[0, 5] = 10.0, 30.0          # layer 0: (alpha bin 0, r bin 1) and (alpha bin 2, r bin 1)
    f = layer_features(Showers.from_voxels(np.array([1.0]), vox, geo))
    xy = geo.coordinates(0)                    # x = r cos(alpha), y = r sin(alpha) at the bin centres
    assert np.hypot(*xy[1]) == pytest.approx(20.0) and np.hypot(*xy[5]) == pytest.approx(20.0)
    mean = (10 * xy[1] + 30 * xy[5]) / 40
    width = np.sqrt((10 * xy[1] ** 2 + 30 * xy[5] ** 2) / 40 - mean**2)
    assert f["energy"][0].tolist() == [40.0, 0.0] and f["response"][0, 0] == pytest.approx(0.04)
    assert [f["centre_x"][0, 0], f["centre_y"][0, 0]] == pytest.approx(mean.tolist())
    assert [f["width_x"][0, 0], f["width_y"][0, 0]] == pytest.approx(width.tolist())
    assert abs(width[0]) == pytest.approx(2 * abs(xy[1, 0]) * np.sqrt(0.25 * 0.75))  # opposite bins, weights 1/4, 3/4
    assert f["sparsity"][0].tolist() == [0.25, 0.0] and f["centre_x"][0, 1] == 0.0   # empty layer: 0


def test_dnn_classifier_same_and_different():
    from latentlab.calo.metrics import dnn_classifier
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(800, 10)), rng.normal(size=(800, 10))
    same = dnn_classifier(a, b, hidden=64, seed=0)
    assert same["auc"] == pytest.approx(0.5, abs=0.08) and abs(same["jsd"]) < 0.1
    assert (same["n_train"], same["n_val"], same["n_test"]) == (960, 320, 320)
    far = dnn_classifier(a, b + 3.0, hidden=64, seed=0)
    assert far["auc"] > 0.99 and far["jsd"] > 0.8
    assert dnn_classifier(a, b + 3.0, hidden=64, seed=0) == far    # seeded


def test_calibration_stays_in_the_unit_interval():
    from latentlab.calo.metrics import calibrate
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500).astype(float)
    p = np.clip(0.3 * y + 0.7 * rng.random(500), 0, 1)
    out = calibrate(p, y, np.linspace(-1.0, 2.0, 50))       # beyond the validation range too
    assert np.all((out > 0) & (out < 1)) and np.all(np.diff(out) >= 0)


def test_challenge_classifiers_on_showers(two_runs):
    from latentlab.calo.metrics import challenge_classifiers, high_level_inputs, low_level_inputs
    a, b = two_runs
    assert low_level_inputs(a).shape == (600, 505) and high_level_inputs(a).shape == (600, 20)
    doubled = Showers(b.energy, [x * 2 for x in b.layers], b.overflow)
    result = challenge_classifiers(a, doubled, max_per_class=300, seed=1)
    assert result["dnn_low_level"]["auc"] > 0.95 and result["dnn_high_level"]["auc"] > 0.95


def test_kpd_uses_jetnets_degree_4_kernel():
    from latentlab.calo.metrics import mmd2_unbiased
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(5, 3))
    k = lambda p, q: (p @ q.T / 3 + 1.0) ** 4   # noqa: E731
    kxx, kyy = k(x, x), k(y, y)
    expected = ((kxx.sum() - np.trace(kxx)) / 30 + (kyy.sum() - np.trace(kyy)) / 20 - 2 * k(x, y).mean())
    assert mmd2_unbiased(x, y) == pytest.approx(expected)


def test_resolution_fit_recovers_the_stochastic_term():
    from latentlab.calo.observables import fit_resolution, response_in_energy_bins
    rng = np.random.default_rng(5)
    e = np.exp(rng.uniform(0, np.log(100), 20_000))
    r = 0.2 * (1 + rng.normal(size=e.size) * 0.1 / np.sqrt(e))
    rows = response_in_energy_bins(e, r, np.geomspace(1, 100, 7))
    assert [row["n"] for row in rows] == pytest.approx([20_000 / 6] * 6, rel=0.1)
    assert all(row["mean"] == pytest.approx(0.2, rel=0.01) for row in rows)
    fit = fit_resolution(rows)
    assert fit["a"] == pytest.approx(0.1, rel=0.05) and fit["b"] < 0.01
