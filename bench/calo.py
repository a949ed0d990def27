"""Learning to simulate calorimeter showers: validation and timing tables -> bench/results/calo.md.

    .venv/bin/python bench/calo.py [--n-train 30000] [--n-ref 10000] [--epochs-gan 25] [--epochs-vae 30]
                                   [--epochs-flow 24] [--parts ...]

1. simulate n_train e+ showers (1-100 GeV, seed 0) to train on and n_ref independent ones
   (seed 1) as the reference, plus n_ref more (seed 2) as the "perfect generator" floor;
2. train calo-wgan, calo-vae, a narrower calo-wgan (hidden 128) and calo-flow on the training
   file (the one loop, one CPU thread each; the parts can run as separate processes, see --parts);
3. generate one shower per reference energy with each and validate against the reference
   (separation power of every observable, classifier AUC, FPD, KPD), with the fitted-response
   calibration (the default of the GAN and the VAE) and without it ("uncalibrated"; calo-flow
   learns its totals and is validated as it generates); calo-flow's exact log-likelihood of
   the reference showers (``CaloFlow.log_prob``) is recorded too;
4. time the reference simulator and each generator on the CPU at batch 1, 10, 128, 1024.
Targets (issue 6): generator >= 100x faster than the simulator at batch 1024; AUC <= 0.75;
every separation power <= 0.1. Issue 16 (calo-flow): AUC <= 0.70, every separation power
<= 0.1, under CaloGAN's published 2.03 ms per shower at batch 1024 on the CPU.
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
CLASSIFIERS = "dnn+hgb"  # the CaloChallenge DNN (voxels, high-level features) and the trees of calo.classifier_auc

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
            "calo-wgan-h128": ("calo-wgan", {"hidden": 128}),  # half the width: about 2.5x fewer FLOPs per shower
            "calo-flow": ("calo-flow", {})}


def load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-train", type=int, default=30_000)
    p.add_argument("--n-ref", type=int, default=10_000)
    p.add_argument("--epochs-gan", type=int, default=25)
    p.add_argument("--epochs-vae", type=int, default=30)
    p.add_argument("--epochs-flow", type=int, default=24)
    p.add_argument("--parts", nargs="+", default=["data", "floor", "calo-wgan", "calo-vae", "calo-wgan-h128", "calo-flow",
                                                  "simulator", "report"],
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
        result = validate(read_calogan(ref_file), read_calogan(floor_file), WORK / "val_floor", classifier=CLASSIFIERS)
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
    epochs = {"calo-wgan": args.epochs_gan, "calo-vae": args.epochs_vae, "calo-flow": args.epochs_flow}[model_name]
    run_dir = WORK / f"run-{name}"
    if (run_dir / "config.json").exists():
        import shutil
        shutil.rmtree(run_dir)
    t0 = time.time()
    run = train_showers(train_file, model_name, epochs=epochs, out=str(run_dir), validate_n=0, progress=False, **extra)
    train_s = time.time() - t0
    gen = generate(run.dir, ref.energy, seed=3)
    t0 = time.time()
    result = validate(ref, gen, WORK / f"val_{name}", classifier=CLASSIFIERS)
    val_s = time.time() - t0
    model = load_model(run.dir)
    extras = {}
    if model.cfg.calibrate:
        model.cfg.calibrate = False  # the network's own totals, without the fitted-response rescaling
        extras["uncalibrated"] = validate(ref, generate(model, ref.energy, seed=3), WORK / f"val_{name}_uncalibrated",
                                          figures=False, classifier=CLASSIFIERS)
        model.cfg.calibrate = True
    if hasattr(model, "log_prob"):  # calo-flow: exact log density of the reference showers (dequantised)
        extras["log_prob"] = reference_log_prob(model, ref)
    e = torch.as_tensor(ref.energy[:1024], dtype=torch.float32)
    ms = time_callable(lambda b, i: model.generate(e[:b], batch_size=b), BATCHES, args.min_seconds)
    last = run.metrics[-1]
    note = (f"- `{name}`: {model_name} {extra or ''} {epochs} epochs on {int(0.8 * args.n_train)} showers "
            f"(80% of the file; 10% validation, 10% test), {train_s / 60:.1f} min wall at 1 thread (load average "
            f"{load()}); settings: `{run_dir.relative_to(ROOT.parent)}/config.json`; last epoch: "
            + ", ".join(f"{k} {v:.3g}" for k, v in last.items() if k.startswith(("train_", "val_"))))
    return {"validation": result, **extras, "timing": {str(b): v for b, v in ms.items()}, "note": note,
            "train_s": train_s, "validate_s": val_s}


@torch.no_grad()
def reference_log_prob(model, ref) -> dict:
    """Mean log p per reference shower (nats) of a flow, in total and per stage, one dequantisation draw."""
    from latentlab.calo.data import encode_cells
    model.eval()
    generator = torch.Generator().manual_seed(0)
    v = encode_cells(torch.as_tensor(ref.voxels(), dtype=torch.float32), model.cfg.log_scale)
    e = torch.as_tensor(ref.energy, dtype=torch.float32)
    parts = [model.log_prob_parts(a, b, generator) for a, b in zip(v.split(1024), e.split(1024))]
    out = {k: float(torch.cat([p[k] for p in parts]).mean()) for k in parts[0]}
    return {"total": out["layers"] + out["voxels"], **out, "n": len(ref)}


def auc(result: dict, which: str) -> str:
    """One classifier's AUC from a validation result, or '-' where it did not run (older results: 'auc' alone)."""
    c = result["classifier"]
    if which in c:
        return f"{c[which]['auc']:.3f}"
    return f"{c['auc']:.3f}" if which == c.get("model", "hgb") else "-"


