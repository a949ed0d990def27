"""Anomaly detection with a trained autoencoder or VAE, in the style of PyOD.

    det = Detector(model, score="mse", contamination=0.05).fit(x_normal)
    s = det.score(x)          # (N,) higher = more anomalous
    flags = det.predict(x)    # (N,) 1 = anomaly (score above det.threshold_), 0 = normal

Scores, one per image:
    mse   mean squared error of the reconstruction, (1/D) sum_i (x_i - x_hat_i)^2
    bce   binary cross-entropy of the reconstruction, -sum_i [x_i log x_hat_i + (1 - x_i) log(1 - x_hat_i)]
    elbo  (VAEs) negative ELBO, E_q[-log p(x|z)] + KL(q(z|x) || N(0, I)) (Kingma and Welling 2014),
          the expectation averaged over ``draws`` samples of z
    knn   a density fitted on the latent codes: the mean distance from the image's latent mean to the
          ``neighbors`` nearest latent means of the normal images given to ``fit`` (the k-NN density
          estimate falls as that distance grows); a normal image is not its own neighbour
    wmse  the reconstruction residual weighted pixel by pixel, (1/D) sum_i ((x_i - x_hat_i) / s_i)^2, with
          s_i the standard deviation of pixel i's residual over the normal images given to ``fit`` plus
          0.02: the negative log-likelihood, up to constants, of the residual under a diagonal Gaussian
          fitted on the normal residuals (an error where normal images are always well reconstructed
          counts more than one where they never are)
    mse+knn, wmse+knn  the two parts together: each standardised by its mean and standard deviation over
          the normal images, then summed (an image far from the normal codes or badly reconstructed scores high)

The one-class protocol (``one_class``): train on one class of the training split,
score the whole test split (that class normal, the others anomalous), ROC-AUC;
for every class and several seeds. It says each stage as it starts ("training ae on
class 3 (3), run 4 of 10: seed 0, ...", "scoring 10,000 test images...") to ``log``
(default stderr), and a line when its results replace those of an earlier request
in the same folder.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from latentlab.config import train_defaults
from latentlab.data import Dataset
from latentlab.errors import LatentlabError
from latentlab.models.base import ConditionalEncoder, Encoder, GenerativeModel, LikelihoodModel
from latentlab.training.run_folder import note

SCORES = ("auto", "mse", "bce", "elbo", "knn", "wmse", "mse+knn", "wmse+knn")
FITTED = ("knn", "wmse", "mse+knn", "wmse+knn")  # scores measured against the normal images: ``fit`` before ``score``
RESIDUAL_FLOOR = 0.02  # wmse: added to each pixel's residual standard deviation (intensities in [0, 1]), so that
                       # pixels the normal images always reconstruct exactly do not divide by zero
NORMAL = "normal.json"  # in a run folder trained by the one-class protocol: its dataset and normal class


def _class(model: GenerativeModel | type[GenerativeModel]) -> type:
    return model if isinstance(model, type) else type(model)


def is_variational(model: GenerativeModel | type[GenerativeModel]) -> bool:
    """A VAE-like model (or model class): a LikelihoodModel, with a Gaussian posterior q(z|x) and p(x|z)."""
    return issubclass(_class(model), LikelihoodModel)


def resolve_score(model: GenerativeModel | type[GenerativeModel], score: str) -> str:
    """The score to use for a model (or model class): "auto" picks elbo for a VAE, else mse."""
    if score not in SCORES:
        raise LatentlabError(f"unknown anomaly score {score!r}; choose from {', '.join(SCORES)}")
    cls = _class(model)
    if not issubclass(cls, Encoder):
        raise LatentlabError(f"a '{model.name}' model has no encoder, so it cannot score images; use an ae or vae")
    if issubclass(cls, ConditionalEncoder):
        raise LatentlabError(f"a '{model.name}' model encodes an image together with its label, and an anomaly "
                             "has no label to give: use an ae or vae")
    if score == "auto":
        return "elbo" if is_variational(cls) else "mse"
    if score == "elbo" and not is_variational(cls):
        raise LatentlabError(f"score 'elbo' needs a VAE, and '{model.name}' is not one; use --score mse or bce")
    return score


@torch.no_grad()
def reconstruction_error(model: GenerativeModel, x: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """(B,) per-image reconstruction error of x (B, C, H, W): mean squared error or summed BCE."""
    x_hat = model.reconstruct(x)  # (B, C, H, W) in [0, 1]
    if kind == "mse":
        return (x - x_hat).pow(2).flatten(1).mean(1)
    return F.binary_cross_entropy(x_hat.clamp(1e-6, 1 - 1e-6), x, reduction="none").flatten(1).sum(1)


@torch.no_grad()
def negative_elbo(model: LikelihoodModel, x: torch.Tensor, draws: int = 10,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """(B,) -ELBO per image: E_q[-log p(x|z)] estimated with ``draws`` samples of z ~ q(z|x)
    (from ``generator``), plus the analytic KL(q(z|x) || N(0, I))."""
    from latentlab.nn.losses import gaussian_kl, reparameterize
    mu, logvar = model.posterior(x)  # (B, latent) each
    mu_s, logvar_s = mu.expand(draws, *mu.shape), logvar.expand(draws, *logvar.shape)  # (draws, B, latent)
    z = reparameterize(mu_s, logvar_s, generator)  # (draws, B, latent)
    nll = -model.log_px_given_z(x, z)  # (draws, B)
    return nll.mean(0) + gaussian_kl(mu, logvar)


class Detector:
    """Anomaly detector on a trained AE/VAE: ``fit`` on normal data sets the threshold, ``score`` and ``predict``.

    PyOD's names work too: ``decision_function`` (= score), ``decision_scores_`` (scores of the
    fitted data), ``threshold_`` and ``labels_`` (1 = anomaly).
    """

    def __init__(self, model: GenerativeModel | str | Path, score: str = "auto", contamination: float = 0.1,
                 draws: int = 10, batch_size: int = 500, seed: int = 0, neighbors: int = 5):
        if isinstance(model, (str, Path)):
            from latentlab.training.run_folder import load
            model = load(model)
        if not 0 < contamination < 0.5:
            raise LatentlabError(f"contamination must be in (0, 0.5), got {contamination}: it is the expected share of anomalies")
        if draws < 1:
            raise LatentlabError(f"draws must be at least 1, got {draws}")
        if neighbors < 1:
            raise LatentlabError(f"neighbors must be at least 1, got {neighbors}: the knn score averages the distances "
                                 "to that many normal codes")
        self.model = model.eval()
        self.neighbors = neighbors
        self._index = None  # knn scores: the nearest-neighbour index of the normal codes (set by fit)
        self._pixel_sd: torch.Tensor | None = None  # wmse: (C, H, W) residual std of the normal images + floor (fit)
        self._scale: dict[str, tuple[float, float]] = {}  # two parts: mean and std of each over the normal images
        self.kind = resolve_score(model, score)
        self.contamination = contamination
        self.draws = draws
        self.batch_size = batch_size
        self.seed = seed
        self.threshold_: float | None = None

    def score(self, x: torch.Tensor | np.ndarray) -> np.ndarray:
        """(N,) anomaly scores of images x (N, C, H, W) in [0, 1]; higher = more anomalous."""
        x = torch.as_tensor(x, dtype=torch.float32)
        if self.kind not in FITTED:
            return self._per_image(x, self.kind)
        if self.threshold_ is None:
            raise LatentlabError(f"the {self.kind} score is measured against the normal images: call "
                                 "fit(normal_images) first")
        return self._combine(self._parts(x))

    decision_function = score

    def _per_image(self, x: torch.Tensor, kind: str) -> np.ndarray:
        """(N,) reconstruction error or -ELBO of each image, computed batch by batch."""
        # the ELBO draws: the same images always get the same scores
        generator = torch.Generator(self.model.device).manual_seed(self.seed)
        out = []
        for batch in x.split(self.batch_size):
            batch = batch.to(self.model.device)
            s = (negative_elbo(self.model, batch, self.draws, generator) if kind == "elbo"
                 else reconstruction_error(self.model, batch, kind))
            out.append(s.cpu())
        return torch.cat(out).double().numpy()

    @torch.no_grad()
    def _residuals(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) x - x_hat, computed batch by batch."""
        return torch.cat([b - self.model.reconstruct(b.to(self.model.device)).cpu() for b in x.split(self.batch_size)])

    def _parts(self, x: torch.Tensor, codes: np.ndarray | None = None, leave_one_out: bool = False,
               residuals: torch.Tensor | None = None) -> dict[str, np.ndarray]:
        """The (N,) parts of a fitted score, by name: knn, the mean distance from each image's latent mean
        (``codes`` when given) to its nearest normal codes, itself left out when ``leave_one_out`` (x are the
        fitted normal images); mse; wmse (from ``residuals`` when given)."""
        from latentlab.analysis.cluster import latent_codes
        parts = {}
        for name in self.kind.split("+"):
            if name == "knn":
                codes = latent_codes(self.model, x, self.batch_size) if codes is None else codes  # (N, latent)
                dist, _ = self._index.kneighbors(codes, self.neighbors + leave_one_out)  # (N, neighbors [+ 1])
                parts["knn"] = dist[:, int(leave_one_out):].mean(1)
            elif name == "wmse":
                r = self._residuals(x) if residuals is None else residuals  # (N, C, H, W)
                parts["wmse"] = (r / self._pixel_sd).pow(2).flatten(1).mean(1).double().numpy()
            else:
                parts[name] = self._per_image(x, name)
        return parts

    def _combine(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        """One part as it is; several standardised by the normal images' mean and std (``_scale``), then summed."""
        if len(parts) == 1:
            return next(iter(parts.values()))
        return sum((v - self._scale[k][0]) / self._scale[k][1] for k, v in parts.items())

    def fit(self, x: torch.Tensor | np.ndarray) -> "Detector":
        """Score normal images and put the threshold at their (1 - contamination) quantile; the knn scores first
        index the normal images' latent codes (each normal image is scored without itself), wmse first measures
        the spread of their residuals pixel by pixel."""
        x = torch.as_tensor(x, dtype=torch.float32)
        if self.kind in FITTED:
            from sklearn.neighbors import NearestNeighbors
            from latentlab.analysis.cluster import latent_codes
            names = self.kind.split("+")
            codes = residuals = None
            if "knn" in names:
                if len(x) <= self.neighbors:
                    raise LatentlabError(f"the {self.kind} score needs more than neighbors = {self.neighbors} normal "
                                         f"images to fit on, got {len(x)}: give more images or fewer neighbors")
                codes = latent_codes(self.model, x, self.batch_size)  # (N, latent): encoded once, indexed and scored
                self._index = NearestNeighbors().fit(codes)
            if "wmse" in names:
                if len(x) < 2:
                    raise LatentlabError(f"the {self.kind} score measures the spread of the normal images' residuals: "
                                         f"fit it on at least 2 images, got {len(x)}")
                residuals = self._residuals(x)  # (N, C, H, W)
                self._pixel_sd = residuals.std(0) + RESIDUAL_FLOOR  # (C, H, W)
            parts = self._parts(x, codes, leave_one_out=True, residuals=residuals)
            self._scale = {k: (float(v.mean()), float(v.std()) or 1.0) for k, v in parts.items()}
            self.decision_scores_ = self._combine(parts)
        else:
            self.decision_scores_ = self.score(x)
        self.threshold_ = float(np.quantile(self.decision_scores_, 1 - self.contamination))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
        return self

    def predict(self, x: torch.Tensor | np.ndarray) -> np.ndarray:
        """(N,) 1 for an anomaly (score above the threshold), 0 for normal."""
        if self.threshold_ is None:
            raise LatentlabError("the detector has no threshold yet: call fit(normal_images) first")
        return (self.score(x) > self.threshold_).astype(int)


def train_detector(model: str, x_normal: torch.Tensor, work_dir: str | Path, score: str = "auto",
                   contamination: float = 0.1, draws: int = 10, dataset: str = "normal",
                   normal_class: int | None = None, **settings: Any) -> Detector:
    """Train ``model`` ("ae", "vae") on the images x_normal (N, C, H, W) and fit a detector on them.

    Every image trains except a seeded validation share (``val_fraction``, default 0.1), which also
    stands in as the run's test split for its pictures; the run folder is ``work_dir/run``.
    ``settings`` are those of ``latentlab.train``. ``dataset`` (the name or path the images came from)
    and ``normal_class`` (their class, None for all of them) are recorded in the run folder's config and
    its ``normal.json``, so that ``latentlab anomaly RUN`` scores that dataset's test split against them.
    """
    from latentlab.data import Dataset, Split
    from latentlab.training.loop import train
    from latentlab.training.run_folder import write_json
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    n_val = round(settings.get("val_fraction", 0.1) * len(x_normal))
    order = torch.randperm(len(x_normal), generator=torch.Generator().manual_seed(settings.get("seed", 0)))
    val = Split(x_normal[order[:n_val]], None)
    data = Dataset(name=dataset, train=Split(x_normal[order[n_val:]], None), val=val, test=val, classes=None)
    run = train(model, data=data, out=str(work_dir / "run"), **settings)
    write_json(run.dir / NORMAL, {"dataset": dataset, "normal_class": normal_class, "images": len(x_normal)})
    return Detector(run.model, score, contamination, draws).fit(x_normal)


# --- the one-class protocol ---------------------------------------------------------------------

def load_images(dataset: str, data_dir: str | None = None, image_size: int | None = None, binarize: str = "none",
                threshold: float = 0.5, **_: Any) -> Dataset:
    """The dataset with every training image in ``train`` (no validation split: each detector's own
    training run holds out its validation images), statically binarized when training will be."""
    from latentlab.data import load_dataset
    return load_dataset(dataset, data_dir, 0.0, 0, image_size, "static" if binarize == "static" else "none", threshold)


@dataclass
class OneClassResult:
    """ROC-AUC per normal class and seed, and the test scores of the first seed (for the plots)."""

    dataset: str
    score: str
    classes: list[str]
    auc: dict[int, list[float]] = field(default_factory=dict)  # class -> AUC per seed
    scores: dict[int, np.ndarray] = field(default_factory=dict)  # class -> test scores (first seed)
    thresholds: dict[int, float] = field(default_factory=dict)  # class -> threshold (first seed)
    test_y: np.ndarray | None = None

    @property
    def mean_auc(self) -> float:
        """Mean over classes of each class's mean AUC over seeds."""
        return float(np.mean([np.mean(v) for v in self.auc.values()]))

    def table(self) -> str:
        """Markdown: one row per normal class, AUC mean +- std over seeds (in %), then the mean."""
        seeds = max(len(v) for v in self.auc.values())
        lines = [f"| normal class | ROC-AUC % (mean ± std over {seeds} seeds) |", "|---|---|"]
        for k, v in self.auc.items():
            lines.append(f"| {k} ({self.classes[k]}) | {100 * np.mean(v):.1f} ± {100 * np.std(v):.1f} |")
        per_seed = np.array(list(self.auc.values())).mean(0)  # (seeds,) mean over classes per seed
        lines.append(f"| **mean** | **{100 * self.mean_auc:.1f}** ± {100 * np.std(per_seed):.1f} |")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"dataset": self.dataset, "score": self.score, "mean_auc": self.mean_auc,
                "auc": {str(k): v for k, v in self.auc.items()},
                "auc_mean": {str(k): float(np.mean(v)) for k, v in self.auc.items()},
                "auc_std": {str(k): float(np.std(v)) for k, v in self.auc.items()}}


