import dataclasses
import json

import pytest
import torch
from safetensors.torch import load_file

from latentlab.data import Dataset, Split, load_dataset
from latentlab.errors import LatentlabError
from latentlab.evaluation.classifier import (FEATURES, RECIPE_VERSION, SHIPPED, WEIGHTS_DIR, Classifier, evaluator_data,
                                             evaluator_dir, file_sha256, get_evaluator, load_shipped, seeded_classifier)


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    """One evaluator cache for the whole session (test_samples/test_compare reuse it)."""
    return tmp_path_factory.getbasetemp() / "evaluators"


@pytest.fixture(scope="session")
def digits_evaluator(cache):
    return get_evaluator("digits", cache=cache, log=lambda msg: None)


@pytest.fixture(scope="session")
def local_data():
    """The digits under another name: no shipped evaluator, so one is trained and cached (seconds)."""
    return dataclasses.replace(evaluator_data("digits"), name="my-digits")


@pytest.fixture(scope="session")
def local_evaluator(local_data, cache):
    return get_evaluator(local_data, cache=cache, log=lambda msg: None)


def test_the_shipped_evaluators_hash_to_their_pins_and_load_without_data(monkeypatch, tmp_path):
    monkeypatch.setenv("LATENTLAB_DATA", str(tmp_path))  # no dataset anywhere that the search would find first
    total = 0
    for name, digest in SHIPPED.items():
        e = get_evaluator(name, data_dir=str(tmp_path), cache=tmp_path, log=pytest.fail)  # never trains
        assert e.path.parent == WEIGHTS_DIR and e.path.name == f"{name}-{'x'.join(map(str, e.shape))}-v{RECIPE_VERSION}.safetensors"
        assert e.sha256 == digest == file_sha256(e.path)
        assert e.record() == {"evaluator": "shipped", "evaluator_dataset": name, "evaluator_recipe": RECIPE_VERSION,
                              "evaluator_sha256": digest, "evaluator_test_accuracy": e.test_accuracy}
        meta = json.loads(e.path.with_suffix(".json").read_text())
        assert meta["sha256"] == digest and meta["test_accuracy"] == e.test_accuracy > 0.85
        assert all(t.dtype == torch.float32 for t in load_file(e.path).values())
        assert e.net(torch.rand(2, *e.shape)).shape == (2, len(e.classes)) == (2, 10)
        total += e.path.stat().st_size
    assert total < 5e6  # a few MB in all
    assert list(tmp_path.iterdir()) == []  # nothing trained, nothing cached


def test_the_shipped_digits_evaluator_does_what_its_record_says(digits_evaluator):
    data = evaluator_data("digits")
    assert digits_evaluator.source == "shipped"
    accuracy = float((torch.as_tensor(digits_evaluator.predict(data.test.x)) == data.test.y).double().mean())
    assert accuracy == pytest.approx(digits_evaluator.test_accuracy, abs=1e-9)
    # the Dataset it learnt gets it too (eval passes a Dataset): recognised by the data's hash
    assert get_evaluator(data, log=pytest.fail).sha256 == SHIPPED["digits"]


@pytest.fixture
def tampered(tmp_path):
    """A copy of the shipped digits files whose last float is changed."""
    for f in WEIGHTS_DIR.glob("digits-*"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    weights = next(tmp_path.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    return tmp_path


def test_a_tampered_shipped_file_is_refused_never_retrained(tampered, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    for dataset in ("digits", evaluator_data("digits")):  # by name, and as the Dataset it learnt
        with pytest.raises(LatentlabError, match="not the pinned .* Reinstall latentlab"):
            get_evaluator(dataset, cache=cache, weights_dir=tampered, log=pytest.fail)
    assert list(cache.iterdir()) == []
    next(tampered.glob("*.safetensors")).unlink()
    with pytest.raises(LatentlabError, match="is missing: the installation is incomplete"):
        load_shipped("digits", tampered)


def test_the_same_name_on_other_data_gets_a_local_evaluator(cache):
    """A dataset named digits that is not the shipped evaluator's training split (here: one with a validation
    hold-out) is not scored by the shipped weights, and its results say so."""
    said = []
    e = get_evaluator(load_dataset("digits", val_fraction=0.2), cache=cache, log=said.append)
    assert e.source == "local" and e.record()["evaluator"] == "local" and e.sha256 != SHIPPED["digits"]
    assert any("not the training split the shipped digits evaluator learnt" in s for s in said)
    assert e.path.parent == cache


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


def test_a_local_evaluator_is_accurate_and_cached_with_its_hash(local_evaluator, cache):
    e = local_evaluator
    assert e.test_accuracy > 0.9
    stem = f"my-digits-1x8x8-v{RECIPE_VERSION}"
    assert e.path == cache / f"{stem}.safetensors"
    meta = json.loads((cache / f"{stem}.json").read_text())
    assert meta["sha256"] == e.sha256 == file_sha256(e.path)
    assert meta["test_accuracy"] == e.test_accuracy
    assert e.record() == {"evaluator": "local", "evaluator_dataset": "my-digits", "evaluator_recipe": RECIPE_VERSION,
                          "evaluator_sha256": e.sha256, "evaluator_test_accuracy": e.test_accuracy}


def test_a_second_call_loads_the_cache_without_training(local_evaluator, local_data, cache):
    said = []
    again = get_evaluator(local_data, cache=cache, log=said.append)
    assert said == [] and again.sha256 == local_evaluator.sha256
    x = load_dataset("digits").test.x[:50]
    assert (again.predict(x) == local_evaluator.predict(x)).all()
    assert again.features(x).shape == (50, FEATURES)


def test_the_recipe_gives_the_same_bytes_twice(local_evaluator, local_data, tmp_path):
    """Training and saving are deterministic on one machine: the same weights, the same file, the same hash
    (the safetensors header holds one metadata entry, as several are written in no fixed order)."""
    again = get_evaluator(local_data, cache=tmp_path, log=lambda msg: None)
    assert again.sha256 == local_evaluator.sha256


def test_a_tampered_cache_is_retrained_and_the_user_told(local_evaluator, local_data, tmp_path):
    copy = tmp_path / "evaluators"
    copy.mkdir()
    for f in local_evaluator.path.parent.glob("my-digits-*"):
        (copy / f.name).write_bytes(f.read_bytes())
    weights = copy / local_evaluator.path.name
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")  # corrupt the last float
    said = []
    fresh = get_evaluator(local_data, cache=copy, log=said.append)
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
