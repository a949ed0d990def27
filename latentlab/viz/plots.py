"""Pictures of a run and the HTML report that shows them.

samples.png          images decoded from the prior (what the model generates)
reconstructions.png  test inputs (upper rows) above their reconstructions (lower rows)
losses.png           every loss term per epoch, train solid and validation dashed
latent.png           test-set latent means coloured by label (first two PCA axes if the latent has > 2 dims)
dynamics.png         a GAN's game per epoch: losses, discriminator outputs, the generator's gradient signal
report.html          all of the above (and any other picture in the folder), the sample metrics beside their floors, the metrics table

Which pictures a model gets follows from the interfaces it implements (``latentlab.models.base``).
matplotlib is imported on the first figure (``pyplot()``), not with this module.
"""
from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from latentlab.models.base import ConditionalEncoder, ConditionalSampler, Encoder, Sampler
from latentlab.files import atomic_write


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (imported on first use: it is slow to import)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def __getattr__(name: str) -> Any:
    if name == "plt":  # `from latentlab.viz.plots import plt` of callers written before pyplot()
        return pyplot()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def grid(images: torch.Tensor, nrow: int | None = None, pad: int = 1) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> (rows*(H+pad)+pad, cols*(W+pad)+pad, C) uint8 tile image."""
    x = images.detach().float().clamp(0, 1).cpu().numpy()
    n, c, h, w = x.shape
    cols = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad, c), dtype=np.float32) * 0.5
    for i in range(n):
        r, k = divmod(i, cols)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + k * (w + pad): pad + k * (w + pad) + w] = x[i].transpose(1, 2, 0)
    return (out * 255).round().astype(np.uint8)


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None) -> Path:
    """Save a tile image, upscaled (nearest) so that small images stay visible."""
    tiles = grid(images, nrow)
    img = Image.fromarray(tiles[..., 0] if tiles.shape[2] == 1 else tiles)
    scale = max(1, 448 // max(img.size))
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    path = Path(path)
    atomic_write(path, lambda tmp: img.save(tmp, format="PNG"))
    return path


def save_figure(fig, path: Path, crop: bool = True) -> Path:
    """Write a matplotlib figure as PNG and close it. ``crop``: trim the margins to what is drawn. A figure that
    fits its frame already (tight_layout, or constrained layout) is better saved with ``crop=False``: it is then
    laid out once and drawn once, where cropping, or a layout engine left on, makes savefig draw it twice."""
    if not crop and fig.get_layout_engine() is not None:
        fig.get_layout_engine().execute(fig)  # the layout savefig's first drawing would make (after tight_layout: none)
        fig.set_layout_engine(None)  # so that savefig draws once
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight" if crop else None))
    pyplot().close(fig)
    return path


def plot_losses(metrics: list[dict], path: Path) -> Path | None:
    terms = sorted({k[len("train_"):] for row in metrics for k in row if k.startswith("train_")})
    if not metrics or not terms:
        return None
    cols = min(3, len(terms))
    rows = math.ceil(len(terms) / cols)
    fig, axes = pyplot().subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False, layout="constrained")
    epochs = [r["epoch"] for r in metrics]
    for ax, term in zip(axes.flat, terms):
        for split, style in (("train", "-"), ("val", "--")):
            ys = [r.get(f"{split}_{term}", np.nan) for r in metrics]
            if not all(np.isnan(ys)):
                ax.plot(epochs, ys, style, marker="o", ms=3, label=split)
        ax.set_title(term)
        ax.set_xlabel("epoch")
        ax.legend()
    for ax in list(axes.flat)[len(terms):]:
        ax.axis("off")
    return save_figure(fig, path, crop=False)  # constrained layout fits the figure already


def plot_latent(codes: np.ndarray, labels: np.ndarray | None, path: Path, classes: list[str] | None = None,
                title: str = "latent means of the test set") -> Path:
    """Scatter of 2-D codes (PCA of higher-dimensional ones), coloured by label when there are labels."""
    axis_names = ("z1", "z2")
    if codes.shape[1] > 2:
        from sklearn.decomposition import PCA
        pca = PCA(2).fit(codes)
        codes = pca.transform(codes)
        ev = pca.explained_variance_ratio_
        axis_names = (f"PC1 ({ev[0]:.0%})", f"PC2 ({ev[1]:.0%})")
        title += f" (PCA of {pca.n_features_in_} dims)"
    elif codes.shape[1] == 1:
        codes = np.concatenate([codes, np.zeros_like(codes)], 1)
    fig, ax = pyplot().subplots(figsize=(6, 5))
    if labels is None:
        ax.scatter(codes[:, 0], codes[:, 1], s=3, alpha=0.6)
        title += " (no labels: uncoloured)"
    else:
        sc = ax.scatter(codes[:, 0], codes[:, 1], c=labels, cmap="tab10", s=3, alpha=0.7)
        cbar = fig.colorbar(sc, ax=ax, ticks=np.unique(labels))
        if classes:
            cbar.ax.set_yticklabels([classes[i] for i in np.unique(labels)])
    ax.set(title=title, xlabel=axis_names[0], ylabel=axis_names[1])
    return save_figure(fig, path)


def plot_dynamics(metrics: list[dict], path: Path, critic: bool = False) -> Path | None:
    """A GAN's game per epoch: both losses, mean D(x) and mean D(G(z)) (a critic's scores when ``critic``),
    and the generator's gradient signal ||d loss_G / d G(z)|| when it was logged."""
    from matplotlib.ticker import MaxNLocator
    if not metrics:
        return None
    epochs = [r["epoch"] for r in metrics]

    def series(key: str) -> list[float]:
        return [r.get(key, np.nan) for r in metrics]

    has_signal = any(np.isfinite(series("train_generator/grad_norm")))
    fig, axes = pyplot().subplots(1, 3 if has_signal else 2, figsize=(13 if has_signal else 9, 3.4), squeeze=False)
    ax = axes[0, 0]
    ax.plot(epochs, series("train_discriminator/loss"), marker="o", ms=3, label="critic" if critic else "discriminator")
    ax.plot(epochs, series("train_generator/loss"), marker="o", ms=3, label="generator")
    ax.set(title="losses (train)", xlabel="epoch")
    ax.legend()
    ax = axes[0, 1]
    ax.plot(epochs, series("train_discriminator/d_real"), marker="o", ms=3, label="mean D(x)")
    ax.plot(epochs, series("train_discriminator/d_fake"), marker="o", ms=3, label="mean D(G(z))")
    if not critic:
        ax.set_ylim(-0.02, 1.02)
        ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set(title="critic scores" if critic else "discriminator outputs (D steps)", xlabel="epoch")
    ax.legend()
    if has_signal:
        ax = axes[0, 2]
        ax.plot(epochs, series("train_generator/grad_norm"), marker="o", ms=3, color="C2")
        ax.set(title="||d loss_G / d G(z)|| per image", xlabel="epoch", yscale="log")
    for ax in axes.flat:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return save_figure(fig, path, crop=False)  # tight_layout fits the figure already


