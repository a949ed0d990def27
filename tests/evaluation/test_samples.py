import argparse
import json
import math
from types import SimpleNamespace

import pytest
import torch

import latentlab
from latentlab.cli.main import main
from latentlab.data import load_dataset
from latentlab.errors import LatentlabError
from latentlab import evaluation
from latentlab.evaluation import samples
from latentlab.evaluation.classifier import get_evaluator
from latentlab.models.base import ConditionalSampler, GenerativeModel, Sampler


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    """The session's evaluator cache (shared with tests/test_evaluator.py)."""
    return tmp_path_factory.getbasetemp() / "evaluators"


@pytest.fixture(scope="session")
def evaluator(cache):
    return get_evaluator("digits", cache=cache, log=lambda msg: None)


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits", val_fraction=0.0)


@pytest.fixture(scope="session")
def vae_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "vae"
    return latentlab.train("vae", dataset="digits", epochs=2, batch_size=64, latent_dim=4, hidden=32, progress=False, out=str(out))


class Oracle(GenerativeModel, Sampler):
    """A stand-in sampler that returns test images: one image repeated when collapsed."""
    name = "oracle"

    def __init__(self, split, collapsed=False):
        super().__init__(None, tuple(split.x.shape[1:]), 10)
        self.split, self.collapsed = split, collapsed
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # gives the model a device

    def sample(self, n, y=None, generator=None):
        if self.collapsed:
            return self.split.x[:1].repeat(n, 1, 1, 1)
        if y is None:
            return self.split.x[torch.randint(len(self.split), (n,), generator=generator)]
        pools = [self.split.x[self.split.y == c] for c in y.tolist()]
        return torch.stack([pool[torch.randint(len(pool), (), generator=generator)] for pool in pools])


class ConditionalOracle(Oracle, ConditionalSampler):
    """The oracle asked for a class: test images of the requested labels."""
    name = "conditional-oracle"


def eval_cli(run_dir, cache, *extra):
    return main(["eval", str(run_dir), "--evaluator-cache", str(cache), *extra])


def test_eval_samples_writes_every_metric_and_the_evaluator_hash(vae_run, evaluator, cache, capsys):
    assert eval_cli(vae_run.dir, cache, "--samples", "200") == 0
    result = json.loads((vae_run.dir / "eval.json").read_text())
    assert "test_loss" in result  # the other plugin's terms are kept beside ours
    for key in ("fd", "fd_floor", "precision", "recall", "density", "coverage", "precision_floor",
                "recall_floor", "classes_covered", "class_kl", "label_histogram"):
        assert f"samples_{key}" in result, key
    assert result["samples_n"] == 200 and sum(result["samples_label_histogram"]) == 200
    assert result["evaluator_sha256"] == evaluator.sha256 and result["evaluator_test_accuracy"] == evaluator.test_accuracy
    assert result["samples_fd"] > result["samples_fd_floor"] >= 0
    assert "samples_label_accuracy" not in result  # not a conditional model
    printed = capsys.readouterr().out
    assert "samples_fd" in printed and evaluator.sha256 in printed


def test_eval_replaces_each_result_group_whole(vae_run, evaluator, cache):
    """A fresh group of keys replaces the saved one: no stale key of an earlier request lingers
    (eval --samples, then eval --samples --label 7, once left the unlabelled samples_* keys)."""
    path = vae_run.dir / "eval.json"
    stale = {"samples_label": 7, "samples_label_accuracy": 0.5, "samples_reference": 1, "evaluator_sha256": "old",
             "test_old_term": 1.0, "test_nll": 91.5, "test_nll_k": 20, "note": "not a plugin's key"}
    path.write_text(json.dumps(stale))
    assert eval_cli(vae_run.dir, cache, "--samples", "200") == 0
    result = json.loads(path.read_text())
    for key in ("samples_label", "samples_label_accuracy", "test_old_term"):
        assert key not in result, key
    assert result["samples_reference"] == len(latentlab.load_dataset("digits").test)
    assert result["evaluator_sha256"] == evaluator.sha256 and "test_loss" in result
    # the likelihood plugin did not run: its group stays as saved, and so does a key no plugin owns
    assert result["test_nll"] == 91.5 and result["test_nll_k"] == 20 and result["note"] == "not a plugin's key"


