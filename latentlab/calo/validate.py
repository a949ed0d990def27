"""Compare generated showers with reference ones, the way the field does, and write a report.

``validate(reference, generated, out_dir)`` writes into ``out_dir``:
    hist_<observable>.png     overlaid histograms (one panel per layer) with separation powers
    response_vs_energy.png    E_tot / E_inc against incident energy
    average_images.png        mean shower per layer, reference above generated
    validation.json           every number below
    table.csv, table.md       separation power and means per observable
    report.html               all of it on one page
and returns the ``validation.json`` content: separation power per observable, FPD and KPD
on the high-level features, and the classifier AUC (see ``metrics``). Each stage is a line
on stderr as it starts (``log``), and a line says when the report replaces an earlier one
in ``out_dir``.
"""
from __future__ import annotations

import csv
import html
import json
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import ks_2samp

from latentlab.calo import metrics
from latentlab.calo.geometry import LayeredGeometry
from latentlab.calo.io import Showers, read_showers
from latentlab.calo.observables import Observable, average_images, high_level_features, observables
from latentlab.errors import DataError


def _separation_table(ref_obs: list[Observable], gen_obs: list[Observable], out: Path,
                      bins: int, draw: bool = True) -> tuple[list[dict[str, Any]], list[str]]:
    rows, figures = [], []
    for r, g in zip(ref_obs, gen_obs):
        seps = []
        for k, name in enumerate(r.column_names()):
            s = metrics.separation_power(r.values[:, k], g.values[:, k], bins)
            seps.append(s)
            rows.append({"observable": name, "separation_power": s, "reference_mean": float(r.values[:, k].mean()),
                         "generated_mean": float(g.values[:, k].mean()), "unit": r.unit})
        if draw:
            from latentlab.calo import plots  # matplotlib only when drawing
            figures.append(plots.observable_figure(r, g, seps, out / f"hist_{r.name}.png", bins).name)
    return rows, figures


def _write_tables(rows: list[dict[str, Any]], out: Path) -> None:
    with open(out / "table.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| observable | separation power | reference mean | generated mean | unit |", "|---|---|---|---|---|"]
    lines += [f"| {r['observable']} | {r['separation_power']:.4f} | {r['reference_mean']:.4g} | "
              f"{r['generated_mean']:.4g} | {r['unit']} |" for r in rows]
    (out / "table.md").write_text("\n".join(lines) + "\n")


