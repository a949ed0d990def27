"""Outlier detectors that train: scikit-learn estimators with PyOD's conventions.

    from latentlab.analysis.estimators import AutoEncoderOD, VAEOD
    det = AutoEncoderOD(epochs=50, contamination=0.05, random_state=0).fit(X)   # X (N, D), (N, H, W) or (N, C, H, W)
    det.decision_scores_         # (N,) outlier scores of the training data: higher = more abnormal
    det.threshold_, det.labels_  # the (1 - contamination) quantile of those scores; labels 1 = outlier, 0 = inlier
    det.decision_function(X_new) # (M,) scores
    det.predict(X_new)           # (M,) 1 = outlier, 0 = inlier (PyOD's convention, NOT scikit-learn's -1 / 1)
    det.predict_proba(X_new, method="linear" | "unify")   # (M, 2): [P(inlier), P(outlier)]

Unlike ``latentlab.analysis.anomaly.Detector`` (which wraps a trained model and only sets a
threshold), ``fit`` trains: constructor arguments are the settings, as scikit-learn wants, so the
detectors work in a ``Pipeline``, in ``GridSearchCV`` (with a scorer on the scores, e.g. ROC-AUC)
and with ``clone``. The test suite runs scikit-learn's own estimator checks on both.

Data. Tabular data (N, D) is standardised per feature (z = (x - mean) / std over the training rows,
a constant feature scaled by 1, as PyOD does) and mapped by u = 1/2 + z / 8, so that 4 standard
deviations either side land at 0 and 1; values beyond stay as they are (the decoder of tabular rows
has an identity output, and the squared error keeps growing with them, so they score high). Each
row is a (1, 1, D) "image" for an MLP autoencoder / VAE. Image arrays, values in [0, 1], are used as they are
((N, H, W) gets one channel); ``arch="conv"`` trains the convolutional nets on them.

Scores (higher = more abnormal):
    AutoEncoderOD  the reconstruction error per value, (1/D) sum_i (u_i - u_hat_i)^2   (an AE with recon mse)
    VAEOD          the negative ELBO, E_q[-log p(u|z)] + KL(q(z|u) || N(0, I))    (a VAE, Gaussian likelihood)
                   with the expectation over ``draws`` codes z = mu + sigma * eps. The eps are drawn once
                   in ``fit`` and shared by every row, so a row's score does not depend on the other rows
                   of its batch (scikit-learn's invariance checks) and repeats exactly.

Probabilities (PyOD's ``predict_proba``): ``linear`` rescales the scores by the minimum and maximum of
the training scores and clips to [0, 1]; ``unify`` is erf((s - mean) / (std sqrt 2)) clipped to [0, 1]
with the mean and std of the training scores (Kriegel et al. 2011, "Interpreting and unifying outlier
scores").

Training draws from ``random_state`` inside a forked RNG (the caller's global generator is left as it
was), runs the training loop's optimiser step (``latentlab.training.loop.Trainer``) over seeded
mini-batches without a run folder or pictures, then keeps the model in float64 for scoring.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from scipy.special import erf
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

try:
    from sklearn.utils.validation import validate_data
except ImportError:  # scikit-learn < 1.6: the same check was a private method
    def validate_data(estimator, X, reset=True, **kwargs):
        return estimator._validate_data(X, reset=reset, **kwargs)

from latentlab.config import TrainConfig, from_dict, train_defaults
from latentlab.errors import ConfigError, TrainingDiverged

SPAN = 4.0  # standard deviations mapped to each end of [0, 1]
PROBA_METHODS = ("linear", "unify")
SCORE_BATCH = 1024


class LatentOutlierDetector(OutlierMixin, BaseEstimator):
    """What both detectors share: input checks, training, threshold, predict and predict_proba.
    A subclass names its latentlab model (``model_name``), its model settings and its score."""

    model_name = ""

    # --- what a subclass defines ------------------------------------------------------------
    def model_settings(self) -> dict[str, Any]:
        raise NotImplementedError

    def score_images(self, x: torch.Tensor) -> torch.Tensor:
        """(B,) scores of (B, C, H, W) float64 inputs, under no_grad."""
        raise NotImplementedError

    # --- scikit-learn's API -----------------------------------------------------------------
    def fit(self, X, y=None) -> "LatentOutlierDetector":
        """Train on X (N, D) or images (N, H, W) / (N, C, H, W); ``y`` is ignored (unsupervised)."""
        if not 0 < self.contamination <= 0.5:
            raise ValueError(f"contamination must be in (0, 0.5], got {self.contamination}: it is the expected share of outliers")
        x = self.as_images(X, fitting=True)  # (N, C, H, W) float32
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        self.model_ = self.train_model(x, seed)
        self.after_training(seed)
        self.model_ = self.model_.double().eval()
        self.decision_scores_ = self.scores(x)
        self.threshold_ = float(np.percentile(self.decision_scores_, 100 * (1 - self.contamination)))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
        return self

    def decision_function(self, X) -> np.ndarray:
        """(N,) outlier scores: higher = more abnormal (PyOD's convention)."""
        check_is_fitted(self)
        return self.scores(self.as_images(X, fitting=False))

    def predict(self, X) -> np.ndarray:
        """(N,) 1 for an outlier (score above ``threshold_``), 0 for an inlier (PyOD's convention)."""
        return (self.decision_function(X) > self.threshold_).astype(int)

    def predict_proba(self, X, method: str = "linear") -> np.ndarray:
        """(N, 2): column 0 the probability of an inlier, column 1 of an outlier (PyOD's linear or unify)."""
        if method not in PROBA_METHODS:
            raise ValueError(f"method must be one of {', '.join(PROBA_METHODS)}, got {method!r}")
        s, train = self.decision_function(X), self.decision_scores_
        if method == "linear":
            lo, hi = train.min(), train.max()
            p = (s - lo) / (hi - lo) if hi > lo else (s > hi).astype(float)
        else:
            sd = train.std()
            p = erf((s - train.mean()) / (sd * math.sqrt(2))) if sd > 0 else (s > train.mean()).astype(float)
        p = np.clip(p, 0, 1)
        return np.column_stack([1 - p, p])

    # --- the pieces -------------------------------------------------------------------------
    def as_images(self, X, fitting: bool) -> torch.Tensor:
        """X as (N, C, H, W) float32: tabular rows standardised into (N, 1, 1, D), images as they are."""
        X = validate_data(self, X, reset=fitting, allow_nd=True, dtype=[np.float64, np.float32])
        if X.ndim > 4:
            raise ValueError(f"X must be (N, D) tabular data or images (N, H, W) / (N, C, H, W); got {X.ndim} dimensions")
        if fitting:
            self.input_shape_ = X.shape[1:]
        elif X.shape[1:] != self.input_shape_:
            raise ValueError(f"X has rows of shape {X.shape[1:]}, but {type(self).__name__} was fitted on {self.input_shape_}")
        if X.ndim == 2:
            if fitting:
                self.mean_ = X.mean(0)
                std = X.std(0)
                self.scale_ = np.where(std > 0, std, 1.0)
            u = 0.5 + (X - self.mean_) / self.scale_ / (2 * SPAN)
            return torch.tensor(u, dtype=torch.float32).view(len(u), 1, 1, -1)  # (N, 1, 1, D)
        if fitting and (X.min() < 0 or X.max() > 1):
            raise ValueError(f"image arrays must hold values in [0, 1] (got {X.min():.3g} to {X.max():.3g}); "
                             "divide 8-bit images by 255, or pass (N, D) rows to standardise them")
        x = torch.tensor(X, dtype=torch.float32)
        return x.unsqueeze(1) if x.dim() == 3 else x  # (N, C, H, W)

    def train_model(self, x: torch.Tensor, seed: int) -> torch.nn.Module:
        """Build the latentlab model for x's shape and train it: the loop's optimiser step on seeded batches."""
        from latentlab.data import Split, iterate_batches
        from latentlab.models import MODELS
        from latentlab.training.loop import Trainer, make_optimizer, resolve_device
        cls = MODELS[self.model_name]
        if self.arch == "conv" and x.shape[2] == 1:
            raise ValueError("arch='conv' needs images (N, H, W) or (N, C, H, W); tabular rows use arch='mlp'")
        try:
            cfg = from_dict(TrainConfig, {**train_defaults(cls), "epochs": self.epochs, "batch_size": self.batch_size,
                                          "lr": self.lr, "weight_decay": self.weight_decay, "seed": seed,
                                          "val_fraction": 0.0, "progress": False, "device": self.device})
            model_cfg = from_dict(cls.Config, self.model_settings(), "model setting")
            device = resolve_device(self.device)
        except ConfigError as e:
            raise ValueError(str(e)) from e
        # the initial weights and the training draws come from the seed; the caller's global RNG is left as it was
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            model = cls(model_cfg, tuple(x.shape[1:])).to(device)
            groups = model.optimizer_groups()
            trainer = Trainer(model, model, groups, {g: make_optimizer(cfg, ps) for g, ps in groups.items()})
            schedule, step = model.schedule(), 0
            model.train()
            for epoch in range(cfg.epochs):
                for xb, _ in iterate_batches(Split(x, None), cfg.batch_size, shuffle=True, epoch=epoch, seed=seed):
                    terms = trainer.step(schedule[step % len(schedule)], xb.to(device), None)
                    step += 1
                    if not all(map(math.isfinite, terms.values())):
                        raise TrainingDiverged(f"{type(self).__name__}: the loss became {terms['loss']} at step {step}; "
                                               "try a lower lr")
            return model

    def after_training(self, seed: int) -> None:
        """Anything a detector fixes once training is over (the VAE's shared draws)."""

    @torch.no_grad()
    def scores(self, x: torch.Tensor) -> np.ndarray:
        device = self.model_.device
        out = [self.score_images(b.to(device, torch.float64)).cpu() for b in x.split(SCORE_BATCH)]
        return torch.cat(out).numpy() if out else np.zeros(0)

    def latent_size(self) -> int:
        """latent_dim, or when None max(1, min(16, D // 4)) for D numbers per row."""
        if self.latent_dim is not None:
            return self.latent_dim
        return max(1, min(16, math.prod(self.input_shape_) // 4))


class AutoEncoderOD(LatentOutlierDetector):
    """Autoencoder outlier detector: trains latentlab's ``ae`` (squared error) in ``fit``; the score of a
    row is its reconstruction error. Settings: see the module doc and ``latentlab train ae --help``."""

    model_name = "ae"

    def __init__(self, epochs: int = 50, batch_size: int = 32, lr: float = 1e-3, latent_dim: int | None = None,
                 hidden: int = 64, layers: int = 1, activation: str = "relu", arch: str = "mlp",
                 weight_decay: float = 0.0, contamination: float = 0.1, random_state: int | None = None,
                 device: str = "cpu"):
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.layers = layers
        self.activation = activation
        self.arch = arch
        self.weight_decay = weight_decay
        self.contamination = contamination
        self.random_state = random_state
        self.device = device

    def model_settings(self) -> dict[str, Any]:
        return {"arch": self.arch, "latent_dim": self.latent_size(), "hidden": self.hidden, "layers": self.layers,
                "activation": self.activation, "recon": "mse"}

    def score_images(self, x: torch.Tensor) -> torch.Tensor:
        from latentlab.analysis.anomaly import reconstruction_error
        return reconstruction_error(self.model_, x, "mse")  # (B,) mean squared error per value


class VAEOD(LatentOutlierDetector):
    """VAE outlier detector: trains latentlab's ``vae`` (Gaussian likelihood of width ``sigma``, KL weight
    ``beta``) in ``fit``; the score of a row is its negative ELBO estimated with ``draws`` codes."""

    model_name = "vae"

    def __init__(self, epochs: int = 50, batch_size: int = 32, lr: float = 1e-3, latent_dim: int | None = None,
                 hidden: int = 64, layers: int = 1, activation: str = "relu", arch: str = "mlp",
                 beta: float = 1.0, sigma: float = 0.1, draws: int = 10, weight_decay: float = 0.0,
                 contamination: float = 0.1, random_state: int | None = None, device: str = "cpu"):
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.layers = layers
        self.activation = activation
        self.arch = arch
        self.beta = beta
        self.sigma = sigma
        self.draws = draws
        self.weight_decay = weight_decay
        self.contamination = contamination
        self.random_state = random_state
        self.device = device

    def model_settings(self) -> dict[str, Any]:
        if self.draws < 1:
            raise ConfigError(f"draws must be at least 1, got {self.draws}")
        return {"arch": self.arch, "latent_dim": self.latent_size(), "hidden": self.hidden, "layers": self.layers,
                "activation": self.activation, "likelihood": "gaussian", "sigma": self.sigma, "beta": self.beta}

    def after_training(self, seed: int) -> None:
        gen = torch.Generator().manual_seed(seed + 1)
        self.eps_ = torch.randn(self.draws, self.latent_size(), generator=gen, dtype=torch.float64)  # (draws, latent)

    def score_images(self, x: torch.Tensor) -> torch.Tensor:
        from latentlab.nn.losses import gaussian_kl
        mu, logvar = self.model_.posterior(x)  # (B, latent) each
        z = mu + torch.exp(0.5 * logvar) * self.eps_.to(mu.device)[:, None, :]  # (draws, B, latent)
        nll = -self.model_.log_px_given_z(x, z)  # (draws, B)
        return nll.mean(0) + gaussian_kl(mu, logvar)  # (B,)
