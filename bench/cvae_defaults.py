"""Choosing the conditional VAE's defaults (issue 11): label accuracy, recognisable share and FD of its
samples on MNIST for a few settings of ``latentlab train cvae``, each run from the command line as a
user would, one torch thread, then scored by ``latentlab eval RUN --samples 10000`` (the shipped
evaluator; labels in the test split's proportions).

    python bench/cvae_defaults.py --data-dir ../shared/data/mnist [--only NAME ...]

Each variant is one run folder, bench/_work/cvae_defaults/<name>; a folder already trained and scored is
read, not trained again. Writes bench/results/cvae_defaults.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from common import RESULTS, WORK, keep_reading, load_average

EXE = str(Path(sys.executable).with_name("latentlab"))
# name -> the network and training options given to `latentlab train cvae` beside the dataset, all explicit so
# that the rows do not change with the defaults (the variants measured, in order)
OLD = {"--layers": "1", "--latent-dim": "16", "--epochs": "10"}  # the defaults before this benchmark
VARIANTS = {name: [x for k, v in {**OLD, **dict(zip(change[::2], change[1::2]))}.items() for x in (k, v)]
            for name, change in {
                "base": [],
                "ld8": ["--latent-dim", "8"],
                "ld4": ["--latent-dim", "4"],
                "l2": ["--layers", "2"],
                "e30": ["--epochs", "30"],
                "l2ld8": ["--layers", "2", "--latent-dim", "8"],
                "l2e20": ["--layers", "2", "--epochs", "20"],
                "l2ld8e20": ["--layers", "2", "--latent-dim", "8", "--epochs", "20"],
                "l2e50": ["--layers", "2", "--epochs", "50"],  # the new defaults (CVAEConfig.layers, CVAE.train_defaults)
                "l2e50cos": ["--layers", "2", "--epochs", "50", "--lr-schedule", "cosine"],
                "l2e50dyn": ["--layers", "2", "--epochs", "50", "--binarize", "dynamic"],  # the README's command
                "l2e50s1": ["--layers", "2", "--epochs", "50", "--seed", "1"],
            }.items()}


def run(name: str, options: list[str], data_dir: str, work: Path) -> dict:
    out = work / name
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if not (out / "eval.json").is_file():
        if not (out / "model.safetensors").is_file():
            subprocess.run([EXE, "train", "cvae", "--dataset", "mnist", "--data-dir", data_dir, "--no-progress",
                            "--out", str(out), *options], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([EXE, "eval", str(out), "--samples", "10000", "--data-dir", data_dir], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    scored = json.loads((out / "eval.json").read_text())
    config = json.loads((out / "config.json").read_text())
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return {"name": name, "options": options, "epochs": rows[-1]["epoch"], "minutes": sum(r["seconds"] for r in rows) / 60,
            "layers": config["model_config"]["layers"], "latent_dim": config["model_config"]["latent_dim"],
            **{k: scored[f"samples_{k}"] for k in ("fd", "fd_floor", "recognisable", "recognisable_ceiling",
                                                   "label_accuracy", "classes_covered")}}


def table(rows: list[dict], data_dir: str, started: str, loads: list[str]) -> str:
    lines = ["## Conditional VAE: what its defaults draw on MNIST (issue 11 target: label accuracy at least 97%)", "",
             f"Commands: `latentlab train cvae --dataset mnist --data-dir {data_dir} --no-progress --out RUN OPTIONS` "
             f"(one torch thread), then `latentlab eval RUN --samples 10000 --data-dir {data_dir}`; all rows: "
             f"`python bench/cvae_defaults.py --data-dir {data_dir}`.  ",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, one thread per run; {started}; load average at the "
             f"start / end: {loads[0]}; {loads[1]}. Minutes: the loop's own time (sum of its epochs).  ",
             "Scoring: 10,000 samples (seed 0), labels in the test split's proportions, in the shipped evaluator's "
             "features; label accuracy: the share of samples the evaluator gives the label they were drawn for; "
             "recognisable: confidence at least 0.9.", "",
             "| variant | options | layers | latent | epochs | minutes | **label accuracy** | recognisable (ceiling) | FD (floor) | classes |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['name']} | `{' '.join(r['options'])}` | {r['layers']} | {r['latent_dim']} | "
                     f"{r['epochs']} | {r['minutes']:.1f} | **{100 * r['label_accuracy']:.1f}%** | "
                     f"{r['recognisable']:.3f} ({r['recognisable_ceiling']:.3f}) | {r['fd']:.1f} ({r['fd_floor']:.2f}) | "
                     f"{r['classes_covered']}/10 |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="../shared/data/mnist", help="folder of the MNIST IDX files")
    p.add_argument("--only", nargs="+", choices=list(VARIANTS), help="run only these variants (the table keeps every scored one)")
    args = p.parse_args()
    work = WORK / "cvae_defaults"
    work.mkdir(parents=True, exist_ok=True)
    started, loads = time.strftime("%Y-%m-%d"), [load_average()]
    rows = {}
    for name in args.only or VARIANTS:
        rows[name] = run(name, VARIANTS[name], args.data_dir, work)
        print(name, rows[name], flush=True)
    kept = [name for name in VARIANTS if name in rows or (work / name / "eval.json").is_file()]  # every scored one, in order
    rows = [rows.get(name) or run(name, VARIANTS[name], args.data_dir, work) for name in kept]
    loads.append(load_average())
    out = RESULTS / "cvae_defaults.md"
    out.write_text(keep_reading(out, table(rows, args.data_dir, started, loads)))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
