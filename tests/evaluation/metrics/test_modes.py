import numpy as np
import pytest

from latentlab.evaluation.metrics import class_distribution, kl_divergence, mode_coverage

BALANCED = np.full(10, 0.1)


def test_a_collapsed_sampler_shows_one_mode():
    m = mode_coverage(np.full(1000, 7), BALANCED)
    assert m["classes_covered"] == 1 and m["classes"] == 10
    assert m["class_kl"] == pytest.approx(np.log(10))
    assert m["label_histogram"][7] == 1000 and sum(m["label_histogram"]) == 1000


def test_samples_in_the_data_proportions_cover_every_mode():
    m = mode_coverage(np.arange(1000) % 10, BALANCED)
    assert m["classes_covered"] == 10 and m["class_kl"] == pytest.approx(0.0)


def test_a_few_stray_samples_do_not_make_a_mode():
    predicted = np.concatenate([np.zeros(995, dtype=int), np.arange(1, 6)])  # 5 samples of classes 1..5
    assert mode_coverage(predicted, BALANCED)["classes_covered"] == 1


def test_class_distribution_and_kl():
    q = class_distribution(np.array([0, 0, 1, 3]), 4)
    assert q.tolist() == [0.5, 0.25, 0.0, 0.25]
    assert kl_divergence(q, q) == 0.0
    assert kl_divergence([0, 0, 1, 0], q) == float("inf")  # mass where the data has none