def recorded_name(dataset: str, data: Dataset) -> str:
    """The dataset name a detector's run records: ``dataset`` as given (a path stays a path, so that the run's
    commands load it again), unless the images handed in are another dataset's."""
    return dataset if data.name in (dataset, Path(dataset).stem) else data.name


def check_classes(normal: list[int] | None, classes: list[str] | None) -> list[int]:
    """The normal classes to run (all of them when None); an index outside the classes is an error."""
    if classes is None:
        raise LatentlabError("the dataset has no labels, so there is no class to train on: drop the class choice "
                             "to train on all training images and score the test split without ROC-AUC")
    if normal is None:
        return list(range(len(classes)))
    bad = [k for k in normal if not 0 <= k < len(classes)]
    if bad:
        raise LatentlabError(f"class {bad[0]} is outside the dataset's classes 0..{len(classes) - 1}; pick classes in that range")
    return list(dict.fromkeys(normal))


def one_class(model: str = "ae", dataset: str = "digits", out: str | Path = "anomaly", normal: list[int] | None = None,
              seeds: list[int] = (0,), score: str = "auto", contamination: float = 0.1, draws: int = 10,
              data_dir: str | None = None, data: Dataset | None = None, log: Callable[[str], None] | None = note,
              **settings: Any) -> OneClassResult:
    """Train on each normal class of the training split, score the whole test split, ROC-AUC per class and seed.

    Run folders go to ``out/class-K/seed-S``; the per-class table, anomaly.json, roc.png and scores.png to ``out``.
    ``data``: the dataset already loaded by ``load_images`` (else ``dataset`` is loaded). ``log``: where the
    stage lines go (default stderr; None for none).
    """
    from sklearn.metrics import roc_auc_score
    from latentlab.models import get_model_class
    from latentlab.training.run_folder import has_checkpoint
    log = log or (lambda line: None)
    resolve_score(get_model_class(model), score)  # a bad score fails before any training
    data = data if data is not None else load_images(dataset, data_dir, **settings)
    normal = check_classes(normal, data.classes)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    test_y = data.test.y.numpy()
    result = OneClassResult(data.name, score, data.classes, test_y=test_y)
    taken = [f"class-{k}/seed-{s}" for k in normal for s in seeds if has_checkpoint(out / f"class-{k}" / f"seed-{s}" / "run")]
    if taken:  # refused before any training, not after the other classes
        raise LatentlabError(f"{out} already holds the trained runs of an earlier request ({', '.join(taken[:3])}"
                             f"{', ...' if len(taken) > 3 else ''}): choose another --out, or delete those folders "
                             "to train them again")
    epochs = settings.get("epochs", train_defaults(get_model_class(model))["epochs"])
    name = recorded_name(dataset, data)
    for n, k in enumerate(normal):
        x_k = data.train.x[data.train.y == k]  # (N_k, C, H, W)
        if not (test_y == k).any() or (test_y == k).all():
            raise LatentlabError(f"the test split needs images of class {k} and of other classes for ROC-AUC")
        for i, s in enumerate(seeds):
            log(f"training {model} on class {k} ({data.classes[k]}), run {n * len(seeds) + i + 1} of {len(normal) * len(seeds)}: "
                f"seed {s}, {len(x_k):,} images, {epochs} epoch{'s' * (epochs != 1)}...")
            det = train_detector(model, x_k, out / f"class-{k}" / f"seed-{s}", score, contamination, draws, name, k,
                                 seed=s, **{"progress": False, "data_dir": data_dir, **settings})
            log(f"scoring {len(data.test):,} test images ({det.kind})...")
            test_scores = det.score(data.test.x)
            auc = float(roc_auc_score(test_y != k, test_scores))  # anomalies are the positives
            result.auc.setdefault(k, []).append(auc)
            if i == 0:
                result.scores[k], result.thresholds[k] = test_scores, det.threshold_
            result.score = det.kind
            print(f"class {k} ({data.classes[k]}) seed {s}: ROC-AUC {100 * auc:.2f}", flush=True)
    replacing(out, ("anomaly.md", "anomaly.json", "roc.png", "scores.png"), log)
    write_one_class(result, out)
    return result


