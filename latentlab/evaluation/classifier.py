"""The evaluation classifier: latentlab's own yardstick for sample quality, the same on every machine.

For ``digits``, ``mnist`` and ``fashion-mnist`` the classifier ships with the package,

    latentlab/evaluation/weights/<dataset>-<C>x<H>x<W>-v<version>.safetensors   (float32 weights)
    latentlab/evaluation/weights/<dataset>-<C>x<H>x<W>-v<version>.json          (test accuracy, how it was made)

trained once with the fixed recipe below (``RECIPE``) by ``python bench/evaluators.py``; the
sha256 of each weights file is pinned in ``SHIPPED`` and checked on every load, and a file that
does not hash to its pin is refused (an error, never a silent retrain). So two users' FDs on
MNIST are on one scale, as FIDs are because everybody uses the same Inception weights.

Any other labelled dataset (a .npz file, an image folder, a resized MNIST) gets a classifier
trained on the user's machine with the same recipe and seed, cached in

    $XDG_CACHE_HOME/latentlab/evaluators/<dataset>-<C>x<H>x<W>-v<version>.safetensors (+ .json)

and retrained, with a word, when the file no longer matches its record. Every result that
used an evaluator names it: ``evaluator`` ("shipped" or "local") beside ``evaluator_sha256``;
two numbers are comparable exactly when they name the same hash.

Its 128 penultimate features play the part that Inception's pool3 features play in FID
(Heusel et al. 2017); its predicted labels and confidences measure mode coverage,
conditional accuracy and recognisability.
"""
from __future__ import annotations

import hashlib
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F

from latentlab.data import Dataset, Split, iterate_batches, load_dataset
from latentlab.data.locate import cache_dir
from latentlab.errors import LatentlabError

