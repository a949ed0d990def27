"""Compare generated showers with reference ones, the way the field does, and write a report.

``validate(reference, generated, out_dir)`` writes into ``out_dir``:
    longitudinal_profile.png  mean energy per layer, reference vs generated, ratio below
    response_vs_energy.png    mean E_tot / E_inc and its resolution (std / mean) in log bins of
                              E_inc, with the simulator's stochastic term a / sqrt(E) beside it
    average_images.png        mean shower per layer (a selection when there are many layers):
                              reference, generated and generated / reference
    radial_profiles.png       (CaloChallenge geometries) mean energy per radial bin, chosen layers
    separation_per_layer.png  (more than one layer) separation power of each high-level feature per layer
    hist_<observable>.png     overlaid histograms, one panel per layer (chosen layers when there are
                              more than ``max_layer_panels``), the separation power in each legend
    validation.json           every number below
    table.csv, table.md       separation power and means per observable (table.md: per feature and
                              layer when there are many layers)
    report.html               all of it on one page
and returns the ``validation.json`` content:
    classifier        the CaloChallenge classifier test (arXiv:2410.21611, ``metrics.dnn_classifier``):
                      {"dnn_low_level": {auc, jsd, ...}, "dnn_high_level": {...}} and, when asked for,
                      "hgb" / "mlp" (``metrics.classifier_auc``); "auc", "model" and "n_test" repeat the
                      headline (the low-level DNN when it ran)
    separation_power  per observable column; hlf_separation_power: per high-level feature, a list over
                      layers; separation_summary: mean / max / worst column per observable family
    fpd, kpd          on the high-level features (jetnet's conventions, see ``metrics``)
    response          E_tot / E_inc per incident-energy bin (mean, std, resolution) for both samples,
                      a fit a / sqrt(E) (+) b of each resolution, and the simulator's stochastic term
    floor             (with ``floor=``, a second, independent reference sample) the same classifier,
                      FPD and KPD for reference against floor: what a perfect generator would score
                      with this many showers.
Each stage is a line on stderr as it starts (``log``), and a line says when the report
replaces an earlier one in ``out_dir``.
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
from latentlab.calo.observables import (LAYER_FEATURES, Observable, average_images, fit_resolution, high_level_features,
                                        layer_energies, observables, response_in_energy_bins)
from latentlab.errors import ConfigError, DataError

CLASSIFIERS = ("dnn", "hgb", "mlp")


def _choose_layers(n: int, most: int, worst: list[int] = ()) -> list[int]:
    """All of 0..n-1 when n <= most, else ``most`` indices: evenly spaced, plus the ``worst`` ones."""
    if n <= most:
        return list(range(n))
    worst = [w for w in worst if 0 <= w < n][: max(most // 4, 1)]
    even = np.linspace(0, n - 1, most - len(worst)).round().astype(int).tolist()
    return sorted(set(even) | set(worst))


def _separation_table(ref_obs: list[Observable], gen_obs: list[Observable], out: Path,
                      bins: int, draw: bool = True, max_panels: int = 12) -> tuple[list[dict[str, Any]], list[str]]:
    rows, figures = [], []
    for r, g in zip(ref_obs, gen_obs):
        seps = []
        for k, name in enumerate(r.column_names()):
            s = metrics.separation_power(r.values[:, k], g.values[:, k], bins)
            seps.append(s)
            rows.append({"observable": name, "family": r.name, "column": r.columns[k], "separation_power": s,
                         "reference_mean": float(r.values[:, k].mean()), "generated_mean": float(g.values[:, k].mean()),
                         "unit": r.unit})
        if draw:
            from latentlab.calo import plots  # matplotlib only when drawing
            chosen = _choose_layers(len(seps), max_panels, list(np.argsort(seps)[::-1]))
            figures.append(plots.observable_figure(r, g, seps, out / f"hist_{r.name}.png", bins, chosen).name)
    return rows, figures


def _summaries(rows: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], dict[str, list[float]]]:
    """Per family: mean and max separation power and the worst column; and S per layer of each
    CaloChallenge high-level feature (plus the single-column response)."""
    summary: dict[str, dict[str, Any]] = {}
    for row in rows:
        summary.setdefault(row["family"], {"values": [], "columns": []})
        summary[row["family"]]["values"].append(row["separation_power"])
        summary[row["family"]]["columns"].append(row["observable"])
    out = {}
    for family, d in summary.items():
        v = np.asarray(d["values"])
        out[family] = {"mean": float(v.mean()), "max": float(v.max()), "worst": d["columns"][int(v.argmax())],
                       "columns": len(v)}
    per_layer = {f: summary[f]["values"] for f in (*LAYER_FEATURES, "response") if f in summary}
    return out, per_layer


def _write_tables(rows: list[dict[str, Any]], summary: dict[str, dict[str, Any]], per_layer: dict[str, list[float]],
                  out: Path, full_rows: int = 60) -> None:
    with open(out / "table.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["observable", "separation_power", "reference_mean", "generated_mean",
                                               "unit"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| observable | columns | mean S | max S | worst |", "|---|---|---|---|---|"]
    lines += [f"| {k} | {v['columns']} | {v['mean']:.4f} | {v['max']:.4f} | {v['worst']} |" for k, v in summary.items()]
    lines.append("")
    if len(rows) <= full_rows:
        lines += ["| observable | separation power | reference mean | generated mean | unit |", "|---|---|---|---|---|"]
        lines += [f"| {r['observable']} | {r['separation_power']:.4f} | {r['reference_mean']:.4g} | "
                  f"{r['generated_mean']:.4g} | {r['unit']} |" for r in rows]
    else:
        names = [k for k, v in per_layer.items() if len(v) > 1]
        lines += ["| layer | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        n_layers = max(len(per_layer[k]) for k in names)
        lines += [f"| {i} | " + " | ".join(f"{per_layer[k][i]:.4f}" for k in names) + " |" for i in range(n_layers)]
        lines.append("\n(separation power per feature and layer; every observable is in table.csv)")
    (out / "table.md").write_text("\n".join(lines) + "\n")


def _fmt_clf(c: dict[str, Any] | None, floor: dict[str, Any] | None = None) -> str:
    if not c:
        return "-"
    text = f"{c['auc']:.3f}"
    if "jsd" in c:
        text += f" (JSD {c['jsd']:.3f})"
    if floor:
        text += f"; floor {floor['auc']:.3f}"
    return text + f"; {c['n_test']} test showers"


def _write_html(result: dict[str, Any], rows: list[dict[str, Any]], summary: dict[str, dict[str, Any]],
                per_layer: dict[str, list[float]], out: Path, full_rows: int = 60) -> None:
    esc = html.escape
    clf, floor = result["classifier"], (result.get("floor") or {}).get("classifier", {})
    head = [("showers (reference / generated)", f"{result['n_reference']} / {result['n_generated']}")]
    if "dnn_low_level" in clf:
        head += [("classifier AUC, low level: voxels / E_inc (CaloChallenge DNN; 0.5 = indistinguishable)",
                  _fmt_clf(clf["dnn_low_level"], floor.get("dnn_low_level"))),
                 ("classifier AUC, high level: per-layer features (CaloChallenge DNN)",
                  _fmt_clf(clf.get("dnn_high_level"), floor.get("dnn_high_level")))]
    for name in ("hgb", "mlp"):
        if name in clf:
            head.append((f"classifier AUC ({name}, low- and high-level inputs)", _fmt_clf(clf[name], floor.get(name))))
    fl = result.get("floor") or {}
    for key, scale, digits in (("fpd", 1e3, 3), ("kpd", 1e3, 4)):
        text = f"{result[key]['value'] * scale:.{digits}f} ± {result[key]['error'] * scale:.{digits}f}"
        if key in fl:
            text += f"; floor {fl[key]['value'] * scale:.{digits}f} ± {fl[key]['error'] * scale:.{digits}f}"
        head.append((f"{key.upper()} (x 1e3, high-level features)", text))
    worst = max(summary.items(), key=lambda kv: kv[1]["max"])
    head += [("mean separation power", f"{result['mean_separation_power']:.4f}"),
             ("worst separation power", f"{worst[1]['max']:.4f} ({worst[1]['worst']})")]
    a = result["response"]["stochastic_term"]
    if a:
        head.append(("simulator's stochastic term", f"{100 * a:.1f}% / sqrt(E[GeV])"))
    fits = result["response"]["fit"]
    head.append(("resolution fit a/sqrt(E) (+) b, reference / generated",
                 " / ".join(f"{100 * fits[k]['a']:.1f}%, {100 * fits[k]['b']:.1f}%" for k in ("reference", "generated"))))
    summary_rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in head)
    fam = "".join(f"<tr><td>{esc(k)}</td><td>{v['columns']}</td><td>{v['mean']:.4f}</td><td>{v['max']:.4f}</td>"
                  f"<td>{esc(v['worst'])}</td></tr>" for k, v in summary.items())
    if len(rows) <= full_rows:
        detail = ("<table><tr><th>observable</th><th>S</th><th>reference mean</th><th>generated mean</th><th>unit</th></tr>"
                  + "".join(f"<tr><td>{esc(r['observable'])}</td><td>{r['separation_power']:.4f}</td>"
                            f"<td>{r['reference_mean']:.4g}</td><td>{r['generated_mean']:.4g}</td><td>{esc(r['unit'])}</td></tr>"
                            for r in rows) + "</table>")
    else:
        names = [k for k, v in per_layer.items() if len(v) > 1]
        n_layers = max(len(per_layer[k]) for k in names)
        detail = ("<p>Separation power per high-level feature and layer (every observable is in table.csv).</p><table>"
                  "<tr><th>layer</th>" + "".join(f"<th>{esc(k)}</th>" for k in names) + "</tr>"
                  + "".join(f"<tr><td>{i}</td>" + "".join(f"<td>{per_layer[k][i]:.4f}</td>" for k in names) + "</tr>"
                            for i in range(n_layers)) + "</table>")
    resp = result["response"]
    resp_rows = "".join(
        f"<tr><td>{r['e_low_gev']:.3g} - {r['e_high_gev']:.3g}</td><td>{r['n']} / {g['n']}</td>"
        f"<td>{r['mean']:.4f} / {g['mean']:.4f}</td><td>{100 * r['resolution']:.2f} / {100 * g['resolution']:.2f}</td>"
        + (f"<td>{100 * a / np.sqrt(r['e_mean_gev']):.2f}</td>" if a and np.isfinite(r["e_mean_gev"]) else "<td>-</td>")
        + "</tr>" for r, g in zip(resp["reference"], resp["generated"]))
    images = "".join(f'<figure><img src="{esc(name)}" alt="{esc(name)}"><figcaption>{esc(name)}</figcaption></figure>'
                     for name in result["figures"])
    notes = "".join(f"<li>{esc(w)}</li>" for w in result["warnings"])
    floor_note = ("<p>Floor: the same measures for the reference against an independent reference sample "
                  f"({esc(str(fl.get('source', '')))}), what a perfect generator would score.</p>" if fl else
                  "<p>No floor given: the floor of each measure is its value for the reference against an "
                  "independent sample of the same simulation (<code>validate(..., floor=...)</code>).</p>")
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Calorimeter shower validation</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1400px}} table{{border-collapse:collapse;margin-bottom:1.5em}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}} img{{max-width:100%}} figure{{margin:1em 0}}</style></head>
<body><h1>Calorimeter shower validation</h1>
<p>Reference: {esc(result['reference'])}<br>Generated: {esc(result['generated'])}<br>Geometry: {esc(result['geometry'])}</p>
<table>{summary_rows}</table>{floor_note}{f'<h2>Warnings</h2><ul>{notes}</ul>' if notes else ''}
<h2>Response and resolution per incident energy</h2>
<table><tr><th>E_inc [GeV]</th><th>showers (ref / gen)</th><th>mean E_tot / E_inc (ref / gen)</th>
<th>resolution % (ref / gen)</th><th>a / sqrt(E) %</th></tr>{resp_rows}</table>
<h2>Separation power</h2>
<p>S = 1/2 &Sigma; (h1 - h2)&sup2; / (h1 + h2) on shared bins: 0 identical, 1 disjoint.</p>
<table><tr><th>observable</th><th>columns</th><th>mean S</th><th>max S</th><th>worst</th></tr>{fam}</table>
{detail}
<h2>Figures</h2>{images}</body></html>
"""
    (out / "report.html").write_text(page)


