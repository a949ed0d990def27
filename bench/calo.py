"""Learning to simulate calorimeter showers: validation and timing tables -> bench/results/calo.md.

    .venv/bin/python bench/calo.py [--n-train 30000] [--n-ref 10000] [--epochs-gan 25] [--epochs-vae 30] [--parts ...]

1. simulate n_train e+ showers (1-100 GeV, seed 0) to train on and n_ref independent ones
   (seed 1) as the reference, plus n_ref more (seed 2) as the "perfect generator" floor;
2. train calo-wgan, calo-vae and a narrower calo-wgan (hidden 128) on the training file (the one
   loop, one CPU thread each; the parts can run as separate processes, see --parts);
3. generate one shower per reference energy with each and validate against the reference
   (separation power of every observable, classifier AUC, FPD, KPD), with the fitted-response
   calibration (the default) and without it ("uncalibrated");
4. time the reference simulator and each generator on the CPU at batch 1, 10, 128, 1024.
Targets (issue 6): generator >= 100x faster than the simulator at batch 1024; AUC <= 0.75;
every separation power <= 0.1.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

torch.set_num_threads(1)

from latentlab.calo import CALOGAN_PUBLISHED_MS, read_calogan, simulate_to_file  # noqa: E402
from latentlab.calo.bench_sim import time_callable, time_simulator  # noqa: E402
from latentlab.calo.generate import generate, load_model, train_showers  # noqa: E402
from latentlab.calo.validate import validate  # noqa: E402

ROOT = Path(__file__).resolve().parent
WORK = ROOT / "_work" / "calo"
RESULT = ROOT / "results" / "calo.md"
BATCHES = (1, 10, 128, 1024)
# bench part -> (model, settings beyond the model's train_defaults and Config defaults)
VARIANTS = {"calo-wgan": ("calo-wgan", {}), "calo-vae": ("calo-vae", {}),
            "calo-wgan-h128": ("calo-wgan", {"hidden": 128})}  # half the width: about 2.5x fewer FLOPs per shower


def load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-train", type=int, default=30_000)
    p.add_argument("--n-ref", type=int, default=10_000)
    p.add_argument("--epochs-gan", type=int, default=25)
    p.add_argument("--epochs-vae", type=int, default=30)
    p.add_argument("--parts", nargs="+", default=["data", "floor", "calo-wgan", "calo-vae", "calo-wgan-h128", "simulator", "report"],
                   help="steps to run (each saves its result under bench/_work/calo, so they can run apart)")
    p.add_argument("--min-seconds", type=float, default=2.0)
    args = p.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    train_file, ref_file, floor_file = WORK / "train.h5", WORK / "reference.h5", WORK / "floor.h5"
    if "data" in args.parts:
        for path, n, seed in ((train_file, args.n_train, 0), (ref_file, args.n_ref, 1), (floor_file, args.n_ref, 2)):
            if not path.exists() or len(read_calogan(path)) != n:
                simulate_to_file("eplus", n, path, seed=seed, workers=1)
    if "floor" in args.parts:
        t0 = time.time()
        result = validate(read_calogan(ref_file), read_calogan(floor_file), WORK / "val_floor")
        save("floor", {"validation": result, "wall_s": time.time() - t0})
    for name in VARIANTS:
        if name in args.parts:
            save(name, train_and_validate(name, args, train_file, read_calogan(ref_file)))
    if "simulator" in args.parts:
        save("simulator", time_simulator(BATCHES, min_seconds=args.min_seconds, workers=1))
    if "report" in args.parts:
        write(args)


def save(part: str, obj: dict) -> None:
    (WORK / f"part_{part}.json").write_text(json.dumps(obj, indent=1, default=str))


def train_and_validate(name: str, args, train_file: Path, ref) -> dict:
    model_name, extra = VARIANTS[name]
    epochs = args.epochs_gan if model_name == "calo-wgan" else args.epochs_vae
    run_dir = WORK / f"run-{name}"
    if (run_dir / "config.json").exists():
        import shutil
        shutil.rmtree(run_dir)
    t0 = time.time()
    run = train_showers(train_file, model_name, epochs=epochs, out=str(run_dir), validate_n=0, progress=False, **extra)
    train_s = time.time() - t0
    gen = generate(run.dir, ref.energy, seed=3)
    t0 = time.time()
    result = validate(ref, gen, WORK / f"val_{name}")
    val_s = time.time() - t0
    model = load_model(run.dir)
    model.cfg.calibrate = False  # the network's own totals, without the fitted-response rescaling
    raw = validate(ref, generate(model, ref.energy, seed=3), WORK / f"val_{name}_uncalibrated", figures=False)
    model.cfg.calibrate = True
    e = torch.as_tensor(ref.energy[:1024], dtype=torch.float32)
    ms = time_callable(lambda b, i: model.generate(e[:b], batch_size=b), BATCHES, args.min_seconds)
    last = run.metrics[-1]
    note = (f"- `{name}`: {model_name} {extra or ''} {epochs} epochs on {int(0.8 * args.n_train)} showers "
            f"(80% of the file; 10% validation, 10% test), {train_s / 60:.1f} min wall at 1 thread (load average "
            f"{load()}); settings: `{run_dir.relative_to(ROOT.parent)}/config.json`; last epoch: "
            + ", ".join(f"{k} {v:.3g}" for k, v in last.items() if k.startswith(("train_", "val_"))))
    return {"validation": result, "uncalibrated": raw, "timing": {str(b): v for b, v in ms.items()}, "note": note,
            "train_s": train_s, "validate_s": val_s}


def write(args) -> None:
    parts = {p.stem[len("part_"):]: json.loads(p.read_text()) for p in sorted(WORK.glob("part_*.json"))}
    rows = {}
    if "floor" in parts:
        rows["simulator, other seed (floor)"] = parts["floor"]["validation"]
    models = [n for n in VARIANTS if n in parts]
    rows.update({n: parts[n]["validation"] for n in models})
    rows.update({f"{n}, uncalibrated": parts[n]["uncalibrated"] for n in models if "uncalibrated" in parts[n]})
    cmd = (f"`.venv/bin/python bench/calo.py --n-train {args.n_train} --n-ref {args.n_ref} "
           f"--epochs-gan {args.epochs_gan} --epochs-vae {args.epochs_vae}`")
    names = list(rows)
    out = ["# Calorimeter showers: learning to simulate (issue 6)", "",
           f"Command: {cmd} (steps can run apart: `--parts data floor calo-wgan calo-vae calo-wgan-h128 simulator report`; here `data`, then the three models and `floor simulator` as parallel processes, then `report`)  ",
           f"Machine: {platform.machine()}, {os.cpu_count()} cores shared with ~5 other jobs (load average between about 5 and 27 "
           f"during these runs), torch {torch.__version__}, 1 thread per process; load average when the report was written {load()}.  ",
           "Wall time: " + ", ".join(f"{n} training {parts[n]['train_s'] / 60:.1f} min + validation "
                                      f"{parts[n]['validate_s'] / 60:.1f} min" for n in models) + ".  ",
           f"Data: e+ showers from latentlab's Grindhammer-Peters simulator (1-100 GeV uniform, CaloGAN geometry, "
           f"not Geant4): {args.n_train} in the training file (seed 0), {args.n_ref} reference showers (seed 1) for "
           f"validation, {args.n_ref} more (seed 2) as the floor a perfect generator would reach. Each model "
           "generates one shower per reference energy.", ""]
    if rows:
        observables = list(next(iter(rows.values()))["separation_power"])
        out += ["## Validation (targets: classifier AUC <= 0.75, every separation power <= 0.1)", "",
                "| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names),
                "| classifier AUC | " + " | ".join(f"{rows[n]['classifier']['auc']:.3f}" for n in names) + " |",
                "| FPD x 1e3 | " + " | ".join(f"{rows[n]['fpd']['value'] * 1e3:.2f}" for n in names) + " |",
                "| KPD x 1e3 | " + " | ".join(f"{rows[n]['kpd']['value'] * 1e3:.3f}" for n in names) + " |",
                "| mean separation power | " + " | ".join(f"{rows[n]['mean_separation_power']:.3f}" for n in names)
                + " |",
                "| max separation power | " + " | ".join(f"{max(rows[n]['separation_power'].values()):.3f}"
                                                        for n in names) + " |",
                "| observables with S > 0.1 | " + " | ".join(
                    f"{sum(v > 0.1 for v in rows[n]['separation_power'].values())} of {len(observables)}"
                    for n in names) + " |", "",
                "Separation power per observable:", "",
                "| observable | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for o in observables:
            out.append(f"| {o} | " + " | ".join(f"{rows[n]['separation_power'][o]:.3f}" for n in names) + " |")
        out += ["", *[parts[n]["note"] for n in models], "",
                "Full reports (histograms, average images, response): `bench/_work/calo/val_*/report.html`.", ""]
    if "simulator" in parts:
        sim = parts["simulator"]["simulator_ms"]
        pub = CALOGAN_PUBLISHED_MS["calogan_cpu"]
        out += ["## Timing, ms per shower on the CPU (1 thread)", "",
                "Wall is elapsed time on the shared, loaded machine; CPU is this process's CPU time (less sensitive "
                "to the load). Generators: `model.generate(energies)`, MeV cells included. CaloGAN's published "
                "figures (arXiv:1712.10321) are for their GAN on a desktop CPU, and for Geant4.", "",
                "| batch | simulator wall | simulator CPU | " + " | ".join(f"{n} wall | {n} CPU" for n in models)
                + " | CaloGAN CPU (published) | Geant4 (published) |",
                "|---|---|---|" + "---|---|" * len(models) + "---|---|"]
        for b in BATCHES:
            s = sim[str(b)]
            out.append(f"| {b} | {s['wall_ms']:.3g} | {s['cpu_ms']:.3g} | "
                       + " | ".join(f"{parts[n]['timing'][str(b)]['wall_ms']:.3g} | "
                                    f"{parts[n]['timing'][str(b)]['cpu_ms']:.3g}" for n in models)
                       + f" | {pub.get(b, '-')} | {CALOGAN_PUBLISHED_MS['geant4_cpu']:g} |")
        out += ["", "Speed-up of each generator over the simulator at batch 1024 (target >= 100x). The simulator and "
                "the generators are timed in different steps, so under different loads: the CPU-time ratio is "
                "the fair one.", ""]
        s = sim["1024"]
        for n in models:
            t = parts[n]["timing"]["1024"]
            out.append(f"- `{n}`: {s['wall_ms'] / t['wall_ms']:.0f}x (wall), {s['cpu_ms'] / t['cpu_ms']:.0f}x (CPU time)")
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text("\n".join(out) + "\n")
    print("\n".join(out))


if __name__ == "__main__":
    main()
