"""Latent exploration: the lecture notes' pictures of a trained autoencoder or VAE.

    latent_map(model, split, path)          test-set latent means, coloured by label (PCA beyond 2-D)
    manifold_grid(model, path, n=15)        decode a grid of prior quantiles of a 2-D latent (Kingma and Welling, fig. 4)
    interpolate(model, za, zb, steps)       decode points between two latent vectors, linear or spherical
    class_means(model, split)               mean latent vector of each class, (K, D)
    arithmetic(model, split, to, frm, idx)  decode z(x) + mean(to) - mean(frm) for images x of class frm

Every function returns images (N, C, H, W) in [0, 1] (or writes a PNG when given a path);
``latentlab explore RUN ...`` is the same from the command line. Spherical interpolation
(slerp; Shoemake 1985, White 2016) follows the great circle between the two vectors, which keeps
the norm of a Gaussian latent typical: a straight line between two draws of N(0, I) in many
dimensions passes through the low-norm centre the decoder rarely saw.

A conditional VAE keeps the class in its label, not its latent: the map and the grid take the
labels (``y`` / ``label``); interpolation and class arithmetic are for unconditional models.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from latentlab.errors import LatentlabError
from latentlab.models.base import ConditionalEncoder, ConditionalSampler, Encoder

METHODS = ("linear", "slerp")


def _need_encoder(model, what: str) -> None:
    if not isinstance(model, Encoder):
        raise LatentlabError(f"{what} needs an encoder, and a '{model.name}' model has none: use an ae, vae or cvae run")


def _unconditional(model, what: str) -> None:
    if isinstance(model, (ConditionalSampler, ConditionalEncoder)):
        raise LatentlabError(f"{what} works on the latent of an unconditional model; a '{model.name}' keeps the class in "
                             f"its label, not in z: draw a class with `latentlab sample RUN --label N` instead")


def latent_dim(model) -> int:
    """Size of the latent of an autoencoder-like model (its ``latent_dim`` setting)."""
    _need_encoder(model, "a latent grid")
    return model.cfg.latent_dim


@torch.no_grad()
def codes(model, x: torch.Tensor, y: torch.Tensor | None = None, batch_size: int = 1000) -> torch.Tensor:
    """Latent means of images x (N, C, H, W): (N, D). A conditional model needs the labels y."""
    _need_encoder(model, "encoding images")
    conditional = isinstance(model, ConditionalEncoder)
    if conditional and y is None:
        raise LatentlabError(f"a '{model.name}' encodes an image together with its label: the data have no labels")
    out = []
    for i in range(0, len(x), batch_size):
        yb = y[i:i + batch_size].to(model.device) if conditional else None  # an unconditional model takes no label
        out.append(model.latent(x[i:i + batch_size].to(model.device), yb))
    return torch.cat(out).cpu()


@torch.no_grad()
def decode(model, z: torch.Tensor, y: torch.Tensor | int | None = None) -> torch.Tensor:
    """Images (N, C, H, W) in [0, 1] decoded from latent vectors z (N, D) (with labels for a conditional model)."""
    _need_encoder(model, "decoding latent vectors")  # an autoencoder-like model: its decoder reads its codes
    z = z.to(model.device)
    y = model.check_labels(y, len(z))  # refuses a label on an unconditional model, asks one of a conditional one
    return model.decode(z, y).cpu()


# --- 1. the map ------------------------------------------------------------------------------
def latent_map(model, split, path: str | Path, classes: list[str] | None = None, n: int = 5000) -> tuple[Path, str]:
    """Scatter of the latent means of the first ``n`` images of ``split``; returns (path, note).

    Coloured by label when the split has labels (else uncoloured, and the note says so);
    a latent of more than two dimensions is shown on its first two principal components."""
    from latentlab.viz.plots import plot_latent
    x, y = split.x[:n], None if split.y is None else split.y[:n]
    z = codes(model, x, y).numpy()
    labels = None if y is None else y.numpy()
    note = "" if labels is not None else "the data have no labels: the map is drawn without colours"
    if z.shape[1] > 2:
        note = "; ".join(filter(None, [note, f"{z.shape[1]}-D latent shown on its first two principal components"]))
    title = f"{model.name}: latent means of {len(z)} test images"
    return plot_latent(z, labels, Path(path), classes, title=title), note


# --- 2. the manifold grid --------------------------------------------------------------------
def manifold_grid(model, path: str | Path | None = None, n: int = 15, label: int | None = None,
                  lo: float = 0.05, hi: float = 0.95) -> torch.Tensor:
    """Decode an n x n grid of prior quantiles of a 2-D latent: (n*n, C, H, W).

    z_j = Phi^-1(q_j), q evenly spaced in [lo, hi] (the inverse CDF of N(0, 1), as in Kingma and
    Welling's figure 4); rows go down z2 (high at the top), columns across z1."""
    from scipy.stats import norm
    if latent_dim(model) != 2:
        raise LatentlabError(f"the manifold grid needs a 2-D latent and this model's has {latent_dim(model)}: "
                             "train one with --latent-dim 2 (the --map works for any latent)")
    if n < 2:
        raise LatentlabError(f"the grid needs at least 2 points per side, got {n}")
    q = norm.ppf(np.linspace(lo, hi, n))  # (n,) quantiles of N(0, 1)
    z1, z2 = np.meshgrid(q, q[::-1])  # rows: z2 from high to low
    z = torch.tensor(np.stack([z1.ravel(), z2.ravel()], 1), dtype=torch.float32)  # (n*n, 2)
    images = decode(model, z, label)
    if path is not None:
        from latentlab.viz.plots import save_grid
        save_grid(images, path, nrow=n)
    return images


# --- 3. interpolation ------------------------------------------------------------------------
def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between vectors a, b (D,) at fractions t (T,): (T, D).

    slerp = sin((1-t) W) / sin W * a + sin(t W) / sin W * b, W the angle between a and b;
    the straight line when a and b are (anti)parallel, where the great circle is undefined."""
    cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1, 1))
    t = t[:, None]  # (T, 1)
    if float(torch.sin(omega)) < 1e-6:
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def interpolate(model, za: torch.Tensor, zb: torch.Tensor, steps: int = 10, method: str = "linear") -> torch.Tensor:
    """Decode ``steps`` points from za to zb (both (D,)), ends included: (steps, C, H, W)."""
    _unconditional(model, "interpolation")
    if steps < 2:
        raise LatentlabError(f"interpolation needs at least 2 steps (the two ends), got {steps}")
    if method not in METHODS:
        raise LatentlabError(f"unknown interpolation {method!r}; choose from {', '.join(METHODS)}")
    t = torch.linspace(0, 1, steps)
    za, zb = za.float().cpu(), zb.float().cpu()
    z = (1 - t[:, None]) * za + t[:, None] * zb if method == "linear" else slerp(za, zb, t)  # (steps, D)
    return decode(model, z)


def class_means(model, split, n: int | None = None) -> torch.Tensor:
    """Mean latent vector of each class over (the first n images of) a labelled split: (K, D)."""
    _unconditional(model, "class-mean vectors")
    if split.y is None:
        raise LatentlabError("class means need labelled data, and this dataset has no labels")
    x, y = split.x[:n], split.y[:n]
    z = codes(model, x)
    k = int(y.max()) + 1
    means = torch.zeros(k, z.shape[1])
    for c in range(k):
        if (y == c).any():
            means[c] = z[y == c].mean(0)
        else:
            means[c] = float("nan")
    return means


def _class_index(means: torch.Tensor, c: int, classes: list[str] | None = None) -> torch.Tensor:
    if not 0 <= c < len(means) or torch.isnan(means[c]).any():
        raise LatentlabError(f"class {c} is not among the classes of the data (0..{len(means) - 1}"
                             f"{': ' + ', '.join(classes) if classes else ''})")
    return means[c]


# --- 4. arithmetic ---------------------------------------------------------------------------
def arithmetic(model, split, to: int, frm: int, images: list[int] | None = None, n_images: int = 8,
               classes: list[str] | None = None) -> torch.Tensor:
    """z(x) + mean(to) - mean(frm) for test images x (default: the first ``n_images`` of class ``frm``).

    Returns three rows of len(images): the images, their reconstructions, the shifted decodings:
    (3 * N, C, H, W). Class means are taken over the whole split."""
    means = class_means(model, split)
    shift = _class_index(means, to, classes) - _class_index(means, frm, classes)  # (D,)
    if images is None:
        images = torch.nonzero(split.y == frm).flatten()[:n_images].tolist()
    _check_indices(images, len(split.x))
    x = split.x[images]  # (N, C, H, W)
    z = codes(model, x)  # (N, D)
    return torch.cat([x.cpu(), decode(model, z), decode(model, z + shift)])


def _check_indices(idx: list[int], n: int) -> None:
    bad = [i for i in idx if not 0 <= i < n]
    if bad:
        raise LatentlabError(f"image index {bad[0]} is outside the test split (0..{n - 1})")


def interpolate_images(model, split, a: int, b: int, steps: int = 10, methods: tuple[str, ...] = METHODS,
                       by: str = "image", classes: list[str] | None = None) -> tuple[torch.Tensor, int]:
    """Interpolate between test images a and b (``by="image"``, the inputs shown at both ends), or
    between the mean latent vectors of classes a and b (``by="class"``, the "manipulating digits"
    figure). One row per method; returns (images, images per row)."""
    _unconditional(model, "interpolation")
    if by == "class":
        means = class_means(model, split)
        za, zb = _class_index(means, a, classes), _class_index(means, b, classes)
        rows = [interpolate(model, za, zb, steps, m) for m in methods]
        return torch.cat(rows), steps
    if by != "image":
        raise LatentlabError(f"interpolate by 'image' or 'class', got {by!r}")
    _check_indices([a, b], len(split.x))
    x = split.x[[a, b]]
    za, zb = codes(model, x)
    rows = [torch.cat([x[:1].cpu(), interpolate(model, za, zb, steps, m), x[1:].cpu()]) for m in methods]
    return torch.cat(rows), steps + 2
