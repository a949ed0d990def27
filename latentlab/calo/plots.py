"""Validation figures: the physics pictures a physicist checks first, and a histogram per observable.

    longitudinal_figure           mean energy per layer, reference vs generated, ratio below
    response_resolution_figure    mean E_tot / E_inc and resolution std / mean in log bins of E_inc,
                                  with the simulator's a / sqrt(E) stochastic term beside it
    average_images_figure         mean shower per layer: reference, generated, generated / reference
    radial_profile_figure         mean energy per radial bin (summed over angle), chosen layers
    separation_per_layer_figure   separation power of each high-level feature against the layer
    observable_figure             overlaid histograms, one panel per layer (or chosen layers),
                                  the separation power S in each panel's legend

Reference showers are drawn as a grey filled histogram (grey points), generated ones as a
red line, on the shared binning the separation power is computed on (``metrics.shared_edges``).
"""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.ticker import MaxNLocator, NullLocator  # noqa: E402

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


def observable_figure(ref: Observable, gen: Observable, separation: list[float], path: Path, bins: int = 50,
                      columns: list[int] | None = None) -> Path:
    """One panel per column of an observable family (or per index in ``columns``), reference vs
    generated, with the separation power in the legend."""
    chosen = list(range(len(ref.columns))) if columns is None else list(columns)
    rows, cols = _grid(len(chosen))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.9 * rows), squeeze=False)
    for slot, k in enumerate(chosen):
        column = ref.columns[k]
        ax = axes[slot // cols][slot % cols]
        edges, logx = _edges(ref.values[:, k], gen.values[:, k], bins, ref.log)
        h_ref = normalised_histogram(ref.values[:, k], edges)
        h_gen = normalised_histogram(gen.values[:, k], edges)
        ax.stairs(h_ref, edges, fill=True, **REF_STYLE)
        ax.stairs(h_gen, edges, **{**GEN_STYLE, "label": f"generated, S = {separation[k]:.3f}"})
        if logx:
            ax.set_xscale("log")
            ax.xaxis.set_minor_locator(NullLocator())
        ax.set_yscale("log")
        ax.yaxis.set_minor_locator(NullLocator())  # minor log ticks cost more to lay out than they tell
        ax.set_xlabel(f"{ref.label}" + (f" [{ref.unit}]" if ref.unit else ""), fontsize=8)
        ax.set_title(column.replace("_", " ") if column else ref.name, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6.5, loc="best")
    for k in range(len(chosen), rows * cols):
        axes[k // cols][k % cols].axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def average_images_figure(ref: list[np.ndarray], gen: list[np.ndarray], path: Path, layers: list[int] | None = None,
                          axis_labels: tuple[str, str] = ("array axis 0", "array axis 1")) -> Path:
    """Average shower per layer (all, or those in ``layers``): reference (top row), generated (middle
    row), on a shared log colour scale, and generated / reference (bottom row, 0.5 to 2, log scale;
    grey where the reference is empty)."""
    chosen = list(range(len(ref))) if layers is None else list(layers)
    n = len(chosen)
    fig, axes = plt.subplots(3, n, figsize=(3.4 * n + 1.0, 7.8), squeeze=False)
    fig.subplots_adjust(left=0.07, right=0.92, bottom=0.07, top=0.95, wspace=0.55, hspace=0.35)
    ratio_norm = LogNorm(vmin=0.5, vmax=2.0)
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="0.85")
    for col, i in enumerate(chosen):
        a2, b2 = np.atleast_2d(ref[i]), np.atleast_2d(gen[i])
        top = max(float(a2.max()), float(b2.max()), 1e-12)
        norm = LogNorm(vmin=top * 1e-4, vmax=top)
        for row, img, name in ((0, a2, "reference"), (1, b2, "generated")):
            ax = axes[row][col]
            im = ax.imshow(np.maximum(img, top * 1e-4), norm=norm, aspect="auto", interpolation="nearest", cmap="viridis")
            ax.set_title(f"{name}, layer {i}", fontsize=9)
            ax.tick_params(labelsize=7)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        fig.colorbar(im, ax=[axes[0][col], axes[1][col]], shrink=0.8, label="mean deposit [MeV]")
        ratio = np.full(a2.shape, np.nan)
        np.divide(b2, a2, out=ratio, where=a2 > top * 1e-6)
        ax = axes[2][col]
        rim = ax.imshow(np.clip(ratio, 0.5, 2.0), norm=ratio_norm, aspect="auto", interpolation="nearest", cmap=cmap)
        ax.set_title(f"generated / reference, layer {i}", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(axis_labels[1], fontsize=8)
        axes[0][col].set_ylabel(axis_labels[0], fontsize=8)
    bar = fig.colorbar(rim, ax=list(axes[2]), shrink=0.8, label="generated / reference")
    bar.set_ticks([0.5, 0.7, 1.0, 1.4, 2.0], labels=["0.5", "0.7", "1", "1.4", "2"])
    bar.ax.minorticks_off()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _ratio_panel(ax: plt.Axes, x: np.ndarray, ref: np.ndarray, gen: np.ndarray, gen_err: np.ndarray | None = None) -> None:
    ratio = np.full(ref.shape, np.nan)
    np.divide(gen, ref, out=ratio, where=ref > 0)
    err = None
    if gen_err is not None:
        err = np.full(ref.shape, np.nan)
        np.divide(gen_err, ref, out=err, where=ref > 0)
    ax.axhline(1.0, color="0.5", linewidth=0.8)
    ax.errorbar(x, ratio, yerr=err, fmt="o-", ms=3, linewidth=1, color=GEN_STYLE["color"])
    finite = ratio[np.isfinite(ratio)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (1.0, 1.0)
    ax.set_ylim(min(0.8, lo - 0.05), max(1.2, hi + 0.05))
    ax.set_ylabel("gen / ref", fontsize=8)
    ax.tick_params(labelsize=7)


def longitudinal_figure(ref_mean: np.ndarray, gen_mean: np.ndarray, path: Path, ref_err: np.ndarray | None = None,
                        gen_err: np.ndarray | None = None) -> Path:
    """Mean energy per layer (the longitudinal profile), reference vs generated, with the ratio below."""
    layers = np.arange(len(ref_mean))
    fig, (ax, rax) = plt.subplots(2, 1, figsize=(6.0, 4.8), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.errorbar(layers, ref_mean, yerr=ref_err, fmt="s", ms=4, color="0.4", label="reference")
    ax.errorbar(layers, gen_mean, yerr=gen_err, fmt="o-", ms=3, linewidth=1.2, color=GEN_STYLE["color"],
                label="generated")
    if np.any(np.asarray(ref_mean) > 0):
        ax.set_yscale("log")
    ax.set_ylabel("mean energy in layer [MeV]", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=8)
    _ratio_panel(rax, layers, np.asarray(ref_mean), np.asarray(gen_mean), gen_err)
    rax.set_xlabel("layer", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def response_resolution_figure(ref_rows: list[dict[str, float]], gen_rows: list[dict[str, float]], path: Path,
                               stochastic_term: float | None = None, fits: dict[str, dict[str, float]] | None = None,
                               edges: np.ndarray | None = None) -> Path:
    """E_tot / E_inc against E_inc (``observables.response_in_energy_bins`` rows): the mean on top, the
    resolution std / mean below, with a / sqrt(E) for the simulator's stochastic term ``a``."""
    fig, (ax, rax) = plt.subplots(2, 1, figsize=(6.0, 6.0), sharex=True)
    for rows, name, style, fmt in ((ref_rows, "reference", {"color": "0.35"}, "s"),
                                   (gen_rows, "generated", {"color": GEN_STYLE["color"]}, "o")):
        ok = [r for r in rows if np.isfinite(r["mean"])]
        if not ok:
            continue
        e = np.array([r["e_mean_gev"] for r in ok])
        ax.errorbar(e, [r["mean"] for r in ok], yerr=[r["std"] / np.sqrt(r["n"]) for r in ok], fmt=fmt, ms=4,
                    capsize=2, label=name, **style)
        label = name
        if fits and np.isfinite(fits.get(name, {}).get("a", np.nan)):
            f = fits[name]
            label += f" (fit: {100 * f['a']:.1f}%/sqrt(E) + {100 * f['b']:.1f}%)"
        rax.errorbar(e, [r["resolution"] for r in ok], yerr=[r["resolution_error"] for r in ok], fmt=fmt, ms=4,
                     capsize=2, label=label, **style)
    if edges is not None and len(edges) > 1 and edges[0] > 0:
        grid = np.geomspace(edges[0], edges[-1], 100)
    else:
        es = [r["e_mean_gev"] for r in ref_rows + gen_rows if np.isfinite(r["e_mean_gev"])]
        grid = np.geomspace(min(es), max(es), 100) if es and min(es) > 0 else None
    if stochastic_term and grid is not None:
        rax.plot(grid, stochastic_term / np.sqrt(grid), "--", color="tab:blue", linewidth=1,
                 label=f"simulator's stochastic term {100 * stochastic_term:.1f}%/sqrt(E[GeV])")
    ax.set_xscale("log")
    ax.set_ylabel("mean E_tot / E_inc", fontsize=8)
    ax.legend(fontsize=7)
    rax.set_ylabel("resolution: std / mean of E_tot / E_inc", fontsize=8)
    rax.set_xlabel("incident energy [GeV]", fontsize=8)
    rax.set_ylim(bottom=0)
    rax.legend(fontsize=7)
    for a in (ax, rax):
        a.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def radial_profile_figure(ref: list[np.ndarray], gen: list[np.ndarray], r_centres: list[np.ndarray], layers: list[int],
                          path: Path, unit: str) -> Path:
    """Mean energy per radial bin (summed over the angular bins of the (alpha, r) image), per chosen layer."""
    rows, cols = _grid(len(layers), 4)
    fig, axes = plt.subplots(2 * rows, cols, figsize=(3.6 * cols, 4.0 * rows), squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1] * rows})
    for slot, i in enumerate(layers):
        ax, rax = axes[2 * (slot // cols)][slot % cols], axes[2 * (slot // cols) + 1][slot % cols]
        a, b = np.atleast_2d(ref[i]).sum(axis=0), np.atleast_2d(gen[i]).sum(axis=0)
        r = r_centres[i]
        ax.plot(r, a, "s", ms=4, color="0.4", label="reference")
        ax.plot(r, b, "o-", ms=3, linewidth=1.2, color=GEN_STYLE["color"], label="generated")
        if np.any(a > 0):
            ax.set_yscale("log")
        ax.set_title(f"layer {i}", fontsize=9)
        ax.set_ylabel("mean energy [MeV]", fontsize=8)
        ax.tick_params(labelsize=7)
        if slot == 0:
            ax.legend(fontsize=7)
        _ratio_panel(rax, r, a, b)
        rax.set_xlabel(f"r [{unit}]", fontsize=8)
    for slot in range(len(layers), rows * cols):
        axes[2 * (slot // cols)][slot % cols].axis("off")
        axes[2 * (slot // cols) + 1][slot % cols].axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def separation_per_layer_figure(per_layer: dict[str, list[float]], path: Path) -> Path:
    """Separation power of each per-layer feature against the layer index (one line per feature)."""
    fig, ax = plt.subplots(figsize=(7.0, 4.0))
    for name, values in per_layer.items():
        v = np.maximum(np.asarray(values, dtype=float), 1e-5)
        ax.plot(np.arange(len(v)), v, "o-", ms=3, linewidth=1, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("layer", fontsize=8)
    ax.set_ylabel("separation power S", fontsize=8)
    ax.axhline(0.1, color="0.6", linestyle=":", linewidth=1)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