FEATURES = 128  # size of the penultimate layer: the feature space of the Frechet distance
RECIPE_VERSION = 1  # bump when RECIPE or the architecture changes: old caches are then ignored
RECIPE = dict(seed=0, epochs=3, min_steps=500, batch_size=64, lr=1e-3, lr_decay=0.5, features=FEATURES)

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"  # the shipped evaluators (package data)
# sha256 of each shipped weights file, as `python bench/evaluators.py` wrote it: checked on every load.
SHIPPED = {
    "digits": "c5be55614bec472d1991948eb89cd9bd3af16549131c81700986850a76806f2b",
    "mnist": "3f96bae90acdc1966f938fb3dec6a12ecacd526d51f1bc9c602aaa21ecb1eeb8",
    "fashion-mnist": "c7829f4e8ec19b26a3b53eddaa1a894c52d2368f37e5c950bea1cf0336bb3ec5",
}
SHIPPED_SHAPES = {"digits": (1, 8, 8), "mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28)}  # the images each reads


class Classifier(nn.Module):
    """conv(32) -> pool -> conv(64) -> pool -> dense(128) -> classes, for any (C, H, W) with H, W >= 4."""

    def __init__(self, shape: tuple[int, int, int], num_classes: int, features: int = FEATURES):
        super().__init__()
        c, h, w = shape
        if h < 4 or w < 4:
            raise LatentlabError(f"the evaluation classifier needs images of at least 4x4 pixels, got {h}x{w}")
        self.conv = nn.Sequential(
            nn.Conv2d(c, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 32, H/2, W/2)
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 64, H/4, W/4)
            nn.Flatten(),  # (B, 64 * H/4 * W/4)
        )
        self.penultimate = nn.Linear(64 * (h // 4) * (w // 4), features)  # (B, 128)
        self.head = nn.Linear(features, num_classes)  # (B, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.penultimate(self.conv(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@dataclass
class Evaluator:
    """A trained classifier with what a result must record about it."""

    net: Classifier
    dataset: str
    shape: tuple[int, int, int]
    classes: list[str]
    sha256: str
    test_accuracy: float
    path: Path
    source: str = "local"  # "shipped" (pinned in SHIPPED, the same everywhere) or "local" (trained on this machine)
    recipe: int = RECIPE_VERSION

    @torch.no_grad()
    def _map(self, fn, x: torch.Tensor, batch_size: int) -> torch.Tensor:
        x = torch.as_tensor(x, dtype=torch.float32)
        if tuple(x.shape[1:]) != self.shape:
            raise LatentlabError(f"images of shape {tuple(x.shape[1:])} do not fit the {self.dataset} evaluator, "
                                 f"which reads {self.shape}: score samples of the dataset the model was trained on")
        return torch.cat([fn(b.cpu()) for b in x.split(batch_size)]) if len(x) else torch.empty(0)

    def features(self, x: torch.Tensor, batch_size: int = 500) -> np.ndarray:
        """Penultimate features, (N, 128) float64."""
        return self._map(self.net.features, x, batch_size).double().numpy()

    def predict(self, x: torch.Tensor, batch_size: int = 500) -> np.ndarray:
        """Predicted class per image, (N,) int64."""
        return self._map(lambda b: self.net(b).argmax(1), x, batch_size).numpy()

    @torch.no_grad()
    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities softmax(head(features)), (N, classes) float64, from penultimate features."""
        logits = self.net.head(torch.as_tensor(features, dtype=torch.float32))
        return torch.softmax(logits.double(), dim=1).numpy()

    @torch.no_grad()
    def predict_features(self, features: np.ndarray) -> np.ndarray:
        """Predicted class from penultimate features (saves a second pass through the convolutions)."""
        return self.net.head(torch.as_tensor(features, dtype=torch.float32)).argmax(1).numpy()

    def record(self) -> dict:
        """The keys every result that used this evaluator carries."""
        return {"evaluator": self.source, "evaluator_dataset": self.dataset, "evaluator_recipe": self.recipe,
                "evaluator_sha256": self.sha256, "evaluator_test_accuracy": self.test_accuracy}


def evaluator_dir(cache: str | Path | None = None) -> Path:
    """``cache`` if given, else ``$XDG_CACHE_HOME/latentlab/evaluators`` (default ``~/.cache``)."""
    return Path(cache) if cache is not None else cache_dir("evaluators")


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def data_fingerprint(split: Split) -> str:
    """sha256 of the training images and labels: a cache is only valid for the data it learnt."""
    h = hashlib.sha256(split.x.numpy().tobytes())
    h.update(split.y.numpy().tobytes())
    return h.hexdigest()


def seeded_classifier(shape: tuple[int, int, int], num_classes: int, features: int,
                      generator: torch.Generator) -> Classifier:
    """A fresh Classifier whose weights are drawn from ``generator`` alone (the global RNG is not touched).

    Each layer, in construction order, gets PyTorch's default initialisation (``reset_parameters`` of
    Conv2d and Linear): weight ~ kaiming_uniform(a = sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)); so a generator seeded s gives the weights that
    seeding the global generator with s before ``Classifier(...)`` gives."""
    with torch.device("meta"):  # shapes only: no draw from the global RNG
        net = Classifier(shape, num_classes, features)
    net = net.to_empty(device="cpu")
    for layer in net.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            bound = 1 / math.sqrt(layer.weight[0].numel())  # fan_in: in_features, or in_channels * kh * kw
            nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return net


def train_classifier(train: Split, test: Split, shape: tuple[int, int, int], num_classes: int,
                     log=None) -> tuple[Classifier, float]:
    """Train with ``RECIPE`` (Adam, fixed seed and batch order); return the net and its test accuracy.

    Runs ``epochs`` passes, or more when the split is small, so that at least ``min_steps``
    optimiser steps are taken; the learning rate halves at the start of each of the last two passes.
    Trains on one thread (about 1.5 CPU-minutes on MNIST).
    """
    r = RECIPE
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the same weights on every machine, and no fight for busy cores
    try:
        return _train(train, test, shape, num_classes, log)
    finally:
        torch.set_num_threads(threads)


def _train(train: Split, test: Split, shape: tuple[int, int, int], num_classes: int, log=None) -> tuple[Classifier, float]:
    r = RECIPE
    steps_per_epoch = math.ceil(len(train) / r["batch_size"])
    epochs = max(r["epochs"], math.ceil(r["min_steps"] / steps_per_epoch))
    net = seeded_classifier(shape, num_classes, r["features"], torch.Generator().manual_seed(r["seed"]))
    opt = torch.optim.Adam(net.parameters(), lr=r["lr"])
    order = torch.Generator().manual_seed(r["seed"])
    net.train()
    for epoch in range(epochs):
        if epoch >= epochs - 2:
            for g in opt.param_groups:
                g["lr"] *= r["lr_decay"]
        for x, y in iterate_batches(train, r["batch_size"], shuffle=True, generator=order):
            loss = F.cross_entropy(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if log and epochs <= 10:
            log(f"  evaluator epoch {epoch + 1}/{epochs}: loss {loss.item():.4f}")
    net.eval()
    with torch.no_grad():
        correct = sum(int((net(x).argmax(1) == y).sum()) for x, y in iterate_batches(test, 1000, shuffle=False))
    return net, correct / len(test)


def stem(name: str, shape: tuple[int, int, int]) -> str:
    """File name (no suffix) of an evaluator: ``<dataset>-<C>x<H>x<W>-v<version>``."""
    return f"{name}-{'x'.join(map(str, shape))}-v{RECIPE_VERSION}"


def save_weights(net: Classifier, path: Path, dataset: str) -> str:
    """Write the float32 weights as safetensors (atomically) and return the file's sha256.

    The header holds one metadata entry only: safetensors writes several in no fixed order,
    and the same weights must give the same bytes (and hash) on every run."""
    from latentlab.training.run_folder import atomic_write
    tensors = {name: t.detach().float().contiguous() for name, t in net.state_dict().items()}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={"evaluator": f"{dataset} recipe v{RECIPE_VERSION}"}))
    return file_sha256(path)


def describe(data: Dataset, accuracy: float, digest: str, fingerprint: str, seconds: float) -> dict:
    """The JSON record beside a weights file."""
    return {"dataset": data.name, "shape": list(data.shape), "classes": list(data.classes),
            "recipe_version": RECIPE_VERSION, "recipe": RECIPE, "sha256": digest, "test_accuracy": accuracy,
            "test_images": len(data.test), "train_images": len(data.train), "data_sha256": fingerprint,
            "train_seconds": round(seconds, 1), "torch_threads": 1, "torch_version": torch.__version__.split("+")[0]}


def _load_net(path: Path, shape: tuple[int, int, int], num_classes: int) -> Classifier:
    with torch.device("meta"):  # no initial weights drawn: the file's are assigned
        net = Classifier(shape, num_classes, RECIPE["features"])
    net.load_state_dict(load_file(path), assign=True)
    return net.eval()


def _shipped_files(name: str, weights_dir: str | Path | None) -> tuple[Path, Path]:
    root = Path(weights_dir) if weights_dir is not None else WEIGHTS_DIR
    base = root / stem(name, SHIPPED_SHAPES[name])
    return base.with_suffix(".safetensors"), base.with_suffix(".json")


def shipped_record(name: str, weights_dir: str | Path | None = None) -> dict:
    """The JSON record of the shipped evaluator of ``name`` (test accuracy, data hash, recipe)."""
    path, sidecar = _shipped_files(name, weights_dir)
    try:
        return json.loads(sidecar.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise LatentlabError(f"the record of the shipped {name} evaluator, {sidecar}, cannot be read ({e}): the "
                             "installation is incomplete; reinstall latentlab (pip install --force-reinstall latentlab)") from e


def load_shipped(name: str, weights_dir: str | Path | None = None) -> Evaluator:
    """The evaluator shipped for ``name`` (a key of ``SHIPPED``), after checking its sha256 against the pin.

    A missing file or a hash that is not the pinned one is a LatentlabError, never a retrain: scores
    made with other weights would not be on the shared scale."""
    path, _ = _shipped_files(name, weights_dir)
    if not path.is_file():
        raise LatentlabError(f"the shipped {name} evaluator {path} is missing: the installation is incomplete; reinstall "
                             "latentlab (pip install --force-reinstall latentlab), or re-derive the file with "
                             "`python bench/evaluators.py` from a source checkout")
    digest = file_sha256(path)
    if digest != SHIPPED[name]:
        raise LatentlabError(f"the shipped {name} evaluator {path} hashes to {digest[:12]}..., not the pinned "
                             f"{SHIPPED[name][:12]}...: the file was changed or damaged, and its scores would not be "
                             "comparable with anyone else's. Reinstall latentlab (pip install --force-reinstall latentlab)")
    meta = shipped_record(name, weights_dir)
    shape = SHIPPED_SHAPES[name]
    return Evaluator(_load_net(path, shape, len(meta["classes"])), name, shape, list(meta["classes"]), digest,
                     meta["test_accuracy"], path, source="shipped", recipe=meta["recipe_version"])


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def evaluator_data(dataset: str, data_dir: str | None = None, image_size: int | None = None) -> Dataset:
    """The data an evaluator learns from: the whole training split (no validation hold-out), grey levels."""
    return load_dataset(dataset, data_dir, val_fraction=0.0, seed=0, image_size=image_size, binarize="none", download=False)


def get_evaluator(dataset: str | Dataset, data_dir: str | None = None, image_size: int | None = None,
                  cache: str | Path | None = None, log=_stderr, weights_dir: str | Path | None = None) -> Evaluator:
    """The evaluation classifier of ``dataset`` (a name/path, or an in-memory ``Dataset``).

    ``digits``, ``mnist`` and ``fashion-mnist`` at their own size get the shipped weights (no data
    needed for a name; a ``Dataset`` must hold the very data they learnt). Any other labelled data
    gets a local evaluator, loaded from ``cache`` when its hash checks out, else trained (minutes on
    MNIST-sized data) and cached. ``weights_dir``: where the shipped files are (default: the package's)."""
    if isinstance(dataset, str) and dataset in SHIPPED and image_size in (None, SHIPPED_SHAPES[dataset][1]):
        return load_shipped(dataset, weights_dir)
    data = dataset if isinstance(dataset, Dataset) else evaluator_data(dataset, data_dir, image_size)
    if data.classes is None or data.train.y is None:
        raise LatentlabError(f"dataset {data.name!r} has no labels, and the evaluation classifier needs them: "
                             "sample metrics are only available for labelled datasets")
    if len(data.test) == 0:
        raise LatentlabError(f"dataset {data.name!r} has no test split to measure the evaluation classifier on")
    shape, k = data.shape, len(data.classes)
    fingerprint = data_fingerprint(data.train)
    if data.name in SHIPPED and shape == SHIPPED_SHAPES[data.name]:
        if shipped_record(data.name, weights_dir).get("data_sha256") == fingerprint:
            return load_shipped(data.name, weights_dir)
        log(f"latentlab: these images are named {data.name!r} but are not the training split the shipped {data.name} "
            "evaluator learnt; using a local evaluator (results say `evaluator: local`)")
    root = evaluator_dir(cache)
    path, sidecar = root / f"{stem(data.name, shape)}.safetensors", root / f"{stem(data.name, shape)}.json"

    reason = None
    if path.is_file() and sidecar.is_file():
        try:
            meta = json.loads(sidecar.read_text())
        except json.JSONDecodeError:
            meta = {}
        digest = file_sha256(path)
        if digest != meta.get("sha256"):
            reason = f"its weights hash to {digest[:12]}, not the recorded {str(meta.get('sha256'))[:12]}"
        elif meta.get("data_sha256") != fingerprint:
            reason = "it was trained on different data under the same name"
        else:
            return Evaluator(_load_net(path, shape, k), data.name, shape, list(data.classes), digest,
                             meta["test_accuracy"], path)
    elif path.is_file() or sidecar.is_file():
        reason = f"{sidecar.name if path.is_file() else path.name} is missing"
    if reason:
        log(f"latentlab: the cached evaluator {path} does not match its record ({reason}); retraining it")

    log(f"latentlab: training the {data.name} evaluation classifier on {len(data.train)} images "
        f"(recipe v{RECIPE_VERSION}, once; cached in {root}; results say `evaluator: local`)")
    start = time.time()
    net, accuracy = train_classifier(data.train, data.test, shape, k, log)
    digest = save_weights(net, path, data.name)
    from latentlab.training.run_folder import write_json
    write_json(sidecar, describe(data, accuracy, digest, fingerprint, time.time() - start))
    log(f"latentlab: evaluator trained in {time.time() - start:.0f} s: test accuracy {accuracy:.4f}, sha256 {digest[:12]}")
    return Evaluator(net.eval(), data.name, shape, list(data.classes), digest, accuracy, path)
