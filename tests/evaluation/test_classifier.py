import json

import pytest
import torch

from latentlab.data import Dataset, Split, load_dataset
from latentlab.errors import LatentlabError
from latentlab.evaluation.classifier import (FEATURES, RECIPE_VERSION, Classifier, evaluator_dir, file_sha256, get_evaluator,
                                             seeded_classifier)


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    """One evaluator cache for the whole session (test_samples/test_compare reuse it)."""
    return tmp_path_factory.getbasetemp() / "evaluators"


@pytest.fixture(scope="session")
def digits_evaluator(cache):
    return get_evaluator("digits", cache=cache, log=lambda msg: None)


def test_the_classifier_reads_any_image_shape():
    for shape in [(1, 8, 8), (1, 28, 28), (3, 32, 32)]:
        net = Classifier(shape, 10)
        x = torch.rand(5, *shape)
        assert net(x).shape == (5, 10) and net.features(x).shape == (5, FEATURES)
    with pytest.raises(LatentlabError, match="at least 4x4"):
        Classifier((1, 3, 3), 10)


def test_the_classifier_starts_from_its_seed_alone():
    """The evaluator's initial weights come from a seeded generator: the default initialisation
    torch.manual_seed(seed) would give (so cached evaluators keep their hash), the global RNG untouched."""
    torch.manual_seed(0)
    reference = Classifier((1, 8, 8), 10)
    state = torch.get_rng_state()
    net = seeded_classifier((1, 8, 8), 10, FEATURES, torch.Generator().manual_seed(0))
    assert torch.equal(torch.get_rng_state(), state)
    for (name, a), b in zip(net.state_dict().items(), reference.state_dict().values()):
        assert torch.equal(a, b), name


def test_the_digits_evaluator_is_accurate_and_cached_with_its_hash(digits_evaluator, cache):
    e = digits_evaluator
    assert e.test_accuracy > 0.9
    stem = f"digits-1x8x8-v{RECIPE_VERSION}"
    assert e.path == cache / f"{stem}.safetensors"
    meta = json.loads((cache / f"{stem}.json").read_text())
    assert meta["sha256"] == e.sha256 == file_sha256(e.path)
    assert meta["test_accuracy"] == e.test_accuracy
    assert e.record() == {"evaluator_dataset": "digits", "evaluator_recipe": RECIPE_VERSION,
                          "evaluator_sha256": e.sha256, "evaluator_test_accuracy": e.test_accuracy}


def test_a_second_call_loads_the_cache_without_training(digits_evaluator, cache):
    said = []
    again = get_evaluator("digits", cache=cache, log=said.append)
    assert said == [] and again.sha256 == digits_evaluator.sha256
    x = load_dataset("digits").test.x[:50]
    assert (again.predict(x) == digits_evaluator.predict(x)).all()
    assert again.features(x).shape == (50, FEATURES)


def test_a_tampered_cache_is_retrained_and_the_user_told(digits_evaluator, tmp_path):
    copy = tmp_path / "evaluators"
    copy.mkdir()
    for f in digits_evaluator.path.parent.glob("digits-*"):
        (copy / f.name).write_bytes(f.read_bytes())
    weights = copy / digits_evaluator.path.name
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")  # corrupt the last float
    said = []
    fresh = get_evaluator("digits", cache=copy, log=said.append)
    assert any("does not match its record" in s and "retraining" in s for s in said)
    assert fresh.sha256 == file_sha256(weights)
    assert json.loads(weights.with_suffix(".json").read_text())["sha256"] == fresh.sha256


def test_the_cache_lives_under_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert evaluator_dir() == tmp_path / "latentlab" / "evaluators"
    assert evaluator_dir(tmp_path / "mine") == tmp_path / "mine"


def test_unlabelled_data_has_no_evaluator(tmp_path):
    x = torch.rand(20, 1, 8, 8)
    data = Dataset("blobs", Split(x, None), Split(x[:0], None), Split(x, None), None)
    with pytest.raises(LatentlabError, match="no labels"):
        get_evaluator(data, cache=tmp_path)
