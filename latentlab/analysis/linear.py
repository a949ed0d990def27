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

``pca_pictures`` draws both, side by side:

* pca-components-k<k>.png: the k principal directions as images; the linear AE's k decoder
  columns W_d[:, j] as they are (not orthogonal, not ordered: what the AE learnt); and an
  orthonormal basis Q of span(W_d) rotated to match PCA's, Q R with R the orthogonal k x k
  matrix minimising ||Q R - V_k||_F (orthogonal Procrustes, Schoenemann 1966: R = U W^T from the
  SVD Q^T V_k = U S W^T), each titled with its cosine to the principal direction below which it
  stands; these equal PCA's exactly when the two subspaces are the same;
* pca-reconstructions-k<k>.png: test images, their PCA-k reconstructions and the autoencoder's.
"""
from __future__ import annotations

import math
import textwrap
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA

from latentlab.errors import LatentlabError
from latentlab.models.base import ConditionalEncoder, Encoder
from latentlab.training.run_folder import note


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


def fit_pca(data, k: int) -> PCA:
    """PCA with k + 1 components (the (k+1)-th gives the eigengap) of the flattened training images."""
    xtr = flat(data.train.x)
    if k >= min(xtr.shape):
        raise LatentlabError(f"PCA-{k} needs fewer components than min(images, pixels) = {min(xtr.shape)}: train with a smaller latent_dim")
    return PCA(n_components=min(k + 1, min(xtr.shape)), svd_solver="full").fit(xtr)


def code_size(model, data) -> int:
    """k: the size of the autoencoder's code."""
    if not isinstance(model, Encoder) or isinstance(model, ConditionalEncoder):
        raise LatentlabError(f"a '{model.name}' model has no encoder; compare_pca needs an autoencoder (latentlab train ae --arch linear --recon mse)")
    return int(model.latent(data.train.x[:1].to(model.device)).shape[1])


def compare_pca(model_or_run, data=None, log: Callable[[str], None] | None = note, pca: PCA | None = None) -> PCAComparison:
    """Compare an autoencoder (a model, or a run folder) with PCA-k on the run's data, k = its latent size.

    ``data``: a ``Dataset`` (default: the run's own dataset, split as in training).
    Angles are reported when the decoder is linear (``arch="linear"``); for other
    autoencoders only the errors are compared. ``log``: where the stage lines go
    (default stderr; None for none). ``pca``: a ``fit_pca(data, k)`` already made.
    """
    from latentlab.models.ae import AE
    from latentlab.nn.presets import LinearDecoder
    from latentlab.training.run_folder import load, run_dataset
    log = log or (lambda line: None)
    if isinstance(model_or_run, (str, Path)):
        model, data = load(model_or_run), data or run_dataset(model_or_run)
    else:
        model = model_or_run
    if data is None:
        raise LatentlabError("compare_pca needs the data: pass data=load_dataset(...) or a run folder")
    k = code_size(model, data)
    xtr, xte = flat(data.train.x), flat(data.test.x)
    if pca is None:
        log(f"fitting PCA-{k} to {len(xtr):,} training images of {xtr.shape[1]:,} pixels...")
        pca = fit_pca(data, k)
    comps = pca.components_[:k]  # (k, D) top-k principal directions

    def pca_mse(x: np.ndarray) -> float:
        centred = x - pca.mean_
        return float(((centred - centred @ comps.T @ comps) ** 2).mean())

    n, d = xtr.shape
    lam = pca.explained_variance_ * (n - 1) / n  # eigenvalues of the 1/N covariance
    gap = float(lam[k - 1] - lam[k]) if len(lam) > k else float(lam[k - 1])
    log(f"reconstruction errors of the autoencoder and PCA-{k} on the training and test splits...")
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


# --- the pictures: components and reconstructions side by side --------------------------------------
def decoder_basis(model) -> np.ndarray | None:
    """The linear AE's decoder columns W_d, (D, k); None when the decoder is not linear."""
    from latentlab.models.ae import AE
    from latentlab.nn.presets import LinearDecoder
    if isinstance(model, AE) and isinstance(model.decoder, LinearDecoder):
        return model.decoder.basis().cpu().double().numpy()
    return None


def procrustes_basis(columns: np.ndarray, target: np.ndarray) -> np.ndarray:
    """An orthonormal basis of span(columns) (D, k), rotated to best match the orthonormal ``target``
    (D, k): Q R with Q from the QR decomposition and R = U W^T from the SVD Q^T target = U S W^T,
    the orthogonal R minimising ||Q R - target||_F (orthogonal Procrustes)."""
    q, _ = np.linalg.qr(columns)  # (D, k)
    u, _, wt = np.linalg.svd(q.T @ target)  # (k, k) each
    return q @ (u @ wt)


