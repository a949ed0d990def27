"""Choosing the samplers' defaults (issue 11): the trials of ``bench/time_to_quality.py`` with other settings,
gathered into one table beside the defaults they would replace.

Each trial is a time-to-quality run of one or more models with ``--set NAME=VALUE`` (e.g. ema=0.999,
channels=64), scored at each budget on N = 10,000 samples with the shipped evaluator; its runs and results
are kept in bench/_work/time_to_quality/<dataset>-t<threads>-s<seed>[-<settings>]/. This script trains
nothing: it reads every such folder (and, for the defaults, the committed results of time_to_quality.py)
and writes bench/results/gan_defaults[-DATASET].md, one row per model, settings and budget, so that a
default is changed only where its row says it helps. The table holds what is on disk when it is rerun;
the trials written by hand under its reading are those whose folders are gone.

    python bench/time_to_quality.py --threads 1 --models dcgan --budgets 5 15 --data-dir ../shared/data/mnist
    python bench/time_to_quality.py --threads 1 --models dcgan --budgets 5 15 --data-dir ../shared/data/mnist --set ema=0.999
    ...
    python bench/gan_defaults.py [--dataset mnist] [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from common import RESULTS, WORK, keep_reading

COLUMNS = ["model", "settings", "minutes", "steps", "epochs", "FD ↓", "precision ↑", "recall ↑", "classes",
           "class KL ↓", "label acc", "recognisable ↑"]


def trials(dataset: str, threads: int, seed: int) -> list[tuple[str, Path, Path]]:
    """(settings as written in the folder's name, '' for the defaults; the run's folder; the folder of its
    per-budget results), defaults first. The defaults' results are the committed ones of time_to_quality.py."""
    base = WORK / "time_to_quality"
    prefix = f"{dataset}-t{threads}-s{seed}"
    found = [(d.name[len(prefix) + 1:], d, d / "results") for d in sorted(base.glob(f"{prefix}-*"))]
    found.append(("", base / prefix, RESULTS / "time_to_quality" / prefix))
    return sorted(found, key=lambda t: (t[0] != "", t[0]))


def settings_text(folder: Path, tag: str) -> str:
    """The trial's settings as NAME=VALUE: from its settings.json, else read from the folder's name, which joins
    NAME and VALUE ('channels64-ema0.999')."""
    saved = folder / "settings.json"
    if saved.is_file():
        settings = json.loads(saved.read_text())
        return ", ".join(f"{k}={v}" for k, v in sorted(settings.items())) or "defaults"
    parts = [p for p in tag.split("-") if p]
    return ", ".join(re.sub(r"^([a-z_]+?)(?=[0-9.]|true|false)", r"\1=", p) for p in parts) or "defaults"


def fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--threads", type=int, default=1, help="the trials' torch threads (default 1)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    rows = []
    for tag, folder, results in trials(args.dataset, args.threads, args.seed):
        for f in sorted(results.glob("*.json")):
            r = json.loads(f.read_text())
            rows.append({**r, "settings": settings_text(folder, tag)})
    if not rows:
        raise SystemExit(f"no trials found under {WORK / 'time_to_quality'} for {args.dataset}, {args.threads} thread(s), "
                         f"seed {args.seed}: run bench/time_to_quality.py first (see --help)")
    rows.sort(key=lambda r: (r["name"], r["settings"] != "defaults", r["settings"], r["minutes"]))
    ev = rows[0]
    lines = [f"# Trials of the samplers' defaults on {args.dataset}", "",
             f"Command: `python bench/gan_defaults.py --dataset {args.dataset} --threads {args.threads}`, which gathers the "
             f"runs of `python bench/time_to_quality.py --threads {args.threads} --models MODEL --budgets ... "
             f"--data-dir ... [--set NAME=VALUE ...]`, one per row group (seed {args.seed}, {args.threads} torch "
             f"thread{'s' * (args.threads > 1)}: minutes of loop wall time on one core are CPU-minutes).  ",
             f"Scoring: N = {ev.get('samples_n', 10000)} samples against the test split in the shipped evaluator's features "
             f"(sha256 `{ev['evaluator_sha256'][:12]}…`); floors (N training images): FD {ev.get('samples_fd_floor', float('nan')):.2f}, "
             f"precision {ev.get('samples_precision_floor', float('nan')):.3f}, recall "
             f"{ev.get('samples_recall_floor', float('nan')):.3f}; recognisable ceiling {ev['samples_recognisable_ceiling']:.3f}.", "",
             "| " + " | ".join(COLUMNS) + " |", "|---|---|" + "---:|" * (len(COLUMNS) - 2)]
    for r in rows:
        lines.append(f"| {r['name']} | {r['settings']} | {r['minutes']:g} | {r['steps']} | {fmt(r.get('epochs'), 'd')} | "
                     f"{r['samples_fd']:.2f} | {r['samples_precision']:.3f} | {r['samples_recall']:.3f} | "
                     f"{fmt(r.get('samples_classes_covered'), 'd')}/{r.get('samples_classes', 10)} | "
                     f"{fmt(r.get('samples_class_kl'), '.3f')} | {fmt(r.get('samples_label_accuracy'), '.3f')} | "
                     f"{r['samples_recognisable']:.3f} |")
    out = RESULTS / ("gan_defaults.md" if args.dataset == "mnist" else f"gan_defaults-{args.dataset}.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(keep_reading(out, "\n".join(lines) + "\n"))
    print(out)


if __name__ == "__main__":
    main()
