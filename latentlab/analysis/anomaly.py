"""Anomaly detection with a trained autoencoder or VAE, in the style of PyOD.

    det = Detector(model, score="mse", contamination=0.05).fit(x_normal)
    s = det.score(x)          # (N,) higher = more anomalous
    flags = det.predict(x)    # (N,) 1 = anomaly (score above det.threshold_), 0 = normal

Scores, one per image:
    mse   mean squared error of the reconstruction, (1/D) sum_i (x_i - x_hat_i)^2
    bce   binary cross-entropy of the reconstruction, -sum_i [x_i log x_hat_i + (1 - x_i) log(1 - x_hat_i)]
    elbo  (VAEs) negative ELBO, E_q[-log p(x|z)] + KL(q(z|x) || N(0, I)) (Kingma and Welling 2014),
          the expectation averaged over ``draws`` samples of z

The one-class protocol (``one_class``): train on one class of the training split,
score the whole test split (that class normal, the others anomalous), ROC-AUC;
for every class and several seeds.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from latentlab.data import Dataset
from latentlab.errors import LatentlabError
from latentlab.models.base import ConditionalEncoder, Encoder, GenerativeModel, LikelihoodModel

SCORES = ("auto", "mse", "bce", "elbo")


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
                 draws: int = 10, batch_size: int = 500, seed: int = 0):
        if isinstance(model, (str, Path)):
            from latentlab.training.run_folder import load
            model = load(model)
        if not 0 < contamination < 0.5:
            raise LatentlabError(f"contamination must be in (0, 0.5), got {contamination}: it is the expected share of anomalies")
        if draws < 1:
            raise LatentlabError(f"draws must be at least 1, got {draws}")
        self.model = model.eval()
        self.kind = resolve_score(model, score)
        self.contamination = contamination
        self.draws = draws
        self.batch_size = batch_size
        self.seed = seed
        self.threshold_: float | None = None

    def score(self, x: torch.Tensor | np.ndarray) -> np.ndarray:
        """(N,) anomaly scores of images x (N, C, H, W) in [0, 1]; higher = more anomalous."""
        x = torch.as_tensor(x, dtype=torch.float32)
        # the ELBO draws: the same images always get the same scores
        generator = torch.Generator(self.model.device).manual_seed(self.seed)
        out = []
        for batch in x.split(self.batch_size):
            batch = batch.to(self.model.device)
            s = (negative_elbo(self.model, batch, self.draws, generator) if self.kind == "elbo"
                 else reconstruction_error(self.model, batch, self.kind))
            out.append(s.cpu())
        return torch.cat(out).double().numpy()

    decision_function = score

    def fit(self, x: torch.Tensor | np.ndarray) -> "Detector":
        """Score normal images and put the threshold at their (1 - contamination) quantile."""
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
                   contamination: float = 0.1, draws: int = 10, **settings: Any) -> Detector:
    """Train ``model`` ("ae", "vae") on the images x_normal (N, C, H, W) and fit a detector on them.

    Every image trains except a seeded validation share (``val_fraction``, default 0.1), which also
    stands in as the run's test split for its pictures; the run folder is ``work_dir/run``.
    ``settings`` are those of ``latentlab.train``.
    """
    from latentlab.data import Dataset, Split
    from latentlab.training.loop import train
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    n_val = round(settings.get("val_fraction", 0.1) * len(x_normal))
    order = torch.randperm(len(x_normal), generator=torch.Generator().manual_seed(settings.get("seed", 0)))
    val = Split(x_normal[order[:n_val]], None)
    data = Dataset(name="normal", train=Split(x_normal[order[n_val:]], None), val=val, test=val, classes=None)
    run = train(model, data=data, out=str(work_dir / "run"), **settings)
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
              data_dir: str | None = None, data: Dataset | None = None, **settings: Any) -> OneClassResult:
    """Train on each normal class of the training split, score the whole test split, ROC-AUC per class and seed.

    Run folders go to ``out/class-K/seed-S``; the per-class table, anomaly.json, roc.png and scores.png to ``out``.
    ``data``: the dataset already loaded by ``load_images`` (else ``dataset`` is loaded).
    """
    from sklearn.metrics import roc_auc_score
    from latentlab.models import get_model_class
    resolve_score(get_model_class(model), score)  # a bad score fails before any training
    data = data if data is not None else load_images(dataset, data_dir, **settings)
    normal = check_classes(normal, data.classes)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    test_y = data.test.y.numpy()
    result = OneClassResult(data.name, score, data.classes, test_y=test_y)
    for k in normal:
        x_k = data.train.x[data.train.y == k]  # (N_k, C, H, W)
        if not (test_y == k).any() or (test_y == k).all():
            raise LatentlabError(f"the test split needs images of class {k} and of other classes for ROC-AUC")
        for i, s in enumerate(seeds):
            det = train_detector(model, x_k, out / f"class-{k}" / f"seed-{s}", score, contamination, draws,
                                 seed=s, **{"progress": False, **settings})
            test_scores = det.score(data.test.x)
            auc = float(roc_auc_score(test_y != k, test_scores))  # anomalies are the positives
            result.auc.setdefault(k, []).append(auc)
            if i == 0:
                result.scores[k], result.thresholds[k] = test_scores, det.threshold_
            result.score = det.kind
            print(f"class {k} ({data.classes[k]}) seed {s}: ROC-AUC {100 * auc:.2f}", flush=True)
    write_one_class(result, out)
    return result


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
               **settings: Any) -> dict:
    """No labels: train on all training images, score the test split and flag anomalies; no ROC-AUC."""
    from latentlab.viz.plots import plt, save_figure
    from latentlab.models import get_model_class
    from latentlab.training.run_folder import write_json
    resolve_score(get_model_class(model), score)
    data = data if data is not None else load_images(dataset, data_dir, **settings)
    out = Path(out)
    det = train_detector(model, data.train.x, out / "train", score, contamination, draws,
                         seed=seed, **{"progress": False, **settings})
    s = det.score(data.test.x)
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
