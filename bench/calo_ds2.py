"""The CaloChallenge dataset-2 geometry end to end (issue 16): simulate, train, generate, validate, time.

    .venv/bin/python bench/calo_ds2.py [--n-train 10000] [--n-ref 5000] [--models calo-vae calo-flow] [--epochs 10]
                                       [--epochs-flow 4]

1. the reference simulator writes CaloChallenge files in the dataset-2 geometry (45 layers x 16
   angular x 9 radial bins = 6480 voxels, electrons, 1 GeV - 1 TeV log-uniform, MeV): n_train
   showers to train on (seed 0), n_ref reference showers (seed 1) and n_ref more (seed 2), the floor;
2. each model trains on the training file with ``latentlab calo train`` (the one loop, one thread);
3. it generates one shower per reference energy, written as a CaloChallenge file, and
   ``calo validate`` compares it with the reference, the CaloChallenge way: the DNN classifier
   on voxels and on high-level features (calibrated; AUC), FPD and KPD on the high-level
   features, the separation power of every per-layer feature; the floor (reference against the
   seed-2 sample) beside each figure;
4. ms per shower of the simulator and of each generator at the CaloChallenge batch sizes 1, 100
   and 10,000 (one thread).

Writes bench/results/calo_ds2.md; the runs, files and full reports stay in bench/_work/calo_ds2/.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

torch.set_num_threads(1)

from latentlab.calo import read_showers, simulate_to_file, write_showers  # noqa: E402
from latentlab.calo.bench_sim import CALOCHALLENGE_BATCHES, time_generator, time_simulator  # noqa: E402
from latentlab.calo.generate import generate, train_showers  # noqa: E402
from latentlab.calo.geometry import CaloChallengeGeometry  # noqa: E402
from latentlab.calo.validate import validate  # noqa: E402

from common import RESULTS, WORK, load_average  # noqa: E402  (bench/ is on sys.path)

OUT = WORK / "calo_ds2"
DS2 = CaloChallengeGeometry.dataset(2)
FEATURE_FAMILIES = ("energy", "centre_x", "centre_y", "width_x", "width_y", "sparsity")


def headline(result: dict) -> dict:
    c = result["classifier"]
    summary = result.get("separation_summary", {})
    return {"dnn_low": c["dnn_low_level"]["auc"], "dnn_high": c["dnn_high_level"]["auc"],
            "fpd": result["fpd"]["value"], "kpd": result["kpd"]["value"],
            "mean_sep": result["mean_separation_power"], "max_sep": max(result["separation_power"].values()),
            "over": sum(v > 0.1 for v in result["separation_power"].values()), "n_obs": len(result["separation_power"]),
            "worst": sorted(result["separation_power"].items(), key=lambda kv: -kv[1])[:3],
            "families": {k: v.get("max") for k, v in summary.items()}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-train", type=int, default=10_000)
    p.add_argument("--n-ref", type=int, default=5_000)
    p.add_argument("--models", nargs="+", default=["calo-vae"])
    p.add_argument("--epochs", type=int, default=10, help="epochs of every model but calo-flow")
    p.add_argument("--epochs-flow", type=int, default=4, help="epochs of calo-flow (its 6480-voxel flow is the slow one)")
    p.add_argument("--min-seconds", type=float, default=2.0)
    args = p.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    load_start, started = load_average(), time.perf_counter()
    files = {"train": (OUT / "train.h5", args.n_train, 0), "reference": (OUT / "reference.h5", args.n_ref, 1),
             "floor": (OUT / "floor.h5", args.n_ref, 2)}
    sim_s = {}
    for name, (path, n, seed) in files.items():
        if not path.exists() or len(read_showers(path)) != n:
            t0 = time.perf_counter()
            simulate_to_file("eminus", n, path, seed=seed, workers=1, geometry=DS2)
            sim_s[name] = time.perf_counter() - t0
    ref, floor = read_showers(files["reference"][0]), read_showers(files["floor"][0])
    rows = {"simulator, other seed (floor)": headline(validate(ref, floor, OUT / "val_floor", figures=False))}
    sim = time_simulator(CALOCHALLENGE_BATCHES, particle="eminus", energy=None, min_seconds=args.min_seconds, workers=1,
                         geometry=DS2)["simulator_ms"]
    notes, timing = [], {"simulator": {str(b): v for b, v in sim.items()}}
    for model in args.models:
        run_dir = OUT / f"run-{model}"
        if run_dir.exists():  # a fresh run each time: the table's figures are those of this invocation
            import shutil
            shutil.rmtree(run_dir)
        t0 = time.perf_counter()
        epochs = args.epochs_flow if model == "calo-flow" else args.epochs
        run = train_showers(files["train"][0], model, epochs=epochs, out=str(run_dir), validate_n=0, progress=False)
        train_s = time.perf_counter() - t0
        gen = generate(run.dir, ref.energy, seed=3)
        write_showers(OUT / f"generated-{model}.h5", gen)  # the CaloChallenge layout, as a user would submit it
        t0 = time.perf_counter()
        rows[model] = headline(validate(ref, gen, OUT / f"val_{model}", floor=floor))
        val_s = time.perf_counter() - t0
        timing[model] = {str(b): v for b, v in time_generator(run.dir, CALOCHALLENGE_BATCHES, args.min_seconds).items()}
        notes.append(f"- `{model}`: `latentlab calo train {model} --data train.h5 --epochs {epochs}` on "
                     f"{int(0.8 * args.n_train)} showers (80% of the file), {train_s / 60:.1f} min wall at 1 thread; validation {val_s / 60:.1f} min; report "
                     f"`bench/_work/calo_ds2/val_{model}/report.html`")
    (OUT / "result.json").write_text(json.dumps({"rows": rows, "timing": timing, "simulate_s": sim_s}, indent=1,
                                                default=str))
    names = list(rows)
    cmd = "python bench/calo_ds2.py " + " ".join(sys.argv[1:])
    out = ["## CaloChallenge dataset-2 geometry, end to end (simulator stand-in, not Geant4)", "",
           f"Command: `{cmd}`  ",
           f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, 1 thread; "
           f"{time.strftime('%Y-%m-%d')}; load average {load_start} at the start, {load_average()} at the end (1 / 5 / 15 "
           f"min); {(time.perf_counter() - started) / 60:.1f} min wall in all.  ",
           f"Data: latentlab's Grindhammer-Peters simulator in the dataset-2 geometry ({DS2.n_voxels} voxels, electrons, "
           f"1 GeV - 1 TeV log-uniform; parameters fitted for 1-100 GeV, extrapolated above): {args.n_train} training "
           f"showers (seed 0), {args.n_ref} reference (seed 1), {args.n_ref} floor (seed 2), CaloChallenge files (MeV).", "",
           "| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names),
           "| DNN classifier AUC, voxels (calibrated) | " + " | ".join(f"{rows[n]['dnn_low']:.3f}" for n in names) + " |",
           "| DNN classifier AUC, high-level features | " + " | ".join(f"{rows[n]['dnn_high']:.3f}" for n in names) + " |",
           "| FPD x 1e3 (high-level features) | " + " | ".join(f"{rows[n]['fpd'] * 1e3:.2f}" for n in names) + " |",
           "| KPD x 1e3 | " + " | ".join(f"{rows[n]['kpd'] * 1e3:.3f}" for n in names) + " |",
           "| mean separation power | " + " | ".join(f"{rows[n]['mean_sep']:.3f}" for n in names) + " |",
           "| max separation power | " + " | ".join(f"{rows[n]['max_sep']:.3f}" for n in names) + " |",
           "| features with S > 0.1 | " + " | ".join(f"{rows[n]['over']} of {rows[n]['n_obs']}" for n in names) + " |",
           "| worst features | " + " | ".join(", ".join(f"{k} {v:.2f}" for k, v in rows[n]["worst"]) for n in names)
           + " |", "", *notes, "",
           "Timing, ms per shower on the CPU (1 thread; the CaloChallenge batch sizes):", "",
           "| batch | " + " | ".join(f"{n} wall | {n} CPU" for n in timing) + " |",
           "|---|" + "---|---|" * len(timing)]
    for b in CALOCHALLENGE_BATCHES:
        out.append(f"| {b} | " + " | ".join(f"{timing[n][str(b)]['wall_ms']:.3g} | {timing[n][str(b)]['cpu_ms']:.3g}"
                                            for n in timing) + " |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "calo_ds2.md").write_text("\n".join(out) + "\n")
    print("\n".join(out))


if __name__ == "__main__":
    main()