def replacing(out: Path, files: tuple[str, ...], log: Callable[[str], None]) -> None:
    """Say which results of an earlier request in ``out`` (its anomaly.json: classes and score) are replaced."""
    import json
    there = [name for name in files if (out / name).exists()]
    if not there:
        return
    try:
        earlier = json.loads((out / "anomaly.json").read_text())
        was = f" (score {earlier['score']}, " + (f"normal classes {', '.join(earlier['auc'])})" if earlier.get("auc")
                                                  else "no labels)")
    except (OSError, ValueError, KeyError, TypeError):
        was = ""
    log(f"replacing {', '.join(there)} in {out}, written by an earlier request{was}")


def write_one_class(result: OneClassResult, out: Path) -> None:
    """anomaly.md (the table), anomaly.json, roc.png and scores.png."""
    from latentlab.training.run_folder import atomic_write, write_json
    write_json(out / "anomaly.json", result.to_json())
    text = f"# One-class anomaly detection on {result.dataset} (score: {result.score})\n\n{result.table()}\n"
    atomic_write(out / "anomaly.md", lambda tmp: Path(tmp).write_text(text))
    plot_roc(result, out / "roc.png")
    plot_score_histograms(result, out / "scores.png")


def plot_roc(result: OneClassResult, path: Path) -> Path:
    """One ROC curve per normal class (first seed)."""
    from sklearn.metrics import roc_curve
    from latentlab.viz.plots import plt, save_figure
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for k, s in result.scores.items():
        fpr, tpr, _ = roc_curve(result.test_y != k, s)
        ax.plot(fpr, tpr, lw=1.2, label=f"{k} ({result.auc[k][0]:.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC, {result.dataset}, score {result.score}")
    ax.legend(title="normal class (AUC)", fontsize=7)
    return save_figure(fig, path)


