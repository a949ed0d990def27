import numpy as np
import pytest

from latentlab.errors import LatentlabError
from latentlab.evaluation.metrics import frechet_distance, min_samples


def gaussian_set(n=2000, dim=8, shift=0.0, seed=0):
    return np.random.default_rng(seed).normal(size=(n, dim)) + shift


def test_distance_of_a_set_to_itself_is_zero():
    a = gaussian_set()
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_distance_grows_with_a_shift_as_the_squared_mean_difference():
    a = gaussian_set(seed=0)
    distances = [frechet_distance(a, gaussian_set(seed=1, shift=s)) for s in (0.0, 0.5, 1.0, 2.0)]
    assert distances == sorted(distances) and distances[0] < 0.1
    # same covariance: FD = |mu_a - mu_b|^2 = dim * shift^2 (up to sampling noise)
    assert distances[-1] == pytest.approx(8 * 2.0 ** 2, rel=0.05)


def test_distance_sees_a_change_of_spread():
    a, b = gaussian_set(seed=0), 3 * gaussian_set(seed=1)
    # N(0, I) vs N(0, 9 I): tr(I + 9I - 2 * 3I) = 4 per dimension
    assert frechet_distance(a, b) == pytest.approx(8 * 4.0, rel=0.05)


def test_dead_features_keep_the_distance_finite():
    a, b = gaussian_set(seed=0), gaussian_set(seed=1, shift=1.0)
    a[:, :3] = 0.0  # constant columns: singular covariance, as dead ReLU units give
    b[:, :3] = 0.0
    d = frechet_distance(a, b)
    assert np.isfinite(d) and d == pytest.approx(5.0, rel=0.1)


def test_too_few_samples_for_a_full_rank_covariance_say_how_many_are_needed():
    assert min_samples(128) == 129
    with pytest.raises(LatentlabError, match="at least 9"):
        frechet_distance(gaussian_set(n=8), gaussian_set())
