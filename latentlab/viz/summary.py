"""The sample metrics of one result as rows a person reads: each value beside its floor (what
real images score: the best a sampler can do at this N) or ceiling, with a one-line reading.

    FD   12.3  floor 2.04  FD 12.3 is 6.0x the floor 2.04: measurably off the data (visible flaws or missing variety)

Used by report.html, ``latentlab score`` and ``latentlab eval``. Plain Python: no numpy, no torch.
"""
from __future__ import annotations

import math

# How far above its floor an FD is, in rough bands; what a band looks like depends on the data (on MNIST
# a DCGAN at 54x the floor drew digit-like images, many malformed; on digits uniform noise is at ~45x),
# so the recognisability and coverage rows say the rest.
FD_VERDICTS = [
    (1.5, "within the spread of real images"),
    (4.0, "close to the data"),
    (15.0, "measurably off the data (visible flaws or missing variety)"),
    (80.0, "far from the data"),
    (math.inf, "very far from the data"),
]


def _g(v: float) -> str:
    return f"{v:.3g}"


def _pct(v: float) -> str:
    return f"{v:.0%}"


def fd_reading(fd: float, floor: float | None) -> str:
    if floor is None:
        return f"FD {_g(fd)}: no floor to read it against (score with the dataset's training images)"
    if fd <= floor:
        return f"FD {_g(fd)} is at or below the floor {_g(floor)}: indistinguishable from real images at this N"
    ratio = fd / floor if floor > 0 else math.inf
    verdict = next(text for bound, text in FD_VERDICTS if ratio <= bound)
    return f"FD {_g(fd)} is {ratio:.1f}x the floor {_g(floor)}: {verdict}"


def sample_rows(result: dict) -> list[dict]:
    """Rows {metric, value, bound, reading} (``bound``: what real images score: "floor 2.04", "real 0.93",
    "ceiling 98%"; or "ideal 0"; or "")
    for the sample metrics present in ``result`` (an eval.json, or what ``score_images`` returns)."""
    r = result
    rows = []

    def add(metric: str, value: str, bound: str, reading: str) -> None:
        rows.append({"metric": metric, "value": value, "bound": bound, "reading": reading})

    if "samples_fd" not in r:
        return rows
    floor = r.get("samples_fd_floor")
    add("FD", _g(r["samples_fd"]), f"floor {_g(floor)}" if floor is not None else "", fd_reading(r["samples_fd"], floor))
    manifold = {  # (what the share counts, what it measures)
        "precision": ("of the samples lie on the test images' manifold", "fidelity"),
        "recall": ("of the test images lie on the samples' manifold", "variety"),
        "coverage": ("of the test images have a sample close by", "variety, robust to outliers"),
    }
    for name in ("precision", "recall", "density", "coverage"):
        value, low = r.get(f"samples_{name}"), r.get(f"samples_{name}_floor")
        if value is None:
            continue
        real = f" (real images: {_pct(low) if name != 'density' else f'{low:.2f}'})" if low is not None else ""
        bound = f"real {low:.3f}" if low is not None else ""
        if name == "density":
            ref = 1.0 if low is None else low
            verdict = ("samples bunch where the data is densest" if value > 1.2 * ref else
                       "samples stray into the data's sparse parts" if value < 0.8 * ref else "as dense as real images")
            add(name, f"{value:.3f}", bound, f"density {value:.2f}{real}: {verdict}")
        else:
            add(name, f"{value:.3f}", bound, f"{_pct(value)} {manifold[name][0]}{real}: {manifold[name][1]}")
    if "samples_recognisable" in r:
        value, ceiling = r["samples_recognisable"], r.get("samples_recognisable_ceiling")
        add("recognisable", _pct(value), f"ceiling {_pct(ceiling)}" if ceiling is not None else "",
            f"{_pct(value)} of the samples are classified with confidence >= 0.9"
            + (f" (real test images: {_pct(ceiling)})" if ceiling is not None else ""))
    if "samples_classes_covered" in r:
        k, n = r["samples_classes_covered"], r["samples_classes"]
        add("classes", f"{k}/{n}", f"ideal {n}/{n}", f"{k} of {n} classes get at least a tenth of their share of samples"
            + ("" if k == n else f": {n - k} missing or nearly so"))
    if "samples_class_kl" in r:
        kl, n = r["samples_class_kl"], r.get("samples_classes", 10)
        add("class KL", f"{kl:.3f}", "ideal 0", f"{kl:.3f} nats from the test split's class shares "
            f"(0: the same shares; {math.log(n):.2f}: every sample in one class)")
    if "samples_label_accuracy" in r:
        acc, ceiling = r["samples_label_accuracy"], r.get("evaluator_test_accuracy")
        add("label accuracy", _pct(acc), f"ceiling {_pct(ceiling)}" if ceiling is not None else "",
            f"the evaluator finds the asked class in {_pct(acc)} of the samples"
            + (f" (its own accuracy on test images: {ceiling:.1%})" if ceiling is not None else ""))
    return rows


def evaluator_line(result: dict) -> str:
    """Which evaluator scored ``result``, on how many images: what makes two results comparable."""
    r = result
    if "evaluator_sha256" not in r:
        return ""
    source = r.get("evaluator", "local")
    label = f" of class {r['samples_label']}" if "samples_label" in r else ""
    line = (f"N = {r.get('samples_n', '?')} samples against {r.get('samples_reference', '?')} test images{label}; "
            f"scored by the {source} {r.get('evaluator_dataset', '?')} evaluator (recipe v{r.get('evaluator_recipe', '?')}, "
            f"test accuracy {r.get('evaluator_test_accuracy', float('nan')):.2%}), sha256 {r['evaluator_sha256']}")
    if source == "local":
        line += ": trained on this machine, so comparable only with results that name the same hash"
    return line


def format_rows(rows: list[dict]) -> str:
    """The rows as aligned text (for the terminal)."""
    if not rows:
        return ""
    widths = {k: max(len(row[k]) for row in rows) for k in ("metric", "value", "bound")}
    return "\n".join(f"{row['metric']:<{widths['metric']}}  {row['value']:>{widths['value']}}  "
                     f"{row['bound']:<{widths['bound']}}  {row['reading']}" for row in rows)
