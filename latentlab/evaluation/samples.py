"""Sample quality (``latentlab eval RUN --samples 10000``, ``latentlab score PATH --dataset D``):
draw N images from the model (or take them from anywhere) and score them against the test
split in the features and labels of the dataset's evaluation classifier
(``latentlab.evaluation.classifier``):

- Frechet distance (``samples_fd``), with the same statistic for N training images against
  the test split as the floor a perfect sampler would reach (``samples_fd_floor``);
- improved precision/recall (k = 3) and density/coverage, also with their floors;
- mode coverage: the classifier's label histogram of the samples, classes covered, KL to the
  test split's class distribution;
- recognisability (``samples_recognisable``): the share of samples the classifier puts in one
  class with probability at least ``CONFIDENT`` (0.9), with the same share for the test images
  as its ceiling (``samples_recognisable_ceiling``);
- for a conditional model, the classifier's accuracy on the labels the samples were drawn for.

``score(evaluator, images, test, train)`` computes them all; ``score_images(images, dataset)``
is the same for images from anywhere (another library's samples): it loads the evaluator and
the data, checks the images and says what to fix. Every result names the evaluator's weights
by sha256 (``evaluator_sha256``) and says whether they are the shipped ones (``evaluator``):
numbers are comparable only under the same hash.
"""
from __future__ import annotations

import argparse
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from latentlab.data import Split
from latentlab.data.arrays import IMAGE_KEYS, LABEL_KEYS
from latentlab.data.folder import load_image_folder
from latentlab.data.preprocess import images_to_tensor
from latentlab.errors import LatentlabError
from latentlab.evaluation.classifier import FEATURES, SHIPPED, Evaluator, evaluator_data, get_evaluator
from latentlab.evaluation.metrics import class_distribution, frechet_distance, min_samples, mode_coverage, prdc
from latentlab.models.base import ConditionalSampler, Sampler

K = 3  # neighbours of the k-NN manifolds (Kynkaanniemi et al. 2019)
MIN_SAMPLES = min_samples(FEATURES)  # 129: a full-rank covariance of the 128 features
CONFIDENT = 0.9  # a sample is recognisable when the evaluator gives one class at least this probability


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("sample quality (models that can sample)")
    g.add_argument("--samples", type=int, default=None, metavar="N",
                   help=f"draw N samples and score them against the test split (at least {MIN_SAMPLES}; 10000 is usual)")
    g.add_argument("--label", type=int, default=None,
                   help="conditional models: draw every sample for this class and score against its test images "
                        "(default: labels in the test split's proportions)")
    g.add_argument("--samples-seed", type=int, default=0, help="seed of the sample draws (default 0)")
    g.add_argument("--evaluator-cache", default=None, metavar="DIR",
                   help="folder of locally trained evaluation classifiers, for datasets without a shipped one "
                        "(default $XDG_CACHE_HOME/latentlab/evaluators)")


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
    from latentlab.training.run_folder import note
    t = ctx.info.train
    data = evaluator_data(t.dataset, ctx.data_dir or t.data_dir, t.image_size)
    reference_split(data.test, args.label)  # refuse before the classifier trains and the samples are drawn
    evaluator = get_evaluator(data, cache=args.evaluator_cache)
    labels = sample_labels(model, data.test, args.samples, args.label, args.samples_seed)
    note(f"drawing {args.samples:,} samples (seed {args.samples_seed})...")
    images = draw(model, args.samples, labels, args.samples_seed, getattr(args, "batch_size", 500), progress=True)
    return score(evaluator, images, data.test, data.train, labels, args.label, args.samples_seed, ctx.cache, log=note)


def check_count(n: int, what: str | None = None) -> None:
    """Refuse fewer than MIN_SAMPLES images; ``what`` names them (default: the --samples option)."""
    if n < MIN_SAMPLES:
        problem = f"--samples {n} is too few" if what is None else f"{what} holds {n} images, too few"
        fix = "use --samples 10000" if what is None else "score at least that many samples (10000 is usual)"
        raise LatentlabError(f"{problem}: the Frechet distance needs at least {MIN_SAMPLES} samples "
                             f"(more than the {FEATURES} classifier features, for a full-rank covariance); "
                             f"{fix} for numbers comparable with the benchmark")