def plot_score_histograms(result: OneClassResult, path: Path) -> Path:
    """Per normal class: histograms of the test scores of normal and anomalous images, and the threshold."""
    from latentlab.viz.plots import plt, save_figure
    ks = list(result.scores)
    cols = min(5, len(ks))
    rows = -(-len(ks) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False, layout="constrained")
    for ax, k in zip(axes.flat, ks):
        s, normal = result.scores[k], result.test_y == k
        bins = np.histogram_bin_edges(s, 50)
        ax.hist(s[normal], bins, density=True, alpha=0.6, label="normal")
        ax.hist(s[~normal], bins, density=True, alpha=0.6, label="anomalous")
        ax.axvline(result.thresholds[k], color="k", ls="--", lw=0.8)
        ax.set_title(f"class {k} ({result.classes[k]})", fontsize=9)
    for ax in list(axes.flat)[len(ks):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"test scores ({result.score}); dashed: threshold")
    return save_figure(fig, path)


def unlabelled(model: str, dataset: str, out: str | Path, score: str = "auto", contamination: float = 0.1,
               draws: int = 10, data_dir: str | None = None, seed: int = 0, data: Dataset | None = None,
               log: Callable[[str], None] | None = note, **settings: Any) -> dict:
    """No labels: train on all training images, score the test split and flag anomalies; no ROC-AUC.
    ``log``: where the stage lines go (default stderr)."""
    from latentlab.viz.plots import plt, save_figure
    from latentlab.models import get_model_class
    from latentlab.training.run_folder import has_checkpoint, write_json
    log = log or (lambda line: None)
    resolve_score(get_model_class(model), score)
    data = data if data is not None else load_images(dataset, data_dir, **settings)
    out = Path(out)
    if has_checkpoint(out / "train" / "run"):
        raise LatentlabError(f"{out} already holds the trained run of an earlier request ({out / 'train'}): choose another "
                             "--out, or delete that folder to train it again")
    epochs = settings.get("epochs", train_defaults(get_model_class(model))["epochs"])
    log(f"training {model} on all {len(data.train):,} training images: seed {seed}, {epochs} epoch{'s' * (epochs != 1)}...")
    det = train_detector(model, data.train.x, out / "train", score, contamination, draws, recorded_name(dataset, data),
                         None, seed=seed, **{"progress": False, "data_dir": data_dir, **settings})
    log(f"scoring {len(data.test):,} test images ({det.kind})...")
    s = det.score(data.test.x)
    replacing(out, ("anomaly.json", "scores.png", "test_scores.npy"), log)
    flags = (s > det.threshold_).astype(int)
    np.save(out / "test_scores.npy", s)
    summary = {"dataset": data.name, "score": det.kind, "threshold": det.threshold_, "test_images": len(s),
               "flagged": int(flags.sum()), "auc": None, "note": "ROC-AUC needs labels: the dataset has none"}
    write_json(out / "anomaly.json", summary)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(s, 50)
    ax.axvline(det.threshold_, color="k", ls="--", lw=0.8)
    ax.set(title=f"test scores ({det.kind}); dashed: threshold", xlabel="score", ylabel="images")
    save_figure(fig, out / "scores.png")
    return summary


