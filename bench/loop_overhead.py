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
    python bench/loop_overhead.py --data-dir ../shared/data/mnist --model vae --parts [--epochs 2]

--parts accounts for where latentlab's loop spends its time, which a machine whose speed drifts cannot blur:
the CPU and wall seconds of each part of the loop (steps, validation, checkpoint, pictures, TensorBoard;
the rest is the batches and bookkeeping) over --epochs epochs after one warm-up epoch, then 100 steps of
latentlab's ``Trainer.step`` against 100 of the bare loop, alternated four times in this process.

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


def parts(model: str, dataset: str, data_dir: str | None, epochs: int) -> None:
    """Print the loop's time by part and the steps' cost against the bare loop's (see the module doc)."""
    import collections
    import functools
    import torch
    torch.set_num_threads(1)
    import latentlab
    from latentlab.config import TrainConfig, from_dict, train_defaults
    from latentlab.data import iterate_batches, load_dataset
    from latentlab.models import get_model_class
    from latentlab.training import callbacks, events
    from latentlab.training import loop as L
    from time_to_quality import BARE, BareLoop
    cpu, wall = collections.Counter(), collections.Counter()

    def timed(owner, name: str) -> None:
        f = getattr(owner, name)

        @functools.wraps(f)
        def g(*a, **k):
            c, w = time.process_time(), time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                cpu[name] += time.process_time() - c
                wall[name] += time.perf_counter() - w
        setattr(owner, name, g)
    for owner, name in ((L.Trainer, "step"), (L, "end_epoch"), (L, "checkpoint"), (callbacks.Pictures, "after_epoch"),
                        (events.EventLog, "samples"), (events.EventLog, "scalars"), (L, "loop")):
        timed(owner, name)
    data = load_dataset(dataset, data_dir, 0.1, 0)
    out = Path(tempfile.mkdtemp())
    try:
        latentlab.train(model, data=data, epochs=1, seed=0, out=str(out / "warm"), progress=False)
        cpu.clear(), wall.clear()
        latentlab.train(model, data=data, epochs=epochs, seed=0, out=str(out / "run"), progress=False)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    loop_cpu, loop_wall = cpu.pop("loop"), wall.pop("loop")
    print(f"{model}, {epochs} epochs: the loop {loop_cpu:.2f} CPU s, {loop_wall:.2f} wall s")
    for name, c in cpu.most_common():
        print(f"  {name:<12} CPU {c:7.3f} s ({100 * c / loop_cpu:4.1f}%)   wall {wall[name]:7.3f} s ({100 * wall[name] / loop_wall:4.1f}%)")
    rest_cpu, rest_wall = loop_cpu - sum(cpu.values()), loop_wall - sum(wall.values())
    print(f"  {'the rest':<12} CPU {rest_cpu:7.3f} s ({100 * rest_cpu / loop_cpu:4.1f}%)   wall {rest_wall:7.3f} s "
          f"({100 * rest_wall / loop_wall:4.1f}%)   (batches, bookkeeping)")
    # the steps alone: latentlab's Trainer.step against the bare loop's, on the same 100 batches
    bare = BareLoop(next(k for k, v in BARE.items() if v == model), data, 0, out / "none.pt")
    cls = get_model_class(model)
    cfg = from_dict(TrainConfig, {**train_defaults(cls), "seed": 0})
    torch.manual_seed(0)
    net = cls(cls.Config(), data.shape, data.num_classes)
    net.fit_start(data.train.x)
    net.train(), bare.model.train()
    groups = net.optimizer_groups()
    trainer = L.Trainer(net, net, groups, {g: L.make_optimizer(cfg, ps) for g, ps in groups.items()}, amp=False)
    schedule = net.schedule()
    batches = list(iterate_batches(data.train, cfg.batch_size, shuffle=True, epoch=0, seed=0))[:100]
    took: dict[str, list[float]] = {"latentlab": [], "bare": []}
    for r in range(4):
        for who in (["latentlab", "bare"] if r % 2 == 0 else ["bare", "latentlab"]):
            started = time.process_time()
            for i, (x, y) in enumerate(batches):
                if who == "latentlab":
                    trainer.step(schedule[i % len(schedule)], x, y)
                else:
                    bare.train_step(x)
                    bare.steps += 1
            took[who].append(time.process_time() - started)
    print(f"  100 steps, CPU s: latentlab {[round(t, 2) for t in took['latentlab']]}, bare {[round(t, 2) for t in took['bare']]}: "
          f"{statistics.median(took['latentlab']) / statistics.median(took['bare']):.3f}x")


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
    # each round's two runs are back to back: the median of the rounds' ratios is robust to a machine whose speed drifts
    ratios = {m: [a[m] / b[m] for a, b in zip(runs["latentlab"], runs["bare"])] for m in ("loop_s", "whole_s")}
    return {"runs": runs, "median": med, "steps": runs["latentlab"][-1]["steps"],
            "loop_ratio": statistics.median(ratios["loop_s"]), "loop_ratios": ratios["loop_s"],
            "whole_ratio": statistics.median(ratios["whole_s"])}


def write_markdown(table: dict, out: Path) -> None:
    lines = ["## Training-loop overhead against a bare PyTorch loop (issue 11 target: at most 1.05x)", "",
             "Each contender in a fresh process with one torch thread, alternated round by round (who goes first alternates too); times: medians; ratios: the median of the rounds' ratios, each round's two runs being back to back (the lowest and highest in brackets). "
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
                     f"{m['latentlab']['loop_s']:.2f} | {m['bare']['loop_s']:.2f} | **{r['loop_ratio']:.3f}x**"
                     + (f" ({min(r['loop_ratios']):.3f}-{max(r['loop_ratios']):.3f})" if r.get("loop_ratios") else "") + " | "
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
    p.add_argument("--parts", action="store_true", help="where latentlab's loop spends its time, part by part (module doc)")
    p.add_argument("--one", default=None, choices=("latentlab", "bare"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.parts:
        parts(args.model, args.dataset, args.data_dir, args.epochs)
        return
    if args.one:
        print(json.dumps(one(args.one, args.model, args.dataset, args.data_dir, args.epochs)))
        return
    load_start = load_average()
    result = compare(args)
    store = ROOT / "results" / "loop_overhead.json"
    table = json.loads(store.read_text()) if store.exists() else {}
    table[f"{args.model}-{args.dataset}-e{args.epochs}"] = {
        "model": args.model, "dataset": args.dataset, "epochs": args.epochs, "rounds": args.rounds,
        **{k: result[k] for k in ("median", "steps", "loop_ratio", "loop_ratios", "whole_ratio")},
        "load": [load_start, load_average()], "date": time.strftime("%Y-%m-%d"),
        "command": "python bench/loop_overhead.py " + " ".join(sys.argv[1:])}
    store.write_text(json.dumps(table, indent=1) + "\n")
    write_markdown(table, ROOT / "results" / "loop_overhead.md")


if __name__ == "__main__":
    main()