@torch.no_grad()
def make_pictures(model, data, run_dir: str | Path, metrics: list[dict], n: int = 64) -> list[Path]:
    """Every picture the model's interfaces and the data allow, then report.html. Samples are drawn from a
    generator seeded 0, so the pictures of a run are the same however often they are made.

    Nothing fails for want of data: with fewer test images than a picture needs (none: no reconstructions;
    fewer than 2: no latent map) the picture is left out, and so are the image grids of tabular data
    (rows of features, not images); one note then says what was skipped and why."""
    from latentlab.data.tabular import is_tabular
    from latentlab.files import note
    run_dir = Path(run_dir)
    model.eval()
    made: list[Path] = []
    skipped: list[str] = []
    tabular = is_tabular(tuple(data.shape))
    generator = torch.Generator(device=model.device).manual_seed(0)
    if isinstance(model, Sampler) and tabular:
        skipped.append("samples.png (tabular data: `latentlab sample RUN` writes sampled rows as .npy)")
    elif isinstance(model, ConditionalSampler):  # one row per label
        per = 10
        y = torch.arange(model.num_classes, device=model.device).repeat_interleave(per)
        made.append(save_grid(model.sample(len(y), y, generator=generator), run_dir / "samples.png", nrow=per))
    elif isinstance(model, Sampler):
        made.append(save_grid(model.sample(n, generator=generator), run_dir / "samples.png"))
    # a conditional encoder (the CVAE) encodes an image together with its label: it needs a labelled test set
    with_labels = isinstance(model, ConditionalEncoder)
    count = len(data.test.x)
    if isinstance(model, Encoder) and (not with_labels or data.test.y is not None):
        x = data.test.x[:5000].to(model.device)  # (N, C, H, W)
        y = data.test.y[:5000].to(model.device) if with_labels else None  # (N,)
        if tabular:
            skipped.append("reconstructions.png (tabular data: `latentlab reconstruct RUN` writes rows and their "
                           "reconstructions as .npz)")
        elif count == 0:
            skipped.append("reconstructions.png (the test split is empty)")
        else:
            k = min(16, count)  # images per row: inputs above their reconstructions, one or two pairs of rows
            m = 2 * k if count >= 2 * k else k
            rec = model.reconstruct(x[:m], y[:m] if with_labels else None)
            rows = [x[:k], rec[:k]] + ([x[k:m], rec[k:m]] if m > k else [])
            made.append(save_grid(torch.cat(rows), run_dir / "reconstructions.png", nrow=k))
        if count < 2:
            skipped.append(f"latent.png (the test split has {count} image{'' if count == 1 else 's'}; a map needs 2 or more)")
        else:
            ys = y.split(1000) if with_labels else [None] * len(x.split(1000))
            codes = torch.cat([model.latent(xb, yb) for xb, yb in zip(x.split(1000), ys)]).cpu().numpy()  # (N, D)
            labels = data.test.y[:5000].numpy() if data.test.y is not None else None
            made.append(plot_latent(codes, labels, run_dir / "latent.png", data.classes))
    loss_plot = plot_losses(metrics, run_dir / "losses.png")
    if loss_plot:
        made.append(loss_plot)
    made.append(write_report(run_dir, metrics))
    if skipped:
        note(f"pictures skipped: {'; '.join(skipped)}. Written: {', '.join(p.name for p in made)}")
    return made