def test_merge_replaces_only_the_groups_that_ran():
    previous = {"test_loss": 1.0, "test_rec": 0.5, "test_nll": 90.0, "samples_fd": 3.0, "samples_class_kl": 0.1,
                "evaluator_sha256": "a", "other": 1}
    merged = evaluation.merge(previous, {"loss": {"test_loss": 2.0}, "samples": {"samples_fd": 4.0, "samples_label": 7}})
    assert merged == {"test_loss": 2.0, "test_nll": 90.0, "samples_fd": 4.0, "samples_label": 7, "other": 1}
    assert evaluation.owner("test_nll_stderr") == "likelihood" and evaluation.owner("test_neg_elbo") == "loss"
    assert evaluation.owner("evaluator_sha256") == "samples" and evaluation.owner("note") is None


def test_the_same_seed_gives_the_same_numbers(vae_run, evaluator, cache):
    ctx = SimpleNamespace(model=latentlab.load(vae_run.dir), info=latentlab.read_run(vae_run.dir), data_dir=None, cache={})
    args = argparse.Namespace(samples=150, label=None, samples_seed=3, evaluator_cache=str(cache), batch_size=64)
    first, second = samples.evaluate(args, ctx), samples.evaluate(args, ctx)
    assert first == second


def test_draws_come_from_the_seed_alone_and_leave_the_global_rng_alone(digits):
    model = Oracle(digits.test)
    state = torch.get_rng_state()
    first = samples.draw(model, 50, None, seed=4, batch_size=16)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(123)  # the global RNG plays no part
    assert torch.equal(samples.draw(model, 50, None, seed=4, batch_size=16), first)
    assert not torch.equal(samples.draw(model, 50, None, seed=5, batch_size=16), first)


def test_test_images_as_samples_score_like_the_data(evaluator, digits):
    m = samples.score(evaluator, digits.test.x, digits.test, digits.train)
    assert m["samples_fd"] == pytest.approx(0.0, abs=1e-6)
    assert m["samples_precision"] == m["samples_recall"] == m["samples_coverage"] == 1.0
    assert m["samples_classes_covered"] == 10 and m["samples_class_kl"] < 0.01


def test_a_collapsed_sampler_shows_one_mode(evaluator, digits):
    model = Oracle(digits.test, collapsed=True)
    images = samples.draw(model, 300, None, seed=0, batch_size=128)
    m = samples.score(evaluator, images, digits.test, digits.train)
    assert m["samples_classes_covered"] == 1
    assert m["samples_class_kl"] == pytest.approx(math.log(10), abs=0.1)
    assert m["samples_recall"] < 0.05 and m["samples_fd"] > 10 * m["samples_fd_floor"]


def test_a_conditional_sampler_is_scored_on_the_labels_it_was_asked_for(evaluator, digits):
    model = ConditionalOracle(digits.test)
    labels = samples.sample_labels(model, digits.test, 300, None, seed=0)
    assert torch.bincount(labels, minlength=10).min() >= 25  # the test split's proportions
    images = samples.draw(model, 300, labels, seed=0, batch_size=128)
    m = samples.score(evaluator, images, digits.test, labels=labels)
    assert m["samples_label_accuracy"] > 0.9 and m["samples_classes_covered"] == 10


def test_a_label_needs_a_conditional_model_and_enough_test_images(evaluator, digits):
    model = ConditionalOracle(digits.test)
    labels = samples.sample_labels(model, digits.test, 200, 3, seed=0)
    assert (labels == 3).all()
    images = samples.draw(model, 200, labels, seed=0)
    with pytest.raises(LatentlabError, match="images of class 3, too few"):  # digits holds ~36 test images per class
        samples.score(evaluator, images, digits.test, labels=labels, label=3)


