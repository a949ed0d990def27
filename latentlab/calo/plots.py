"""Validation figures: overlaid histograms per observable, response against energy, average images.

Reference showers are drawn as a grey filled histogram, generated ones as a red line, on
the shared binning the separation power is computed on (``metrics.shared_edges``).
"""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.ticker import NullLocator  # noqa: E402

from latentlab.calo.metrics import normalised_histogram, shared_edges  # noqa: E402
from latentlab.calo.observables import Observable  # noqa: E402

REF_STYLE = {"color": "0.6", "alpha": 0.6, "label": "reference"}
GEN_STYLE = {"color": "tab:red", "linewidth": 1.5, "label": "generated"}


def _grid(n: int, max_cols: int = 5) -> tuple[int, int]:
    cols = min(n, max_cols)
    return math.ceil(n / cols), cols


def _edges(ref: np.ndarray, gen: np.ndarray, bins: int, log: bool) -> tuple[np.ndarray, bool]:
    if log:
        pooled = np.concatenate([ref, gen])
        positive = pooled[pooled > 0]
        if positive.size > 10:
            lo, hi = np.quantile(positive, [0.001, 0.999])
            if hi > lo:
                return np.logspace(np.log10(lo), np.log10(hi), bins + 1), True
    return shared_edges(ref, gen, bins), False


def observable_figure(ref: Observable, gen: Observable, separation: list[float], path: Path, bins: int = 50) -> Path:
    """One panel per column of an observable family, reference vs generated."""
    rows, cols = _grid(len(ref.columns))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.9 * rows), squeeze=False)
    for k, column in enumerate(ref.columns):
        ax = axes[k // cols][k % cols]
        edges, logx = _edges(ref.values[:, k], gen.values[:, k], bins, ref.log)
        h_ref = normalised_histogram(ref.values[:, k], edges)
        h_gen = normalised_histogram(gen.values[:, k], edges)
        ax.stairs(h_ref, edges, fill=True, **REF_STYLE)
        ax.stairs(h_gen, edges, **GEN_STYLE)
        if logx:
            ax.set_xscale("log")
            ax.xaxis.set_minor_locator(NullLocator())
        ax.set_yscale("log")
        ax.yaxis.set_minor_locator(NullLocator())  # minor log ticks cost more to lay out than they tell
        ax.set_xlabel(f"{ref.label}" + (f" [{ref.unit}]" if ref.unit else ""), fontsize=8)
        ax.set_title(f"{column or ref.name}   S = {separation[k]:.3f}", fontsize=9)
        ax.tick_params(labelsize=7)
        if k == 0:
            ax.legend(fontsize=7)
    for k in range(len(ref.columns), rows * cols):
        axes[k // cols][k % cols].axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def response_figure(e_ref: np.ndarray, r_ref: np.ndarray, e_gen: np.ndarray, r_gen: np.ndarray, path: Path,
                    bins: int = 12) -> Path:
    """Mean and spread of E_tot / E_inc in bins of incident energy, reference vs generated."""
    edges = np.quantile(np.concatenate([e_ref, e_gen]), np.linspace(0, 1, bins + 1))
    edges = np.unique(edges)
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for e, r, style, dx in ((e_ref, r_ref, REF_STYLE, -0.12), (e_gen, r_gen, GEN_STYLE, 0.12)):
        idx = np.clip(np.searchsorted(edges, e, side="right") - 1, 0, len(edges) - 2)
        counts = np.bincount(idx, minlength=len(edges) - 1)
        ok = counts > 1
        mean = np.bincount(idx, r, len(edges) - 1)[ok] / counts[ok]
        sq = np.bincount(idx, r * r, len(edges) - 1)[ok] / counts[ok]
        centres = 0.5 * (edges[1:] + edges[:-1])[ok]
        width = (edges[1:] - edges[:-1])[ok]
        ax.errorbar(centres + dx * width, mean, yerr=np.sqrt(np.maximum(sq - mean**2, 0)), fmt="o",
                    ms=4, capsize=2, color=style["color"], label=style["label"])
    ax.set_xlabel("incident energy [GeV]")
    ax.set_ylabel("E_tot / E_inc (mean, bars: std)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def average_images_figure(ref: list[np.ndarray], gen: list[np.ndarray], path: Path) -> Path:
    """Average shower per layer: reference (top row) and generated (bottom row), shared log colour scale."""
    n = len(ref)
    fig, axes = plt.subplots(2, n, figsize=(3.8 * n, 5.6), squeeze=False, layout="constrained")
    for i, (a, b) in enumerate(zip(ref, gen)):
        a2, b2 = np.atleast_2d(a), np.atleast_2d(b)
        top = max(float(a2.max()), float(b2.max()), 1e-12)
        norm = LogNorm(vmin=top * 1e-4, vmax=top)
        for row, img, name in ((0, a2, "reference"), (1, b2, "generated")):
            ax = axes[row][i]
            im = ax.imshow(np.maximum(img, top * 1e-4), norm=norm, aspect="auto", interpolation="nearest", cmap="viridis")
            ax.set_title(f"{name}, layer {i}", fontsize=9)
            ax.tick_params(labelsize=7)
        fig.colorbar(im, ax=[axes[0][i], axes[1][i]], shrink=0.8, label="mean deposit [MeV]")
        axes[1][i].set_xlabel("array axis 1", fontsize=8)
        axes[0][i].set_ylabel("array axis 0", fontsize=8)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