def recognisable(evaluator: Evaluator, features: np.ndarray) -> float:
    """Share of images whose most probable class has probability >= CONFIDENT (from penultimate features)."""
    return float((evaluator.probabilities(features).max(1) >= CONFIDENT).mean())


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
def draw(model, n: int, labels: torch.Tensor | None, seed: int, batch_size: int = 500, progress: bool = False) -> torch.Tensor:
    """(n, C, H, W) samples on the CPU, drawn in batches from a generator seeded with ``seed``
    (the global RNG is neither read nor moved, so concurrent draws do not disturb each other).
    ``progress``: a bar of the batches on stderr when it is a terminal."""
    from tqdm import tqdm
    generator = torch.Generator(model.device).manual_seed(seed)
    out = []
    starts = range(0, n, batch_size)
    for start in tqdm(starts, desc="drawing samples", unit="batch", leave=False, dynamic_ncols=True,
                      disable=None if progress else True):  # None: only on a terminal, so logs stay clean
        m = min(batch_size, n - start)
        y = None if labels is None else labels[start:start + m].to(model.device)
        out.append(model.sample(m, y, generator=generator).float().cpu())
    return torch.cat(out)


def score(evaluator: Evaluator, images: torch.Tensor, test: Split, train: Split | None = None,
          labels: torch.Tensor | None = None, label: int | None = None, seed: int = 0, memo: dict | None = None,
          log: Callable[[str], None] | None = None) -> dict:
    """Every sample metric of ``images`` against ``test`` (the images of ``label`` only, when given).

    ``train`` gives the floor: the same metrics for len(images) training images (the same class)
    against the same reference. ``labels``: the classes a conditional model was asked for.
    ``memo``: a dict that keeps the reference and floor features between calls (scoring many runs).
    ``log``: where a line per stage goes (default: nowhere).
    """
    log = log or (lambda line: None)
    memo = {} if memo is None else memo
    check_count(len(images))
    reference = reference_split(test, label)
    key = (evaluator.sha256, label)
    if ("real", key) not in memo:
        log(f"classifier features of {len(reference):,} test images...")
        memo["real", key] = evaluator.features(reference.x)
    real = memo["real", key]
    log(f"classifier features of the {len(images):,} samples...")
    fake = evaluator.features(images)
    predicted = evaluator.predict_features(fake)
    if ("ceiling", key) not in memo:
        memo["ceiling", key] = recognisable(evaluator, real)
    log(f"Frechet distance, precision/recall and density/coverage (k = {K}) of the samples...")
    out = {"samples_n": len(images), "samples_reference": len(reference), "samples_fd": frechet_distance(real, fake)}
    out.update({f"samples_{k}": v for k, v in prdc(real, fake, K).items()})
    out.update(samples_recognisable=recognisable(evaluator, fake), samples_recognisable_ceiling=memo["ceiling", key])
    if train is not None:
        if ("floor", key, len(images), seed) not in memo:
            pool = train.x if label is None else train.x[train.y == label]
            log(f"the floor: the same metrics for {min(len(images), len(pool)):,} training images...")
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


def as_images(x, shape: tuple[int, int, int], dataset: str, source: str = "the images") -> torch.Tensor:
    """(N, C, H, W) float32 in [0, 1] from an array or tensor of ``shape`` images: (N, C, H, W),
    (N, H, W) or (N, H, W, C), uint8 (0..255) or float in [0, 1]. Three equal colour channels
    become one grey channel (PNG writers often save grey images as RGB). Anything else is refused
    with the fix."""
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    c, h, w = shape
    if a.ndim not in (3, 4):
        raise LatentlabError(f"{source}: an array of shape {a.shape}; score a batch of images, (N, {c}, {h}, {w}) "
                             f"or (N, {h}, {w}) for {dataset}")
    if np.issubdtype(a.dtype, np.floating) and a.size and np.isfinite(a).all():
        low, high = float(a.min()), float(a.max())
        if low < 0 or high > 1:
            fix = ("(x + 1) / 2 if they are a tanh output in [-1, 1]" if low >= -1 and high <= 1 else
                   "x / 255 if they are 0..255 grey levels (or save them as uint8)" if low >= 0 and high <= 255 else
                   "(x - x.min()) / (x.max() - x.min())")
            raise LatentlabError(f"{source}: float images range over [{low:g}, {high:g}], but latentlab scores images in "
                                 f"[0, 1] (as the evaluator saw its data): rescale them, e.g. {fix}")
    images = images_to_tensor(a, source)  # layout, uint8 -> [0, 1], NaN and dtype checks
    if images.shape[1] == 3 and c == 1 and bool((images == images[:, :1]).all()):
        images = images[:, :1]
    if tuple(images.shape[1:]) != tuple(shape):
        got = "x".join(map(str, images.shape[1:]))
        fix = ([f"resize them to {h}x{w}"] if tuple(images.shape[2:]) != (h, w) else []) + \
              ([f"save them with {c} channel{'s' if c > 1 else ''}" + (" (greyscale)" if c == 1 else "")]
               if images.shape[1] != c else [])
        raise LatentlabError(f"{source}: images of {got} (C x H x W), but the {dataset} evaluator reads "
                             f"{'x'.join(map(str, shape))}: {' and '.join(fix)}, or score them against the dataset "
                             "they imitate (--dataset)")
    return images