def stderr_line(message: str) -> None:
    """A stage line for the user (stderr, so that the results on stdout stay clean)."""
    print(f"latentlab: {message}", file=sys.stderr, flush=True)


def _parse_classifier(classifier: str) -> list[str]:
    chosen = [c.strip() for c in str(classifier).replace("+", ",").split(",") if c.strip()]
    unknown = [c for c in chosen if c not in CLASSIFIERS]
    if unknown or not chosen:
        raise ConfigError(f"unknown classifier {classifier!r}; choose 'dnn' (the CaloChallenge DNN on low- and "
                          "high-level features), 'hgb' (gradient boosting), 'mlp', or several joined by '+', e.g. 'dnn+hgb'")
    return list(dict.fromkeys(chosen))


def _classifiers(reference: Showers, generated: Showers, chosen: list[str], max_classifier: int, seed: int,
                 log: Callable[[str], None], what: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    per_class = min(len(reference), len(generated), max_classifier)
    for name in chosen:
        if name == "dnn":
            log(f"classifier AUC{what} (CaloChallenge DNN on voxels and on high-level features, up to {per_class:,} "
                "showers of each kind)...")
            out.update(metrics.challenge_classifiers(reference, generated, max_per_class=max_classifier, seed=seed))
        else:
            log(f"classifier AUC{what} ({name}, up to {per_class:,} showers of each kind)...")
            out[name] = metrics.classifier_auc(reference, generated, model=name, max_per_class=max_classifier, seed=seed)
    head = "dnn_low_level" if "dnn_low_level" in out else chosen[0]
    return {"auc": out[head]["auc"], "model": "dnn" if head.startswith("dnn") else head, "n_test": out[head]["n_test"],
            "headline": head, **out}


def _distances(reference: Showers, generated: Showers, seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    f_ref, names = high_level_features(reference)
    f_gen, _ = high_level_features(generated)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # curve_fit's covariance warnings for perfectly flat FPD curves
        fpd_value, fpd_err = metrics.fpd(f_ref, f_gen, seed=seed)
    kpd_value, kpd_err = metrics.kpd(f_ref, f_gen, seed=seed)
    return ({"value": fpd_value, "error": fpd_err, "features": names},
            {"value": kpd_value, "error": kpd_err, "features": names})


def energy_bins(energy_gev: np.ndarray, most: int = 10, per_bin: int = 50) -> np.ndarray:
    """Log-spaced incident-energy bin edges (GeV) over the range of ``energy_gev``: up to ``most`` bins,
    at least ``per_bin`` showers per bin on average (one bin for a single energy)."""
    lo, hi = float(np.min(energy_gev)), float(np.max(energy_gev))
    n = int(np.clip(len(energy_gev) // per_bin, 1, most))
    if not hi > lo * (1 + 1e-9):
        return np.array([lo * 0.999, hi * 1.001])
    return np.geomspace(lo, hi * (1 + 1e-9), n + 1)


def _response(reference: Showers, generated: Showers, stochastic_term: float | None) -> dict[str, Any]:
    from latentlab.calo.observables import response
    edges = energy_bins(np.concatenate([reference.energy, generated.energy]))
    ref = response_in_energy_bins(reference.energy, response(reference), edges)
    gen = response_in_energy_bins(generated.energy, response(generated), edges)
    if stochastic_term is None:
        stack = getattr(reference.geometry, "stack", None)
        stochastic_term = float(stack.stochastic_term) if stack is not None else None
    return {"edges_gev": edges.tolist(), "reference": ref, "generated": gen, "stochastic_term": stochastic_term,
            "fit": {"reference": fit_resolution(ref), "generated": fit_resolution(gen)}}


def _pictures(reference: Showers, generated: Showers, result: dict[str, Any], per_layer: dict[str, list[float]],
              out: Path, max_panels: int) -> list[str]:
    """The physics pictures, in the order the report shows them."""
    from latentlab.calo import plots
    geometry = reference.geometry
    names = []
    e_ref, e_gen = layer_energies(reference), layer_energies(generated)
    names.append(plots.longitudinal_figure(e_ref.mean(0), e_gen.mean(0), out / "longitudinal_profile.png",
                                           e_ref.std(0) / np.sqrt(len(e_ref)), e_gen.std(0) / np.sqrt(len(e_gen))).name)
    resp = result["response"]
    names.append(plots.response_resolution_figure(resp["reference"], resp["generated"], out / "response_vs_energy.png",
                                                  resp["stochastic_term"], resp["fit"],
                                                  np.asarray(resp["edges_gev"])).name)
    img_ref, img_gen = average_images(reference), average_images(generated)
    profile = e_ref.mean(0)
    n_alpha = getattr(geometry, "n_alpha", None)
    most = min(max_panels, 6)
    if geometry.n_layers > most:  # the layers that hold the shower, evenly spaced
        holding = np.flatnonzero(profile >= 1e-3 * profile.max()) if profile.max() > 0 else np.arange(geometry.n_layers)
        chosen = sorted({int(holding[k]) for k in np.linspace(0, len(holding) - 1, most).round().astype(int)})
    else:
        chosen = list(range(geometry.n_layers))
    labels = ("angular bin (alpha)", "radial bin (r)") if n_alpha is not None else ("array axis 0", "array axis 1")
    names.append(plots.average_images_figure(img_ref, img_gen, out / "average_images.png", chosen, labels).name)
    if n_alpha is not None:
        r_centres = [np.hypot(*geometry.coordinates(i)[: geometry.layer_shapes[i][1]].T) for i in range(geometry.n_layers)]
        names.append(plots.radial_profile_figure(img_ref, img_gen, r_centres, chosen, out / "radial_profiles.png",
                                                 geometry.coordinate_unit).name)
    if geometry.n_layers > 1:
        names.append(plots.separation_per_layer_figure({k: v for k, v in per_layer.items() if len(v) > 1},
                                                       out / "separation_per_layer.png").name)
    return names


def validate(reference: Showers, generated: Showers, out_dir: str | Path, *, bins: int = 50, classifier: str = "dnn",
             max_classifier: int = 20_000, seed: int = 0, figures: bool = True,
             log: Callable[[str], None] | None = stderr_line, floor: Showers | None = None,
             stochastic_term: float | None = None, max_layer_panels: int = 12) -> dict[str, Any]:
    """Compare two sets of showers; write figures, tables, validation.json and report.html into ``out_dir``.

    ``classifier``: "dnn" (the CaloChallenge DNN on low- and high-level inputs, the headline),
    "hgb" or "mlp" (``metrics.classifier_auc``), or several joined by "+" ("dnn+hgb").
    ``floor``: an independent reference sample; the classifiers, FPD and KPD are also run on
    reference against it (their values for a perfect generator). ``stochastic_term``: the a of
    a / sqrt(E) drawn beside the resolution (default: the geometry's sampling stack, if any).
    ``max_layer_panels``: histogram panels per observable (chosen layers beyond it).
    ``figures=False`` skips the PNGs (the slow part on a busy machine); the numbers are the same.
    ``log``: where a line per stage goes (default stderr; None for none).
    """
    log = log or (lambda line: None)
    draw = figures
    chosen = _parse_classifier(classifier)
    for name, other in (("generated", generated), ("floor", floor)):
        if other is not None and reference.geometry.layer_shapes != other.geometry.layer_shapes:
            raise DataError(f"cannot compare showers of different geometries: reference {reference.geometry.describe()}, "
                            f"{name} {other.geometry.describe()}")
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
    log("separation powers" + (f" and {len(ref_obs) + 5} figures" if draw else "") + "...")
    rows, hists = _separation_table(ref_obs, gen_obs, out, bins, draw, max_layer_panels)
    summary, per_layer = _summaries(rows)
    result: dict[str, Any] = {
        "reference": str(reference.meta.get("source", reference.meta.get("generator", "in memory"))),
        "generated": str(generated.meta.get("source", generated.meta.get("generator", "in memory"))),
        "geometry": reference.geometry.describe(),
        "n_reference": len(reference), "n_generated": len(generated),
        "incident_energy_separation_power": s_inc,
        "incident_energy_ks_pvalue": p_inc,
        "separation_power": {r["observable"]: r["separation_power"] for r in rows},
        "mean_separation_power": float(np.mean([r["separation_power"] for r in rows])),
        "separation_summary": summary,
        "hlf_separation_power": per_layer,
        "response": _response(reference, generated, stochastic_term),
    }
    figures = _pictures(reference, generated, result, per_layer, out, max_layer_panels) + hists if draw else []
    log("FPD and KPD of the high-level features...")
    result["fpd"], result["kpd"] = _distances(reference, generated, seed)
    result["classifier"] = _classifiers(reference, generated, chosen, max_classifier, seed, log)
    if floor is not None:
        log(f"the floor: reference against {len(floor):,} independent reference showers...")
        fl_fpd, fl_kpd = _distances(reference, floor, seed)
        result["floor"] = {"source": str(floor.meta.get("source", floor.meta.get("generator", "in memory"))),
                           "n": len(floor), "fpd": fl_fpd, "kpd": fl_kpd,
                           "classifier": _classifiers(reference, floor, chosen, max_classifier, seed, log, " of the floor")}
    for n in notes:
        warnings.warn(n, stacklevel=2)
    result["figures"] = figures
    result["warnings"] = notes
    (out / "validation.json").write_text(json.dumps(_json_safe(result), indent=2) + "\n")
    _write_tables(rows, summary, per_layer, out)
    _write_html(result, rows, summary, per_layer, out)
    return result


def _json_safe(x: Any) -> Any:
    """NaN / inf (empty energy bins, failed fits) as null, so that validation.json is strict JSON."""
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


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
    """``validate`` for two files of either layout (CaloChallenge files need ``geometry``); a ``floor``
    keyword may be a file too."""
    ref = read_showers(reference, geometry, limit)
    gen = read_showers(generated, geometry, limit)
    if isinstance(kwargs.get("floor"), (str, Path)):
        kwargs["floor"] = read_showers(kwargs["floor"], geometry, limit)
    return validate(ref, gen, out_dir, **kwargs)
