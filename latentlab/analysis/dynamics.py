"""The vanishing gradient of the minimax GAN loss, run against run: the generator's gradient signal per epoch.

Goodfellow et al. (2014, section 3) and the lecture notes (001, "Vanishing Gradient"): with the minimax
generator loss log(1 - D(G(z))), a discriminator that confidently rejects the fakes (D(G(z)) -> 0) hands
the generator almost no gradient; the non-saturating -log D(G(z)) has the same fixed point and a strong
gradient there. Through D's logit l (D = sigmoid(l)) the two gradients are

    d/dl log(1 - D) = -D            (minimax: vanishes as D(G(z)) -> 0)
    d/dl -log D     = -(1 - D)      (non-saturating: near -1 there)

Every GAN run logs the signal that reaches the generator's output, the metric
``train_generator/grad_norm`` = mean over images of ||d loss_G / d G(z)|| (``latentlab.models.adversarial.
signal_norm``), and mean D(G(z)) of the discriminator steps, ``train_discriminator/d_fake``.
``compare_dynamics`` draws both, per epoch, for several runs in one figure, beside the two curves above.
The recipe ``vanishing-gradient`` trains the two losses from one seed and draws it
(``latentlab compare RUN_A RUN_B --dynamics``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentlab.errors import LatentlabError

SIGNAL = "train_generator/grad_norm"
D_FAKE = "train_discriminator/d_fake"


@dataclass
class Dynamics:
    """One run's game per epoch."""

    label: str  # "minimax (runs/a)": the generator loss and the run folder
    epochs: list[int]
    signal: list[float]  # ||d loss_G / d G(z)|| per image, mean over the epoch's generator steps
    d_fake: list[float]  # mean D(G(z)) over the epoch's discriminator steps (a critic's score for WGAN-GP)
    critic: bool


def read_dynamics(run_dir: str | Path) -> Dynamics:
    """The gradient signal and D(G(z)) per epoch of a GAN run, from its metrics.jsonl."""
    from latentlab.models import get_model_class
    from latentlab.training.run_folder import read_metrics, read_run
    info = read_run(run_dir)
    rows = read_metrics(run_dir)
    if not any(math.isfinite(r.get(SIGNAL, math.nan)) for r in rows):
        raise LatentlabError(f"{run_dir} has no generator gradient signal ({SIGNAL}) in its metrics.jsonl: "
                             f"it is a '{info.model_name}' run, not a GAN's, or it has not finished an epoch")
    loss = getattr(info.model_cfg, "gen_loss", None)
    k = getattr(info.model_cfg, "d_steps", None)
    what = ", ".join(filter(None, [loss or info.model_name, f"{k} D steps" if k and k != 1 else ""]))
    return Dynamics(f"{what} ({Path(run_dir).name})", [r["epoch"] for r in rows],
                    [r.get(SIGNAL, math.nan) for r in rows], [r.get(D_FAKE, math.nan) for r in rows],
                    bool(getattr(get_model_class(info.model_name), "critic", False)))


def compare_dynamics(runs: list[str | Path], path: str | Path) -> tuple[Path, str]:
    """One figure of several GAN runs: the generator's gradient signal per epoch (log scale), mean D(G(z))
    per epoch, and the gradient through D's logit of each loss as a function of D(G(z)) (module doc).
    Returns the PNG and a Markdown table of the signal per epoch."""
    from latentlab.viz.plots import pyplot, save_figure
    if not runs:
        raise LatentlabError("give at least one GAN run folder")
    path = Path(path)
    if path.suffix != ".png":
        raise LatentlabError(f"the figure {path} must end in .png")
    found = [read_dynamics(r) for r in runs]
    fig, axes = pyplot().subplots(1, 3, figsize=(14, 3.8))
    ax = axes[0]
    for d in found:
        ax.plot(d.epochs, d.signal, marker="o", ms=3, label=d.label)
    ax.set(title="||d loss_G / d G(z)|| per image (train)", xlabel="epoch", yscale="log")
    ax.legend(fontsize=7)
    ax = axes[1]
    for d in found:
        ax.plot(d.epochs, d.d_fake, marker="o", ms=3, label=d.label)
    ax.set(title="mean D(G(z)) (discriminator steps)", xlabel="epoch")
    if not any(d.critic for d in found):
        ax.set(yscale="log")
    ax = axes[2]
    p = np.linspace(1e-3, 1 - 1e-3, 400)
    ax.plot(p, p, label="minimax log(1 - D): |grad| = D")
    ax.plot(p, 1 - p, label="non-saturating -log D: |grad| = 1 - D")
    for d in found:
        last = d.d_fake[-1]
        if math.isfinite(last) and 0 < last < 1 and not d.critic:
            ax.axvline(last, color="grey", lw=0.6, ls=":")
    ax.set(title="gradient through D's logit; dotted: last D(G(z))", xlabel="D(G(z))", xscale="log")
    ax.legend(fontsize=7)
    from matplotlib.ticker import MaxNLocator
    for ax in axes[:2]:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    save_figure(fig, path)
    return path, table(found)


def table(found: list[Dynamics]) -> str:
    """Markdown: the gradient signal (and D(G(z))) of each run per epoch."""
    epochs = sorted({e for d in found for e in d.epochs})
    lines = ["| epoch | " + " | ".join(d.label for d in found) + " |", "|---:|" + "---:|" * len(found)]
    for e in epochs:
        cells = []
        for d in found:
            i = d.epochs.index(e) if e in d.epochs else None
            cells.append("-" if i is None else f"{d.signal[i]:.3g} (D(G(z)) {d.d_fake[i]:.3g})")
        lines.append(f"| {e} | " + " | ".join(cells) + " |")
    return "\n".join(lines)