def _write_html(result: dict[str, Any], rows: list[dict[str, Any]], out: Path) -> None:
    esc = html.escape
    head = [("showers (reference / generated)", f"{result['n_reference']} / {result['n_generated']}"),
            ("FPD (x 1e3)", f"{result['fpd']['value'] * 1e3:.3f} ± {result['fpd']['error'] * 1e3:.3f}"),
            ("KPD (x 1e3)", f"{result['kpd']['value'] * 1e3:.4f} ± {result['kpd']['error'] * 1e3:.4f}"),
            ("classifier AUC (0.5 = indistinguishable)",
             f"{result['classifier']['auc']:.3f} ({esc(str(result['classifier']['model']))}, "
             f"{result['classifier']['n_test']} held-out showers)"),
            ("mean separation power", f"{result['mean_separation_power']:.4f}")]
    summary = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in head)
    table = "".join(f"<tr><td>{esc(r['observable'])}</td><td>{r['separation_power']:.4f}</td>"
                    f"<td>{r['reference_mean']:.4g}</td><td>{r['generated_mean']:.4g}</td><td>{esc(r['unit'])}</td></tr>"
                    for r in rows)
    images = "".join(f'<figure><img src="{esc(name)}" alt="{esc(name)}"><figcaption>{esc(name)}</figcaption></figure>'
                     for name in result["figures"])
    notes = "".join(f"<li>{esc(w)}</li>" for w in result["warnings"])
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Calorimeter shower validation</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1400px}} table{{border-collapse:collapse;margin-bottom:1.5em}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}} img{{max-width:100%}} figure{{margin:1em 0}}</style></head>
<body><h1>Calorimeter shower validation</h1>
<p>Reference: {esc(result['reference'])}<br>Generated: {esc(result['generated'])}<br>Geometry: {esc(result['geometry'])}</p>
<table>{summary}</table>{f'<h2>Warnings</h2><ul>{notes}</ul>' if notes else ''}
<h2>Separation power per observable</h2>
<p>S = 1/2 &Sigma; (h1 - h2)&sup2; / (h1 + h2) on shared bins: 0 identical, 1 disjoint.</p>
<table><tr><th>observable</th><th>S</th><th>reference mean</th><th>generated mean</th><th>unit</th></tr>{table}</table>
<h2>Figures</h2>{images}</body></html>
"""
    (out / "report.html").write_text(page)


def stderr_line(message: str) -> None:
    """A stage line for the user (stderr, so that the results on stdout stay clean)."""
    print(f"latentlab: {message}", file=sys.stderr, flush=True)


def validate(reference: Showers, generated: Showers, out_dir: str | Path, *, bins: int = 50, classifier: str = "hgb",
             max_classifier: int = 20_000, seed: int = 0, figures: bool = True,
             log: Callable[[str], None] | None = stderr_line) -> dict[str, Any]:
    """Compare two sets of showers; write figures, tables, validation.json and report.html into ``out_dir``.

    ``figures=False`` skips the PNGs (the slow part on a busy machine); the numbers are the same.
    ``log``: where a line per stage goes (default stderr; None for none).
    """
    log = log or (lambda line: None)
    draw = figures
    if reference.geometry.layer_shapes != generated.geometry.layer_shapes:
        raise DataError(f"cannot compare showers of different geometries: reference {reference.geometry.describe()}, "
                        f"generated {generated.geometry.describe()}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    replacing(out, log)
    notes = []
    s_inc = metrics.separation_power(reference.energy, generated.energy, bins)
    p_inc = float(ks_2samp(reference.energy, generated.energy).pvalue)
    if p_inc < 1e-3:
        notes.append(f"the incident-energy spectra differ (Kolmogorov-Smirnov p = {p_inc:.2g}); observables that "
                     "depend on energy are then not comparable: generate at the reference's energies")
    log(f"observables of {len(reference):,} reference and {len(generated):,} generated showers...")
    ref_obs, gen_obs = observables(reference), observables(generated)
    log("separation powers" + (f" and {len(ref_obs) + 2} figures" if draw else "") + "...")
    rows, figures = _separation_table(ref_obs, gen_obs, out, bins, draw)
    response = {o.name: o for o in ref_obs}["response"].values[:, 0], {o.name: o for o in gen_obs}["response"].values[:, 0]
    if draw:
        from latentlab.calo import plots
        figures.append(plots.response_figure(reference.energy, response[0], generated.energy, response[1],
                                             out / "response_vs_energy.png").name)
        figures.append(plots.average_images_figure(average_images(reference), average_images(generated),
                                                   out / "average_images.png").name)
    log("FPD and KPD of the high-level features...")
    f_ref, names = high_level_features(reference)
    f_gen, _ = high_level_features(generated)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # curve_fit's covariance warnings for perfectly flat FPD curves
        fpd_value, fpd_err = metrics.fpd(f_ref, f_gen, seed=seed)
    kpd_value, kpd_err = metrics.kpd(f_ref, f_gen, seed=seed)
    per_class = min(len(reference), len(generated), max_classifier)
    log(f"classifier AUC ({classifier}, up to {per_class:,} showers of each kind)...")
    clf = metrics.classifier_auc(reference, generated, model=classifier, max_per_class=max_classifier, seed=seed)
    for n in notes:
        warnings.warn(n, stacklevel=2)
    result: dict[str, Any] = {
        "reference": str(reference.meta.get("source", reference.meta.get("generator", "in memory"))),
        "generated": str(generated.meta.get("source", generated.meta.get("generator", "in memory"))),
        "geometry": reference.geometry.describe(),
        "n_reference": len(reference), "n_generated": len(generated),
        "incident_energy_separation_power": s_inc,
        "incident_energy_ks_pvalue": p_inc,
        "separation_power": {r["observable"]: r["separation_power"] for r in rows},
        "mean_separation_power": float(np.mean([r["separation_power"] for r in rows])),
        "fpd": {"value": fpd_value, "error": fpd_err, "features": names},
        "kpd": {"value": kpd_value, "error": kpd_err, "features": names},
        "classifier": clf,
        "figures": figures,
        "warnings": notes,
    }
    (out / "validation.json").write_text(json.dumps(result, indent=2) + "\n")
    _write_tables(rows, out)
    _write_html(result, rows, out)
    return result


def replacing(out: Path, log: Callable[[str], None]) -> None:
    """Say so when ``out`` already holds a validation report (and what it compared): it is replaced."""
    path = out / "validation.json"
    if not path.exists():
        return
    try:
        earlier = json.loads(path.read_text())
        what = f" ({earlier['reference']} against {earlier['generated']})"
    except (OSError, ValueError, KeyError, TypeError):
        what = ""
    log(f"replacing the validation report already in {out}{what}: its figures, tables and report.html")


def validate_files(reference: str | Path, generated: str | Path, out_dir: str | Path,
                   geometry: LayeredGeometry | None = None, limit: int | None = None, **kwargs: Any) -> dict[str, Any]:
    """``validate`` for two files of either layout (CaloChallenge files need ``geometry``)."""
    ref = read_showers(reference, geometry, limit)
    gen = read_showers(generated, geometry, limit)
    return validate(ref, gen, out_dir, **kwargs)
