import importlib

import numpy as np
import pytest

from latentlab.errors import LatentlabError
from latentlab.evaluation.metrics import prdc


def points(n=300, dim=4, shift=0.0, seed=0):
    return np.random.default_rng(seed).normal(size=(n, dim)) + shift


def test_a_set_against_itself_scores_one():
    x = points()
    m = prdc(x, x, k=3)
    assert m["precision"] == 1.0 and m["recall"] == 1.0 and m["coverage"] == 1.0
    assert m["density"] >= 1.0  # each point lies in its own ball and in those of the points it neighbours


def test_two_draws_of_the_same_distribution_score_near_one():
    m = prdc(points(seed=0), points(seed=1), k=3)
    assert m["precision"] > 0.8 and m["recall"] > 0.8 and m["coverage"] > 0.8
    assert 0.7 < m["density"] < 1.3


def test_disjoint_sets_score_zero():
    m = prdc(points(seed=0), points(seed=1, shift=100.0), k=3)
    assert m == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_a_collapsed_fake_set_is_precise_but_recalls_nothing():
    real = points(seed=0)
    fake = np.repeat(real[:1], 300, axis=0)  # one real point, repeated
    m = prdc(real, fake, k=3)
    assert m["precision"] == 1.0
    assert m["recall"] <= 0.01 and m["coverage"] <= 0.02


def test_chunked_distances_match_one_block(monkeypatch):
    module = importlib.import_module("latentlab.evaluation.metrics.prdc")
    real, fake = points(seed=0), points(seed=1, shift=0.5)
    whole = prdc(real, fake)
    monkeypatch.setattr(module, "CHUNK", 37)
    assert prdc(real, fake) == pytest.approx(whole)


def test_too_few_points_for_k_neighbours():
    with pytest.raises(LatentlabError, match="more than 3"):
        prdc(points(n=3), points())
