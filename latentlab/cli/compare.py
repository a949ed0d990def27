"""latentlab compare RUN...: one table of the sample metrics of several runs (from RUN/eval.json).

    latentlab eval runs/vae-mnist --samples 10000
    latentlab eval runs/dcgan-mnist --samples 10000
    latentlab compare runs/vae-mnist runs/dcgan-mnist [--markdown]
    latentlab compare runs/gan-minimax runs/gan-ns --dynamics [PNG]   GAN runs: the generator's gradient signal
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from latentlab.errors import LatentlabError

# (column header, eval.json key, format)
COLUMNS = [
    ("N", "samples_n", "d"), ("FD", "samples_fd", ".2f"), ("FD floor", "samples_fd_floor", ".2f"),
    ("precision", "samples_precision", ".3f"), ("recall", "samples_recall", ".3f"),
    ("density", "samples_density", ".3f"), ("coverage", "samples_coverage", ".3f"),
    ("recognisable", "samples_recognisable", ".3f"),
    ("classes", None, None), ("class KL", "samples_class_kl", ".3f"), ("label acc", "samples_label_accuracy", ".3f"),
    ("evaluator", "evaluator_sha256", None),
]


def register(sub: argparse._SubParsersAction, help: str) -> None:
    p = sub.add_parser("compare", help=help, description="Print one table of the sample metrics that `latentlab eval RUN --samples N` "
                                   "wrote to each RUN/eval.json.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.add_argument("--dynamics", nargs="?", const="", default=None, metavar="PNG",
                   help="instead of the table: GAN runs' generator gradient signal and D(G(z)) per epoch in one figure "
                        "(the vanishing-gradient experiment; default FIRST_RUN/dynamics-compare.png) and the signal per epoch")
    p.set_defaults(func=run)


def read_row(run_dir: Path) -> dict:
    """The name, model, dataset and eval.json of one run folder."""
    config = run_dir / "config.json"
    if not config.is_file():
        raise LatentlabError(f"{run_dir} is not a latentlab run folder: config.json is missing")
    try:
        cfg = json.loads(config.read_text())
        info = {"run": run_dir.name or str(run_dir), "model": cfg["model"], "dataset": Path(cfg["train"]["dataset"]).stem}
    except (KeyError, TypeError, json.JSONDecodeError) as e:
        raise LatentlabError(f"{config} is damaged ({type(e).__name__}: {e}); retrain, or restore it") from e
    path = run_dir / "eval.json"
    try:
        metrics = json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError as e:
        raise LatentlabError(f"{path} is damaged ({e}); delete it and run `latentlab eval {run_dir} --samples 10000` again") from e
    return {**info, **metrics}


def cell(row: dict, key: str | None, fmt: str | None, header: str) -> str:
    if header == "classes":
        return f"{row['samples_classes_covered']}/{row['samples_classes']}" if "samples_classes_covered" in row else "-"
    value = row.get(key)
    if value is None:
        return "-"
    if key == "evaluator_sha256":
        return str(value)[:12]
    return format(value, fmt) if fmt else str(value)


def table(rows: list[dict], markdown: bool = False) -> str:
    headers = ["run", "model", "dataset"] + [h for h, _, _ in COLUMNS]
    body = [[r["run"], r["model"], r["dataset"]] + [cell(r, k, f, h) for h, k, f in COLUMNS] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" if i < 3 else "---:" for i in range(len(headers))) + "|"]
        return "\n".join(lines + ["| " + " | ".join(b) + " |" for b in body])
    widths = [max(len(x) for x in col) for col in zip(headers, *body)]
    return "\n".join("  ".join(x.ljust(w) if i < 3 else x.rjust(w) for i, (x, w) in enumerate(zip(line, widths)))
                     for line in [headers] + body)


def notes(rows: list[dict]) -> list[str]:
    """What makes numbers in the table incomparable."""
    out = [f"{r['run']}: no sample metrics yet; run `latentlab eval RUN --samples 10000`" for r in rows if "samples_fd" not in r]
    for dataset in sorted({r["dataset"] for r in rows}):
        scored = [r for r in rows if r["dataset"] == dataset and "samples_fd" in r]
        local = [r["run"] for r in scored if r.get("evaluator") == "local"]
        if local:
            out.append(f"{dataset}: {', '.join(local)} scored by an evaluator trained on this machine (evaluator: local): "
                       "comparable only with results that name the same hash")
        if len({r.get("evaluator_sha256") for r in scored}) > 1:
            out.append(f"{dataset}: runs were scored by different evaluators (see the hashes), so their metrics are "
                       "not comparable; re-run `latentlab eval RUN --samples N` on each (digits, mnist and fashion-mnist "
                       "use the shipped evaluator; share a local one with --evaluator-cache DIR)")
        if len({r["samples_n"] for r in scored}) > 1:
            out.append(f"{dataset}: runs were scored on different numbers of samples N; FD shrinks as N grows")
    return out


def run(args: argparse.Namespace) -> int:
    if args.dynamics is not None:
        from latentlab.analysis.dynamics import compare_dynamics
        path, text = compare_dynamics(args.runs, Path(args.dynamics or Path(args.runs[0]) / "dynamics-compare.png"))
        print(text)
        print(path)
        return 0
    rows = [read_row(Path(r)) for r in args.runs]
    print(table(rows, args.markdown))
    for line in notes(rows):
        print(f"note: {line}")
    return 0