def score_images(images, dataset: str, data_dir: str | None = None, labels=None, seed: int = 0,
                 cache: str | Path | None = None, source: str = "the images", log=None) -> dict:
    """Every sample metric (with floors and ceiling) of ``images`` from anywhere, against ``dataset``'s test split.

    ``images``: (N, C, H, W) or (N, H, W), uint8 or float in [0, 1], an array or a tensor, e.g. another
    library's samples. ``dataset``: ``digits``, ``mnist``, ``fashion-mnist`` (shipped evaluators) or the
    name/path of any labelled dataset (its evaluator is trained once and cached in ``cache``).
    ``labels``: (N,) classes the samples were drawn for (a conditional model): adds the label accuracy.
    ``data_dir``: where the dataset's files are; its test split is the reference and N training images
    give the floor. Returns the keys ``latentlab eval RUN --samples N`` writes (samples_*, evaluator*)."""
    kwargs = {} if log is None else {"log": log}
    if dataset in SHIPPED:  # shipped weights: the images are checked before any data is read
        evaluator = get_evaluator(dataset, cache=cache, **kwargs)
        x = as_images(images, evaluator.shape, dataset, source)
        check_count(len(x), source)
        data = evaluator_data(dataset, data_dir)
    else:  # the data first: it says the shape, before minutes of training
        data = evaluator_data(dataset, data_dir)
        x = as_images(images, data.shape, data.name, source)
        check_count(len(x), source)
        evaluator = get_evaluator(data, cache=cache, **kwargs)
    y = None
    if labels is not None:
        y = torch.as_tensor(np.asarray(labels)).reshape(-1)
        if len(y) != len(x) or y.is_floating_point() or (len(y) and not 0 <= int(y.min()) <= int(y.max()) < len(evaluator.classes)):
            raise LatentlabError(f"{source}: labels must be {len(x)} integers in 0..{len(evaluator.classes) - 1} (one class per "
                                 f"image of {dataset}), got {tuple(y.shape)} {y.dtype}; drop them to score without label accuracy")
        y = y.long()
    return score(evaluator, x, data.test, data.train, labels=y, seed=seed, log=log)


def read_images(path: str | Path) -> tuple[np.ndarray | torch.Tensor, np.ndarray | None]:
    """Images (and labels, if any) to score from ``path``: a ``.npy`` array, a ``.npz`` archive (images under
    ``x``/``images``/``X`` or its only array, optional labels under ``y``/``labels``), or a folder of PNG/JPEG
    images (searched recursively; its subfolders are not read as labels). Checked by ``as_images`` later."""
    path = Path(path)
    if not path.exists():
        raise LatentlabError(f"{path}: no such file or folder; give a .npy/.npz array of images or a folder of PNGs")
    if path.is_dir():
        return load_image_folder(path)[0], None
    if path.suffix.lower() not in (".npy", ".npz"):
        raise LatentlabError(f"{path}: cannot score a {path.suffix or 'suffix-less'} file; save the samples with "
                             "numpy.save (.npy, shape (N, C, H, W) or (N, H, W)) or as PNG files in a folder")
    try:
        if path.suffix.lower() == ".npy":
            return np.load(path, allow_pickle=False), None
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.keys())
            key = next((k for k in IMAGE_KEYS if k in keys), keys[0] if len(keys) == 1 else None)
            if key is None:
                raise LatentlabError(f"{path}: no image array among {', '.join(keys) or 'no arrays'}; save the samples "
                                     "under 'x', e.g. numpy.savez(path, x=images) (labels, if any, under 'y')")
            label_key = next((k for k in LABEL_KEYS if k in keys and k != key), None)
            return archive[key], None if label_key is None else archive[label_key]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:  # a damaged file, or an object array (pickle is never loaded)
        raise LatentlabError(f"{path}: cannot read this file ({e}); save numeric arrays with numpy.save or numpy.savez") from e