def test_a_model_that_cannot_sample_is_refused():
    ctx = SimpleNamespace(model=GenerativeModel(None, (1, 8, 8)))
    args = argparse.Namespace(samples=200, label=None)
    with pytest.raises(LatentlabError, match="cannot sample"):
        samples.evaluate(args, ctx)


def test_bad_requests_exit_2_with_a_message(vae_run, cache, capsys):
    assert eval_cli(vae_run.dir, cache, "--samples", "50") == 2
    assert "at least 129" in capsys.readouterr().err
    assert eval_cli(vae_run.dir, cache, "--samples", "200", "--label", "3") == 2
    assert "not conditional" in capsys.readouterr().err
    assert eval_cli(vae_run.dir, cache, "--label", "3") == 2
    assert "--samples" in capsys.readouterr().err


def test_recognisability_is_high_for_real_images_and_low_for_noise(evaluator, digits):
    m = samples.score(evaluator, digits.test.x, digits.test, digits.train)
    assert m["samples_recognisable"] == m["samples_recognisable_ceiling"] > 0.85  # the test images are their own ceiling
    noise = torch.rand(400, *digits.shape, generator=torch.Generator().manual_seed(0))
    m = samples.score(evaluator, noise, digits.test, digits.train)
    assert m["samples_recognisable"] < 0.3 and m["samples_recognisable_ceiling"] > 0.85
    assert samples.recognisable(evaluator, evaluator.features(digits.test.x)) == m["samples_recognisable_ceiling"]


def test_score_images_puts_images_from_anywhere_on_the_scale(digits):
    """Real images score within the floor's noise, uniform noise far from it; arrays of any accepted kind."""
    real = samples.score_images(digits.test.x, "digits")
    assert real["samples_fd"] <= real["samples_fd_floor"] and real["evaluator"] == "shipped"
    order = torch.randperm(len(digits.train), generator=torch.Generator().manual_seed(99))
    other = digits.train.x[order[:len(digits.test)]]  # training images, but not the floor's draw
    m = samples.score_images((other[:, 0].numpy() * 255).round().astype("uint8"), "digits")  # (N, H, W) uint8
    assert m["samples_fd"] < 2 * m["samples_fd_floor"] and m["samples_classes_covered"] == 10
    assert m["samples_recognisable"] > 0.85
    noise = samples.score_images(torch.rand(400, 1, 8, 8, generator=torch.Generator().manual_seed(0)), "digits")
    assert noise["samples_fd"] > 20 * noise["samples_fd_floor"] and noise["samples_recall"] < 0.05
    # labels: the classes the samples were drawn for give the label accuracy
    m = samples.score_images(digits.test.x, "digits", labels=digits.test.y.numpy())
    assert m["samples_label_accuracy"] == pytest.approx(latentlab.evaluation.classifier.shipped_record("digits")["test_accuracy"])


@pytest.mark.parametrize("images, message", [
    (torch.rand(200, 1, 28, 28), "1x28x28 .* reads 1x8x8: resize them to 8x8"),
    (torch.rand(200, 2, 8, 8), "Reshape the array"),
    (torch.rand(200, 8), "an array of shape"),
    (torch.rand(200, 1, 8, 8) * 2 - 1, r"\[-1, 1\]|x \+ 1\) / 2"),
    (torch.rand(200, 1, 8, 8) * 255, "x / 255"),
    (torch.rand(100, 1, 8, 8), "holds 100 images, too few"),
])
def test_score_images_refuses_what_it_cannot_score_with_the_fix(images, message):
    with pytest.raises(LatentlabError, match=message):
        samples.score_images(images, "digits")


def test_grey_images_saved_as_rgb_are_read_as_grey(digits):
    x = samples.as_images(digits.test.x.repeat(1, 3, 1, 1), (1, 8, 8), "digits")
    assert torch.equal(x, digits.test.x)