def _signed_image(v: np.ndarray, shape: tuple[int, int, int]) -> tuple[np.ndarray, dict]:
    """A direction in pixel space as an image: one channel on a diverging colour map centred on 0; colour
    images as 0.5 + v / (2 max|v|)."""
    c, h, w = shape
    scale = float(np.abs(v).max()) or 1.0
    if c == 1:
        return v.reshape(h, w), {"cmap": "RdBu_r", "vmin": -scale, "vmax": scale}
    return (0.5 + v.reshape(c, h, w).transpose(1, 2, 0) / (2 * scale)).clip(0, 1), {}


def _image(x: np.ndarray, shape: tuple[int, int, int]) -> tuple[np.ndarray, dict]:
    c, h, w = shape
    x = x.reshape(c, h, w).clip(0, 1)
    return (x[0], {"cmap": "gray", "vmin": 0, "vmax": 1}) if c == 1 else (x.transpose(1, 2, 0), {})


def _rows_figure(rows: list[tuple[str, list[tuple[np.ndarray, dict, str]]]], cols: int, title: str, path: Path) -> Path:
    """A figure of labelled rows of images: rows = [(label, [(image, imshow options, title), ...]), ...];
    a row longer than ``cols`` wraps onto further lines under the same label."""
    from latentlab.viz.plots import pyplot, save_figure
    lines = [(label if j == 0 else "", row[j:j + cols]) for label, row in rows for j in range(0, max(len(row), 1), cols)]
    fig, axes = pyplot().subplots(len(lines), cols, figsize=(1.15 * cols + 1.2, 1.3 * len(lines) + 0.5), squeeze=False)
    for r, (label, row) in enumerate(lines):
        for j, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            if j >= len(row):
                ax.axis("off")
                continue
            image, options, caption = row[j]
            ax.imshow(image, **options)
            if caption:
                ax.set_title(caption, fontsize=7)
        axes[r, 0].set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
    fig.suptitle(textwrap.fill(title, max(50, 16 * cols)), fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


@torch.no_grad()
def pca_pictures(model, data, out: str | Path, pca: PCA | None = None, n: int = 8) -> list[Path]:
    """pca-components-k<k>.png and pca-reconstructions-k<k>.png in ``out`` (see the module doc); an
    autoencoder whose decoder is not linear gets PCA's components alone. Returns the files written."""
    from latentlab.data.tabular import is_tabular
    shape = tuple(data.shape)
    if is_tabular(shape):
        return []  # rows of features: nothing to draw as images
    k = code_size(model, data)
    pca = pca if pca is not None else fit_pca(data, k)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    comps = pca.components_[:k]  # (k, D)
    ratio = pca.explained_variance_ratio_
    rows = [(f"PCA-{k}", [(*_signed_image(v, shape), f"PC{j + 1} {ratio[j]:.0%}") for j, v in enumerate(comps)])]
    columns = decoder_basis(model)
    if columns is not None:
        rotated = procrustes_basis(columns, comps.T)  # (D, k)
        cosines = (rotated * comps.T).sum(0)  # (k,) both unit columns
        rows.append(("decoder\ncolumns W_d", [(*_signed_image(columns[:, j], shape), f"w{j + 1}") for j in range(k)]))
        rows.append(("span(W_d)\nrotated to PCA", [(*_signed_image(rotated[:, j], shape), f"cos {cosines[j]:.3f}")
                                                   for j in range(k)]))
    what = "principal directions" + (", the linear AE's decoder columns and their span rotated to PCA's (orthogonal "
                                     "Procrustes)" if columns is not None else f" (the '{model.name}' decoder is not linear: "
                                     "it has no directions to show)")
    made = [_rows_figure(rows, min(k, 10), f"{what}; red +, blue -", out / f"pca-components-k{k}.png")]
    x = data.test.x[:n] if len(data.test) else data.train.x[:n]
    xf = flat(x)
    centred = xf - pca.mean_
    x_pca = pca.mean_ + centred @ comps.T @ comps  # (n, D)
    x_ae = flat(model.reconstruct(x.to(model.device)).cpu())
    mse = lambda a: float(((a - xf) ** 2).mean())
    split = "test" if len(data.test) else "training"
    label = "linear AE" if columns is not None else model.name
    rows = [(f"{split} images", [(*_image(v, shape), "") for v in xf]),
            (f"PCA-{k}\nMSE {mse(x_pca):.4f}", [(*_image(v, shape), "") for v in x_pca]),
            (f"{label}\nMSE {mse(x_ae):.4f}", [(*_image(v, shape), "") for v in x_ae])]
    made.append(_rows_figure(rows, len(xf), f"{len(xf)} {split} images and their reconstructions from {k} numbers "
                             "(MSE per pixel over these images)", out / f"pca-reconstructions-k{k}.png"))
    return made