# --- a trained run: score its test split, show the most and least anomalous images ---------------

@dataclass
class RunScores:
    """The anomaly scores of a run's test split, and ROC-AUC when the normal class is known."""

    run: str
    score: str  # the score used: mse, bce or elbo
    scores: np.ndarray  # (N,) one per test image, higher = more anomalous
    labels: np.ndarray | None  # (N,) test labels, None when the data have none
    classes: list[str] | None
    normal_class: int | None  # None: every class was normal (or nothing is known)
    normal_from: str  # where normal_class came from: "--normal-class", "normal.json", "the folder layout", ""
    auc: float | None = None  # anomalies (label != normal class) are the positives

    def ranked(self) -> np.ndarray:
        """Test-image indices, most anomalous first (ties: the lower index first)."""
        return np.argsort(-self.scores, kind="stable")

    def most(self, n: int) -> np.ndarray:
        return self.ranked()[:n]

    def least(self, n: int) -> np.ndarray:
        return np.argsort(self.scores, kind="stable")[:n]

    def to_json(self, n: int) -> dict:
        def rows(idx: np.ndarray) -> list[dict]:
            return [{"index": int(i), "score": float(self.scores[i]),
                     "label": None if self.labels is None else int(self.labels[i])} for i in idx]
        return {"run": self.run, "score": self.score, "test_images": len(self.scores),
                "normal_class": self.normal_class, "normal_class_from": self.normal_from or None, "auc": self.auc,
                "score_mean": float(self.scores.mean()), "score_median": float(np.median(self.scores)),
                "most_anomalous": rows(self.most(n)), "least_anomalous": rows(self.least(n))}


