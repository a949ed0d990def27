"""What latentlab's training loop costs over a bare PyTorch loop on the same networks and steps (issue 11:
at most 1.05x, with validation and the per-epoch pictures at their default frequency).

Contenders, each in a fresh process with one torch thread, alternated round by round (who goes first
alternates too), the data loaded before either clock starts:
  latentlab   ``latentlab.train(MODEL, epochs=E, seed=0)`` at its defaults: steps, validation, checkpoints,
              metrics, TensorBoard and the per-epoch pictures. Its time is the loop's own clock (saved in the
              run's train_state.pt); the whole ``train`` call (building the model and optimisers, the run folder
              and the end-of-run pictures and report) is reported beside it.
  bare        the ``BareLoop`` of bench/time_to_quality.py: latentlab's default networks of MODEL, the same
              batches, optimiser settings and losses, a dozen lines of steps and nothing else.

    python bench/loop_overhead.py --data-dir ../shared/data/mnist [--model dcgan] [--epochs 1] [--rounds 3]

Writes bench/results/loop_overhead.md (one section per model and dataset, kept across invocations in
bench/results/loop_overhead.json).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import keep_reading, load_average  # noqa: E402  (bench/ is on sys.path)

ROOT = Path(__file__).resolve().parent
TARGET = 1.05


def one(who: str, model: str, dataset: str, data_dir: str | None, epochs: int) -> dict:
    """One contender in this process (the child side of ``--one``): the JSON line the parent reads."""
    import torch
    torch.set_num_threads(1)
    import latentlab
    from latentlab.data import iterate_batches, load_dataset
    from time_to_quality import BARE, BareLoop
    data = load_dataset(dataset, data_dir, 0.1, 0)
    if who == "bare":
        started = time.perf_counter()
        bare = BareLoop(next(k for k, v in BARE.items() if v == model), data, 0, Path(tempfile.mkdtemp()) / "none.pt")
        bare.model.train()
        steps_from = time.perf_counter()
        for epoch in range(epochs):
            for x, _ in iterate_batches(data.train, bare.batch_size, shuffle=True, epoch=epoch, seed=0):
                bare.train_step(x)
                bare.steps += 1
        ended = time.perf_counter()
        return {"loop_s": ended - steps_from, "whole_s": ended - started, "steps": bare.steps}
    out = Path(tempfile.mkdtemp()) / "run"
    try:
        started = time.perf_counter()
        latentlab.train(model, out=str(out), data=data, epochs=epochs, seed=0, device="cpu", progress=False)
        whole = time.perf_counter() - started
        loop = torch.load(out / "train_state.pt", weights_only=True)["loop"]
        return {"loop_s": loop["seconds"], "whole_s": whole, "steps": loop["step"]}
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)


def compare(args) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs: dict[str, list[dict]] = {"latentlab": [], "bare": []}
    for r in range(args.rounds):
        order = ["latentlab", "bare"] if r % 2 == 0 else ["bare", "latentlab"]
        for who in order:
            cmd = [sys.executable, __file__, "--one", who, "--model", args.model, "--dataset", args.dataset,
                   "--epochs", str(args.epochs)] + (["--data-dir", args.data_dir] if args.data_dir else [])
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            res = json.loads(done.stdout.strip().splitlines()[-1])
            runs[who].append(res)
            print(f"round {r}: {who:9s} loop {res['loop_s']:.2f} s, whole {res['whole_s']:.2f} s, {res['steps']} steps",
                  flush=True)
    med = {who: {m: statistics.median(x[m] for x in v) for m in ("loop_s", "whole_s")} for who, v in runs.items()}
    return {"runs": runs, "median": med, "steps": runs["latentlab"][-1]["steps"],
            "loop_ratio": med["latentlab"]["loop_s"] / med["bare"]["loop_s"],
            "whole_ratio": med["latentlab"]["whole_s"] / med["bare"]["whole_s"]}


def write_markdown(table: dict, out: Path) -> None:
    lines = ["## Training-loop overhead against a bare PyTorch loop (issue 11 target: at most 1.05x)", "",
             "Each contender in a fresh process with one torch thread, alternated round by round; medians. "
             "latentlab: `latentlab.train(MODEL, epochs=E, seed=0)` at its defaults (validation, checkpoints, metrics, "
             "TensorBoard, per-epoch pictures); its loop time is the loop's own clock, its whole time the `train` call "
             "(model, optimisers, run folder, end-of-run pictures and report). Bare: the same networks, batches, "
             "optimiser settings and losses in a plain loop (`BareLoop` of bench/time_to_quality.py); loop time = "
             "its steps, whole time = building the model and optimisers too.", "",
             "| model | dataset | epochs | rounds | steps | latentlab loop s | bare loop s | **loop ratio** | "
             "latentlab whole s | bare whole s | whole ratio | load average 1 / 5 / 15 min (start; end) | date |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in table.values():
        m = r["median"]
        lines.append(f"| {r['model']} | {r['dataset']} | {r['epochs']} | {r['rounds']} | {r['steps']} | "
                     f"{m['latentlab']['loop_s']:.2f} | {m['bare']['loop_s']:.2f} | **{r['loop_ratio']:.3f}x** | "
                     f"{m['latentlab']['whole_s']:.2f} | {m['bare']['whole_s']:.2f} | {r['whole_ratio']:.3f}x | "
                     f"{r['load'][0]}; {r['load'][1]} | {r['date']} |")
    lines += ["", f"Target (the loop at most {TARGET}x the bare loop's time): " + "; ".join(
        f"{r['model']} on {r['dataset']}, {r['epochs']} epochs: **{'met' if r['loop_ratio'] <= TARGET else 'not met'}**"
        for r in table.values()) + "."]
    lines += ["", "Commands:", ""] + [f"- `{r['command']}`" for r in table.values()]
    lines += ["", f"Machine: {platform.machine()}, {os.cpu_count()} cores, one torch thread per process.", ""]
    out.write_text(keep_reading(out, "\n".join(lines)))
    print("\n".join(lines))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="dcgan", choices=("dcgan", "vae"))
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--one", default=None, choices=("latentlab", "bare"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.model, args.dataset, args.data_dir, args.epochs)))
        return
    load_start = load_average()
    result = compare(args)
    store = ROOT / "results" / "loop_overhead.json"
    table = json.loads(store.read_text()) if store.exists() else {}
    table[f"{args.model}-{args.dataset}-e{args.epochs}"] = {
        "model": args.model, "dataset": args.dataset, "epochs": args.epochs, "rounds": args.rounds,
        **{k: result[k] for k in ("median", "steps", "loop_ratio", "whole_ratio")},
        "load": [load_start, load_average()], "date": time.strftime("%Y-%m-%d"),
        "command": "python bench/loop_overhead.py " + " ".join(sys.argv[1:])}
    store.write_text(json.dumps(table, indent=1) + "\n")
    write_markdown(table, ROOT / "results" / "loop_overhead.md")


if __name__ == "__main__":
    main()
