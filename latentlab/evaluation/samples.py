"""Sample quality (``latentlab eval RUN --samples 10000``): draw N images from the model and
score them against the test split in the features and labels of the dataset's evaluation
classifier (``latentlab.evaluation.classifier``):

- Frechet distance (``samples_fd``), with the same statistic for N training images against
  the test split as the floor a perfect sampler would reach (``samples_fd_floor``);
- improved precision/recall (k = 3) and density/coverage, also with their floors;
- mode coverage: the classifier's label histogram of the samples, classes covered, KL to the
  test split's class distribution;
- for a conditional model, the classifier's accuracy on the labels the samples were drawn for.

Every result names the evaluator's weights by sha256 (``evaluator_sha256``): numbers are
comparable only under the same hash.
"""
from __future__ import annotations

import argparse

import torch

from latentlab.data import Split
from latentlab.errors import LatentlabError
from latentlab.evaluation.classifier import FEATURES, Evaluator, evaluator_data, get_evaluator
from latentlab.evaluation.metrics import class_distribution, frechet_distance, min_samples, mode_coverage, prdc
from latentlab.models.base import ConditionalSampler, Sampler

K = 3  # neighbours of the k-NN manifolds (Kynkaanniemi et al. 2019)
MIN_SAMPLES = min_samples(FEATURES)  # 129: a full-rank covariance of the 128 features


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("sample quality (models that can sample)")
    g.add_argument("--samples", type=int, default=None, metavar="N",
                   help=f"draw N samples and score them against the test split (at least {MIN_SAMPLES}; 10000 is usual)")
    g.add_argument("--label", type=int, default=None,
                   help="conditional models: draw every sample for this class and score against its test images "
                        "(default: labels in the test split's proportions)")
    g.add_argument("--samples-seed", type=int, default=0, help="seed of the sample draws (default 0)")
    g.add_argument("--evaluator-cache", default=None, metavar="DIR",
                   help="folder of cached evaluation classifiers (default $XDG_CACHE_HOME/latentlab/evaluators)")


def evaluate(args: argparse.Namespace, ctx) -> dict | None:
    if args.samples is None:
        if args.label is not None:
            raise LatentlabError("--label picks the class of the samples to score: give --samples N as well")
        return None
    model = ctx.model
    if not isinstance(model, Sampler):
        raise LatentlabError(f"a '{model.name}' model cannot sample new images, so it has no sample metrics; "
                             "evaluate an AE, VAE or GAN run")
    check_count(args.samples)
    if args.label is not None:
        model.check_labels(args.label, args.samples)  # a label on an unconditional model, or no such class
    t = ctx.info.train
    data = evaluator_data(t.dataset, ctx.data_dir or t.data_dir, t.image_size)
    reference_split(data.test, args.label)  # refuse before the classifier trains and the samples are drawn
    evaluator = get_evaluator(data, cache=args.evaluator_cache)
    labels = sample_labels(model, data.test, args.samples, args.label, args.samples_seed)
    images = draw(model, args.samples, labels, args.samples_seed, getattr(args, "batch_size", 500))
    return score(evaluator, images, data.test, data.train, labels, args.label, args.samples_seed, ctx.cache)


def check_count(n: int) -> None:
    if n < MIN_SAMPLES:
        raise LatentlabError(f"--samples {n} is too few: the Frechet distance needs at least {MIN_SAMPLES} samples "
                             f"(more than the {FEATURES} classifier features, for a full-rank covariance); "
                             "use --samples 10000 for numbers comparable with the benchmark")


def reference_split(test: Split, label: int | None) -> Split:
    """The test images the samples are scored against: all, or those of ``label``."""
    reference = test if label is None else Split(test.x[test.y == label], test.y[test.y == label])
    if len(reference) < MIN_SAMPLES:
        raise LatentlabError(f"the test split holds {len(reference)} images{'' if label is None else f' of class {label}'}, "
                             f"too few for the Frechet distance (at least {MIN_SAMPLES}): score without --label, "
                             "or use a dataset with a larger test split")
    return reference


def sample_labels(model, test: Split, n: int, label: int | None, seed: int) -> torch.Tensor | None:
    """Labels to draw a conditional model's samples for: ``label`` n times, or the test labels' proportions."""
    if not isinstance(model, ConditionalSampler):
        return None
    if label is not None:
        return torch.full((n,), label, dtype=torch.long)
    order = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))
    return test.y[order][torch.arange(n) % len(test)]  # (n,) cycling a shuffled copy of the test labels


@torch.no_grad()
def draw(model, n: int, labels: torch.Tensor | None, seed: int, batch_size: int = 500) -> torch.Tensor:
    """(n, C, H, W) samples on the CPU, drawn in batches from a generator seeded with ``seed``
    (the global RNG is neither read nor moved, so concurrent draws do not disturb each other)."""
    generator = torch.Generator(model.device).manual_seed(seed)
    out = []
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        y = None if labels is None else labels[start:start + m].to(model.device)
        out.append(model.sample(m, y, generator=generator).float().cpu())
    return torch.cat(out)


def score(evaluator: Evaluator, images: torch.Tensor, test: Split, train: Split | None = None,
          labels: torch.Tensor | None = None, label: int | None = None, seed: int = 0, memo: dict | None = None) -> dict:
    """Every sample metric of ``images`` against ``test`` (the images of ``label`` only, when given).

    ``train`` gives the floor: the same metrics for len(images) training images (the same class)
    against the same reference. ``labels``: the classes a conditional model was asked for.
    ``memo``: a dict that keeps the reference and floor features between calls (scoring many runs).
    """
    memo = {} if memo is None else memo
    check_count(len(images))
    reference = reference_split(test, label)
    key = (evaluator.sha256, label)
    if ("real", key) not in memo:
        memo["real", key] = evaluator.features(reference.x)
    real = memo["real", key]
    fake = evaluator.features(images)
    predicted = evaluator.predict_features(fake)
    out = {"samples_n": len(images), "samples_reference": len(reference), "samples_fd": frechet_distance(real, fake)}
    out.update({f"samples_{k}": v for k, v in prdc(real, fake, K).items()})
    if train is not None:
        if ("floor", key, len(images), seed) not in memo:
            pool = train.x if label is None else train.x[train.y == label]
            pick = torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed))[:len(images)]
            floor = evaluator.features(pool[pick])
            memo["floor", key, len(images), seed] = {} if len(floor) < MIN_SAMPLES else {
                "samples_fd_floor": frechet_distance(real, floor),
                **{f"samples_{k}_floor": v for k, v in prdc(real, floor, K).items()}}
        out.update(memo["floor", key, len(images), seed])
    if label is None:
        modes = mode_coverage(predicted, class_distribution(reference.y.numpy(), len(evaluator.classes)))
        out.update({f"samples_{k}": v for k, v in modes.items()})
    if labels is not None:
        out["samples_label_accuracy"] = float((predicted == labels.numpy()).mean())
    if label is not None:
        out["samples_label"] = label
    return {**out, **evaluator.record()}