def recorded_normal_class(run_dir: str | Path) -> tuple[int | None, str]:
    """The normal class a run was trained on, when the one-class protocol trained it: from its normal.json,
    or, for runs written before that file existed, from the protocol's folder layout OUT/class-K/seed-S/run."""
    import json
    import re
    run_dir = Path(run_dir)
    path = run_dir / NORMAL
    if path.is_file():
        try:
            k = json.loads(path.read_text())["normal_class"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise LatentlabError(f"{path} is damaged ({e}): delete it and give the class with --normal-class K") from e
        return (None, "") if k is None else (int(k), NORMAL)
    found = re.fullmatch(r"class-(\d+)", run_dir.resolve().parent.parent.name)
    if run_dir.name == "run" and found and re.fullmatch(r"seed-\d+", run_dir.resolve().parent.name):
        return int(found.group(1)), "the folder layout"
    return None, ""


def normal_from_protocol(where: str) -> bool:
    return where in (NORMAL, "the folder layout")


def score_run(run_dir: str | Path, score: str = "auto", draws: int = 10, normal_class: int | None = None,
              which: str = "last", data_dir: str | None = None, seed: int = 0,
              log: Callable[[str], None] | None = note) -> tuple[RunScores, Dataset]:
    """Score the test split of a run's dataset with the run's model (no training); returns the scores and the data.

    The normal class is ``normal_class``, else the one the one-class protocol trained the run on
    (``recorded_normal_class``); with it and labelled test images, ROC-AUC (the other classes are the
    anomalies). A run trained on every class has no normal class: its scores rank the test images only."""
    from sklearn.metrics import roc_auc_score
    from latentlab.training.run_folder import load, read_run, run_dataset
    log = log or (lambda line: None)
    info = read_run(run_dir)
    model = load(run_dir, which)
    det = Detector(model, score, draws=draws, seed=seed)  # refuses a model that cannot score images
    where = "--normal-class"
    if normal_class is None:
        normal_class, where = recorded_normal_class(run_dir)
    if info.train.dataset == "normal" and normal_from_protocol(where):
        raise LatentlabError(f"{run_dir} was trained by `latentlab anomaly MODEL` before its runs recorded their dataset, "
                             "so there is no test split to score it on: train it again with that command")
    data = run_dataset(run_dir, data_dir)
    test = data.test
    if not len(test):
        raise LatentlabError(f"the run's dataset {info.train.dataset!r} has no test split to score")
    labels = None if test.y is None else test.y.numpy()
    if normal_class is not None:
        if labels is None or data.classes is None:
            raise LatentlabError(f"ROC-AUC against normal class {normal_class} needs labelled test images, and "
                                 f"{info.train.dataset!r} has none: drop --normal-class to rank the images by score only")
        if not 0 <= normal_class < len(data.classes):
            raise LatentlabError(f"class {normal_class} is outside the dataset's classes 0..{len(data.classes) - 1}; "
                                 "pick a class in that range")
    if det.kind in FITTED:  # distances to the normal images' codes: those of the training split
        parts = [p for p in (data.train, data.val) if len(p)]
        x_normal = torch.cat([p.x if normal_class is None else p.x[p.y == normal_class] for p in parts])
        what = "all" if normal_class is None else f"class {normal_class}'s"
        log(f"indexing the latent codes of {what} {len(x_normal):,} training images ({det.kind})...")
        det.fit(x_normal)
    log(f"scoring {len(test):,} test images of {info.train.dataset} ({det.kind})...")
    scores = det.score(test.x)
    result = RunScores(str(run_dir), det.kind, scores, labels, data.classes, normal_class,
                       where if normal_class is not None else "")
    if normal_class is not None:
        anomalous = labels != normal_class
        if anomalous.all() or not anomalous.any():
            raise LatentlabError(f"the test split needs images of class {normal_class} and of other classes for ROC-AUC")
        result.auc = float(roc_auc_score(anomalous, scores))
    return result, data


def plot_ranked(x: torch.Tensor, result: RunScores, idx: np.ndarray, title: str, path: Path, cols: int = 8) -> Path:
    """The test images ``idx`` in their order, each titled with its score (and its label; with a normal
    class, anomalous labels in red and normal ones in green)."""
    from latentlab.viz.plots import pyplot, save_figure
    plt = pyplot()
    rows = max(1, -(-len(idx) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.25 * cols, 1.55 * rows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, idx):
        image = x[i].float().clamp(0, 1).permute(1, 2, 0).numpy()  # (H, W, C)
        ax.imshow(image[..., 0] if image.shape[2] == 1 else image, cmap="gray", vmin=0, vmax=1)
        text, colour = f"{result.scores[i]:.3g}", "black"
        if result.labels is not None:
            label = int(result.labels[i])
            text += f"\n{result.classes[label] if result.classes else label}"
            if result.normal_class is not None:
                colour = "tab:green" if label == result.normal_class else "tab:red"
        ax.set_title(text, fontsize=7, color=colour)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def write_run_scores(result: RunScores, data: Dataset, out: str | Path, n: int = 16) -> list[Path]:
    """anomaly-most.png, anomaly-least.png (the n most and least anomalous test images with their scores),
    anomaly-scores.json (AUC, the ranked images) and anomaly-scores.npy (every test image's score) in ``out``."""
    from latentlab.data.tabular import is_tabular
    from latentlab.training.run_folder import write_json
    if n < 1:
        raise LatentlabError(f"the grids need at least 1 image each, got {n}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n = min(n, len(result.scores))
    write_json(out / "anomaly-scores.json", result.to_json(n))
    np.save(out / "anomaly-scores.npy", result.scores)
    made = [out / "anomaly-scores.json", out / "anomaly-scores.npy"]
    if is_tabular(tuple(data.shape)):
        return made  # rows of features: no image to show
    what = f"score {result.score}" + ("" if result.normal_class is None else
                                      f"; normal class {result.normal_class} (green), anomalies red; ROC-AUC {result.auc:.3f}")
    made.append(plot_ranked(data.test.x, result, result.most(n), f"the {n} most anomalous test images ({what})",
                            out / "anomaly-most.png"))
    made.append(plot_ranked(data.test.x, result, result.least(n), f"the {n} least anomalous test images ({what})",
                            out / "anomaly-least.png"))
    return made