def write(args) -> None:
    parts = {p.stem[len("part_"):]: json.loads(p.read_text()) for p in sorted(WORK.glob("part_*.json"))}
    rows = {}
    if "floor" in parts:
        rows["simulator, other seed (floor)"] = parts["floor"]["validation"]
    models = [n for n in VARIANTS if n in parts]
    rows.update({n: parts[n]["validation"] for n in models})
    rows.update({f"{n}, uncalibrated": parts[n]["uncalibrated"] for n in models if "uncalibrated" in parts[n]})
    cmd = (f"`.venv/bin/python bench/calo.py --n-train {args.n_train} --n-ref {args.n_ref} "
           f"--epochs-gan {args.epochs_gan} --epochs-vae {args.epochs_vae} --epochs-flow {args.epochs_flow}`")
    names = list(rows)
    out = ["# Calorimeter showers: learning to simulate (issues 6 and 16)", "",
           f"Command: {cmd} (steps can run apart: `--parts data floor calo-wgan calo-vae calo-wgan-h128 calo-flow simulator report`; here `data`, then the models and `floor simulator` as parallel processes, then `report`)  ",
           f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, 1 thread per process; the load "
           f"average during each model's training is in its note below; when the report was written: {load()}.  ",
           "Wall time: " + ", ".join(f"{n} training {parts[n]['train_s'] / 60:.1f} min + validation "
                                      f"{parts[n]['validate_s'] / 60:.1f} min" for n in models) + ".  ",
           f"Data: e+ showers from latentlab's Grindhammer-Peters simulator (1-100 GeV uniform, CaloGAN geometry, "
           f"not Geant4): {args.n_train} in the training file (seed 0), {args.n_ref} reference showers (seed 1) for "
           f"validation, {args.n_ref} more (seed 2) as the floor a perfect generator would reach. Each model "
           "generates one shower per reference energy.", ""]
    if rows:
        observables = list(next(iter(rows.values()))["separation_power"])
        out += ["## Validation (issue 16 targets: classifier AUC <= 0.70 for the best model, every separation power <= 0.1)", "",
                "| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names),
                "| classifier AUC, CaloChallenge DNN on voxels | " + " | ".join(auc(rows[n], "dnn_low_level") for n in names) + " |",
                "| classifier AUC, CaloChallenge DNN on high-level features | " + " | ".join(auc(rows[n], "dnn_high_level") for n in names) + " |",
                "| classifier AUC, gradient-boosted trees on voxels (`calo.classifier_auc`) | " + " | ".join(auc(rows[n], "hgb") for n in names) + " |",
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
        out += ["", *[parts[n]["note"] for n in models], ""]
        for n in models:
            if "log_prob" in parts[n]:
                lp = parts[n]["log_prob"]
                out.append(f"- `{n}` exact log-likelihood of the {lp['n']} reference showers: {lp['total']:.2f} nats per "
                           f"shower ({lp['layers']:.2f} flow I, layer energies; {lp['voxels']:.2f} flow II, voxels), the "
                           "density of the dequantised representation (one draw; see latentlab/calo/flow.py)")
        out += ["",
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
            out.append(f"- `{n}`: {s['wall_ms'] / t['wall_ms']:.2g}x (wall), {s['cpu_ms'] / t['cpu_ms']:.2g}x (CPU time)")
        out += ["", "(The simulator is itself a fast parameterisation, not Geant4: the figure that matters is the "
                "generator against CaloGAN's published 2.03 ms and Geant4's 1772 ms per shower.)"]
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text("\n".join(out) + "\n")
    print("\n".join(out))


if __name__ == "__main__":
    main()