PICTURE_ORDER = ("samples.png", "reconstructions.png", "losses.png", "latent.png")  # report.html shows these first


def write_report(run_dir: Path, metrics: list[dict] | None = None) -> Path:
    """report.html: pictures, the sample metrics beside their floors with a reading, the other
    evaluation figures, the metrics per epoch (scrolling sideways when wide) and the settings."""
    run_dir = Path(run_dir)
    cfg = json.loads((run_dir / "config.json").read_text()) if (run_dir / "config.json").exists() else {}
    pictures = [p for p in PICTURE_ORDER if (run_dir / p).exists()]
    pictures += sorted(p.name for p in run_dir.iterdir() if p.suffix in (".png", ".gif") and p.name not in pictures)
    rows = metrics or []
    cols = list(dict.fromkeys(k for r in rows for k in r))
    table = "".join("<tr>" + "".join(f"<td>{_fmt(r.get(c))}</td>" for c in cols) + "</tr>" for r in rows)
    evaluations = "".join(_evaluation_html(path) for path in sorted(run_dir.glob("eval*.json")))
    body = f"""<!doctype html><html><head><meta charset="utf-8"><title>latentlab run {html.escape(run_dir.name)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}} img{{max-width:100%;border:1px solid #ccc}}
table{{border-collapse:collapse;font-size:0.85em}} td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}
td.text{{text-align:left}} .scroll{{overflow-x:auto;max-width:100%}} .scroll th{{position:sticky;top:0;background:#f4f4f4}}
.scroll td:first-child,.scroll th:first-child{{position:sticky;left:0;background:#f4f4f4}}
figure{{display:inline-block;margin:0.5em;vertical-align:top;max-width:560px}}</style></head><body>
<h1>{html.escape(cfg.get('model', '?'))} on {html.escape(cfg.get('data', {}).get('name', '?'))}</h1>
<p>{html.escape(str(run_dir))}</p>
{''.join(f'<figure><img src="{html.escape(p)}"><figcaption>{html.escape(p)}</figcaption></figure>' for p in pictures)}
{evaluations}
<h2>Metrics per epoch</h2><div class="scroll"><table><tr>{''.join(f'<th>{html.escape(c)}</th>' for c in cols)}</tr>{table}</table></div>
<h2>Settings</h2><pre>{html.escape(json.dumps({k: cfg.get(k) for k in ('train', 'model_config', 'data', 'versions')}, indent=2))}</pre>
</body></html>"""
    path = run_dir / "report.html"
    atomic_write(path, lambda tmp: Path(tmp).write_text(body))
    return path


def _evaluation_html(path: Path) -> str:
    """One evaluation file as tables: the sample metrics beside their floors with a reading (from
    ``latentlab.viz.summary``), then every other figure by name."""
    from latentlab.viz.summary import evaluator_line, sample_rows
    try:
        result = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        return f"<h2>{html.escape(path.name)}</h2><p>cannot be read ({html.escape(str(e))}); run `latentlab eval` again</p>"
    if not isinstance(result, dict):
        return ""
    out = ""
    samples = sample_rows(result)
    if samples:
        cells = "".join(f"<tr><th>{html.escape(r['metric'])}</th><td>{html.escape(r['value'])}</td><td>{html.escape(r['bound'])}</td>"
                        f"<td class=\"text\">{html.escape(r['reading'])}</td></tr>" for r in samples)
        histogram = result.get("samples_label_histogram")
        per_class = ("<p>samples per predicted class: " + html.escape(", ".join(f"{i}: {c}" for i, c in enumerate(histogram)))
                     + "</p>") if isinstance(histogram, list) else ""
        out += (f"<h2>Sample quality ({html.escape(path.name)})</h2><p>{html.escape(evaluator_line(result))}</p>"
                f"<table class=\"samples\"><tr><th>metric</th><th>value</th><th>real images (floor, ceiling)</th><th>reading</th></tr>{cells}</table>"
                f"{per_class}")
    others = {k: v for k, v in result.items() if not (samples and k.startswith(("samples_", "evaluator")))}
    if others:
        cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{_fmt(v)}</td></tr>" for k, v in others.items())
        title = "Test-set figures" if samples or path.name == "eval.json" else "Evaluation"
        out += f"<h2>{title} ({html.escape(path.name)})</h2><div class=\"scroll\"><table>{cells}</table></div>"
    return out


def _fmt(v) -> str:
    if isinstance(v, (dict, list)):
        return html.escape(json.dumps(v))
    return f"{v:.5g}" if isinstance(v, float) else html.escape(str(v if v is not None else ""))
