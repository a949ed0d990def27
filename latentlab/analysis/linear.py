"""A linear autoencoder against PCA (Baldi and Hornik 1989; Bourlard and Kamp 1988).

With no activations and squared error, x_hat = W_d (W_e x + b_e) + b_d is a rank-k
affine map, and every minimum of its loss spans the same subspace as the top-k
principal directions: the AE learns PCA's subspace, though not its orthogonal,
variance-ordered axes. ``compare_pca`` measures both claims on a trained run:

* reconstruction MSE per pixel of the AE and of PCA-k (scikit-learn), fitted on the
  training split, on the training and the test split;
* principal angles (``scipy.linalg.subspace_angles``) between the decoder's column
  space span(W_d) and the top-k principal directions.

Guarantee. Let lambda_1 >= lambda_2 >= ... be the eigenvalues of the training
covariance (1/N), E_ae and E_pca the per-image squared errors on the training split
and theta_1..theta_k the principal angles. Any reconstruction lying in an affine
translate of span(W_d) errs at least as much as the orthogonal projection onto it, so
with s_i = |P v_i|^2 (P the projector onto span(W_d), v_i the eigenvectors)

    E_ae - E_pca >= sum_{i<=k} lambda_i (1 - s_i) - sum_{i>k} lambda_i s_i
                 >= (lambda_k - lambda_{k+1}) sum_j sin^2 theta_j,

hence  sin^2 theta_max <= (E_ae - E_pca) / (lambda_k - lambda_{k+1}).  A linear AE
within 2% of PCA's error therefore has theta_max <= arcsin sqrt(0.02 E_pca / gap).
``compare_pca`` reports this bound next to the measured angles.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA

from latentlab.errors import LatentlabError
from latentlab.models.base import ConditionalEncoder, Encoder


@dataclass
class PCAComparison:
    k: int
    train_mse_ae: float  # per pixel, training split
    train_mse_pca: float
    test_mse_ae: float  # per pixel, test split (PCA fitted on the training split)
    test_mse_pca: float
    excess: float  # train_mse_ae / train_mse_pca - 1
    angles_deg: list[float] | None  # principal angles, largest first (None: the decoder is not linear)
    max_angle_deg: float | None
    angle_bound_deg: float | None  # the guarantee above, from the training errors
    eigengap: float  # lambda_k - lambda_{k+1} of the training covariance

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        lines = [f"k = {self.k}",
                 f"train MSE per pixel: linear AE {self.train_mse_ae:.6f}  PCA {self.train_mse_pca:.6f}  "
                 f"(AE {self.excess:+.2%})",
                 f"test MSE per pixel:  linear AE {self.test_mse_ae:.6f}  PCA {self.test_mse_pca:.6f}"]
        if self.angles_deg is not None:
            lines.append(f"largest principal angle between span(W_d) and PCA's top-{self.k}: {self.max_angle_deg:.2f} deg "
                         f"(guaranteed <= {self.angle_bound_deg:.2f} deg by the excess error)")
        return "\n".join(lines)


def flat(x: torch.Tensor) -> np.ndarray:
    return x.reshape(len(x), -1).double().numpy()


@torch.no_grad()
def model_mse(model, x: torch.Tensor, batch_size: int = 1000) -> float:
    """Mean squared error per pixel of model.reconstruct on x."""
    total = sum((model.reconstruct(b.to(model.device)).cpu().double() - b.double()).pow(2).sum().item()
                for b in x.split(batch_size))
    return total / x.numel()


def angle_bound(excess_sse: float, gap: float) -> float:
    """Largest principal angle (degrees) allowed by an excess per-image squared error over PCA (module docstring)."""
    if gap <= 0:
        return 90.0
    return math.degrees(math.asin(min(1.0, math.sqrt(max(excess_sse, 0.0) / gap))))


def compare_pca(model_or_run, data=None) -> PCAComparison:
    """Compare an autoencoder (a model, or a run folder) with PCA-k on the run's data, k = its latent size.

    ``data``: a ``Dataset`` (default: the run's own dataset, split as in training).
    Angles are reported when the decoder is linear (``arch="linear"``); for other
    autoencoders only the errors are compared.
    """
    from latentlab.models.ae import AE
    from latentlab.nn.presets import LinearDecoder
    from latentlab.training.run_folder import load, run_dataset
    if isinstance(model_or_run, (str, Path)):
        model, data = load(model_or_run), data or run_dataset(model_or_run)
    else:
        model = model_or_run
    if data is None:
        raise LatentlabError("compare_pca needs the data: pass data=load_dataset(...) or a run folder")
    if not isinstance(model, Encoder) or isinstance(model, ConditionalEncoder):
        raise LatentlabError(f"a '{model.name}' model has no encoder; compare_pca needs an autoencoder (latentlab train ae --arch linear --recon mse)")
    k = int(model.latent(data.train.x[:1].to(model.device)).shape[1])
    xtr, xte = flat(data.train.x), flat(data.test.x)
    if k >= min(xtr.shape):
        raise LatentlabError(f"PCA-{k} needs fewer components than min(images, pixels) = {min(xtr.shape)}: train with a smaller latent_dim")
    pca = PCA(n_components=min(k + 1, min(xtr.shape)), svd_solver="full").fit(xtr)
    comps = pca.components_[:k]  # (k, D) top-k principal directions

    def pca_mse(x: np.ndarray) -> float:
        centred = x - pca.mean_
        return float(((centred - centred @ comps.T @ comps) ** 2).mean())

    n, d = xtr.shape
    lam = pca.explained_variance_ * (n - 1) / n  # eigenvalues of the 1/N covariance
    gap = float(lam[k - 1] - lam[k]) if len(lam) > k else float(lam[k - 1])
    mse_ae, mse_pca = model_mse(model, data.train.x), pca_mse(xtr)
    angles = max_angle = bound = None
    if isinstance(model, AE) and isinstance(model.decoder, LinearDecoder):
        basis = model.decoder.basis().cpu().double().numpy()  # (D, k)
        angles = sorted(np.degrees(subspace_angles(basis, comps.T)).tolist(), reverse=True)
        max_angle = angles[0]
        bound = angle_bound((mse_ae - mse_pca) * d, gap)
    return PCAComparison(k=k, train_mse_ae=mse_ae, train_mse_pca=mse_pca,
                         test_mse_ae=model_mse(model, data.test.x) if len(data.test) else math.nan,
                         test_mse_pca=pca_mse(xte) if len(data.test) else math.nan,
                         excess=mse_ae / mse_pca - 1, angles_deg=angles, max_angle_deg=max_angle,
                         angle_bound_deg=bound, eigengap=gap)


def train_linear_ae(k: int, dataset: str = "digits", **settings: Any):
    """Train ``latentlab.train("ae", arch="linear", recon="mse", latent_dim=k, ...)``; returns the Run."""
    from latentlab.training.loop import train
    return train("ae", arch="linear", recon="mse", latent_dim=k, dataset=dataset, **settings)
