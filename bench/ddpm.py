"""DDPM on MNIST: Frechet distance against CPU-minutes of training, and sampling time per image for
the two samplers (issue 14).

One run of ``latentlab.train("ddpm", seed=0)`` with the model's defaults (U-Net of 16 channels over 2
levels, about 92k parameters; T = 1000, linear betas; Adam 1e-3, batch 128), stopped and scored at
cumulative training budgets of B CPU-minutes (default 5, 15, 30). CPU time is the process's (every
thread, ``time.process_time``), counted while ``latentlab.train`` runs: the loop's validation pass and
per-epoch pictures included, the scoring between budgets not. A CPU-time timer (``ITIMER_PROF``) sends
the loop its Ctrl-C when a budget is spent: it finishes the step and checkpoints, the script scores,
and ``--resume`` continues at that very step (``latentlab.training.loop``).

At every budget:
  DDIM        N samples (default 2,000, seed 0) of the deterministic sampler, S = 50 steps (Song et al.
              2021, eta = 0; the model's default), scored against the 10,000 test images by the
              shipped evaluation classifier (``latentlab.evaluation.samples.score``: Frechet distance,
              precision / recall, classes covered); the floor is N training images scored the same way.
              Wall and CPU time per image of the draws.
At the last budget, also:
  ancestral   the same N on the same S-step sub-sequence (Ho et al.'s Algorithm 2 with the
              sub-sequence's betas, Nichol and Dhariwal 2021): the two samplers at the same cost;
  full chain  M images (default 256) of the ancestral sampler over all T = 1000 steps (Algorithm 2),
              scored beside the first M DDIM samples (FD grows as N shrinks: compare at equal N).
GANs (``--gans dcgan ...``): the same budgets, the same N, seed and scorer, each GAN with its
``latentlab train`` defaults: the GAN curve beside the DDPM's on the same axes (ddpm_fd.png).

Anchors: Ho et al. 2020 report FID 3.17 on CIFAR-10 (Inception features, 800k steps on TPUs): another
feature space and scale. Same scorer, other N: bench/results/time_to_quality.md (every sampler at 1, 5,
15 and 30 CPU-minutes, N = 10,000). Target (issue 14): FD against CPU-minutes beside the GANs' curve, and the
sampling time per image of both samplers, on a stated budget.

    python bench/ddpm.py [--budgets 5 15 30 --samples 2000 --threads 2 --data-dir ../shared/data/mnist]
    python bench/ddpm.py --gans dcgan      (adds a DCGAN trained to the same budgets: about +50% time)
    python bench/ddpm.py --quick           (the bundled digits, T = 100, budgets of 3 and 9 CPU-seconds,
                                            a DCGAN beside it: a smoke test, under a minute)

Writes bench/results/ddpm.md, ddpm_fd.png and ddpm_samples.png (--quick: bench/_work/ddpm-quick.*).
Each model's run and its result at every budget (with a copy of the run folder there) are kept in
bench/_work/ddpm/<settings>/: a rerun scores only the budgets that are missing, resuming from the
copy at the last finished one.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import sys
import time
from pathlib import Path

import torch

import latentlab
from latentlab.config import from_dict, split_settings
from latentlab.data import load_dataset
from latentlab.evaluation.classifier import get_evaluator
from latentlab.evaluation.samples import score
from latentlab.models import get_model_class
from latentlab.training.run_folder import find_checkpoint, has_checkpoint
from latentlab.viz.plots import pyplot, save_figure, save_grid

from common import keep_reading, load_average, parse_setting  # noqa: E402  (bench/ is on sys.path)

ROOT = Path(__file__).resolve().parent
WORK, RESULTS = ROOT / "_work", ROOT / "results"
SHIPPED = ("digits", "mnist", "fashion-mnist")
FOREVER = 1_000_000  # epochs asked for: the CPU budget stops the run, never the epoch count
PICTURE = 16  # samples per row of the figure


# --- training to a CPU budget -----------------------------------------------------------------
def _on_budget(signum, frame) -> None:
    """The CPU timer ran out: Ctrl-C for the loop, once it listens (before that, try again shortly)."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.setitimer(signal.ITIMER_PROF, 0.2)
        return
    os.kill(os.getpid(), signal.SIGINT)


def train_for(model: str, run_dir: Path, data, cpu_seconds: float, args, settings: dict) -> float:
    """Train (or resume) ``run_dir`` until ``cpu_seconds`` more CPU seconds are spent; the CPU seconds it took."""
    started = time.process_time()
    old = signal.signal(signal.SIGPROF, _on_budget)
    signal.setitimer(signal.ITIMER_PROF, max(cpu_seconds, 0.01))
    try:
        if has_checkpoint(run_dir):
            latentlab.train(model, resume=run_dir, data=data, epochs=FOREVER, progress=False)
        else:
            latentlab.train(model, data=data, out=str(run_dir), epochs=FOREVER, seed=args.seed, progress=False,
                            device=args.device, **settings)
    except KeyboardInterrupt:
        pass  # the budget: the loop saved a checkpoint at the step it stopped
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)
    return time.process_time() - started


# --- sampling and scoring ---------------------------------------------------------------------
@torch.no_grad()
def sample(model, n: int, seed: int, batch: int, **kwargs) -> tuple[torch.Tensor, float, float]:
    """n samples from a generator seeded ``seed``; the wall and CPU seconds the draws took."""
    generator = torch.Generator().manual_seed(seed)
    wall, cpu = time.perf_counter(), time.process_time()
    images = torch.cat([model.sample(min(batch, n - i), generator=generator, **kwargs).float() for i in range(0, n, batch)])
    return images, time.perf_counter() - wall, time.process_time() - cpu


@torch.no_grad()
def ddpm_sample(model, n: int, sampler: str, steps: int, seed: int, batch: int):
    """``sample`` with the DDPM's sampler set to ``sampler`` ("ddim" or "ddpm", the ancestral chain) for this draw."""
    kept = model.cfg.sampler
    model.cfg.sampler = sampler
    try:
        return sample(model, n, seed, batch, steps=steps)
    finally:
        model.cfg.sampler = kept


def scored(images: torch.Tensor, wall: float, cpu: float, ctx) -> dict:
    out = score(ctx.evaluator, images, ctx.eval_data.test, ctx.eval_data.train, seed=0, memo=ctx.memo)
    keep = ("samples_n", "samples_fd", "samples_fd_floor", "samples_precision", "samples_recall", "samples_coverage",
            "samples_classes_covered", "samples_classes", "samples_recognisable", "evaluator_sha256", "evaluator_dataset")
    return {**{k: out[k] for k in keep if k in out}, "wall_ms_per_image": 1000 * wall / len(images),
            "cpu_ms_per_image": 1000 * cpu / len(images)}


def evaluate(name: str, run_dir: Path, last: bool, ctx, args) -> tuple[dict, dict[str, torch.Tensor]]:
    """Scores of the run at its last checkpoint, and rows of samples for the figure."""
    model = latentlab.load(run_dir)
    pictures: dict[str, torch.Tensor] = {}
    if name != "ddpm":
        images, wall, cpu = sample(model, args.samples, 0, 500)
        pictures[name] = images[:PICTURE]
        return {"samples": scored(images, wall, cpu, ctx)}, pictures
    steps = args.ddim_steps or model.cfg.sample_steps
    images, wall, cpu = ddpm_sample(model, args.samples, "ddim", steps, 0, args.batch)
    pictures["ddim"] = images[:PICTURE]
    out = {"ddim_steps": steps, "samples": scored(images, wall, cpu, ctx)}
    if last:
        anc, wall, cpu = ddpm_sample(model, args.samples, "ddpm", steps, 0, args.batch)
        out["ancestral_short"] = scored(anc, wall, cpu, ctx)
        pictures["ancestral-short"] = anc[:PICTURE]
        m = args.ancestral_samples
        full, wall, cpu = ddpm_sample(model, m, "ddpm", model.cfg.timesteps, 0, args.batch)
        out["timesteps"] = model.cfg.timesteps
        out["ancestral_full"] = scored(full, wall, cpu, ctx)
        out["ddim_first_m"] = scored(images[:m], 0.0, 0.0, ctx)  # the DDIM draws above, at the full chain's N
        pictures["ancestral-full"] = full[:PICTURE]
    return out, pictures


def run_model(name: str, settings: dict, ctx, args) -> list[dict]:
    """Train ``name`` to every budget in turn, scoring at each; rows kept in WORK are reused."""
    rows, done_cpu = [], 0.0
    run_dir = args.work / f"{name}-run"
    for i, budget in enumerate(args.budgets):
        tag = f"{name}-{budget:g}cpumin"
        cache, snapshot = args.work / f"{tag}.json", args.work / tag
        if cache.is_file() and snapshot.is_dir():
            row = json.loads(cache.read_text())
            rows.append(row)
            done_cpu = row["train_cpu_s"]
            print(tag, "(kept)", flush=True)
            continue
        shutil.rmtree(run_dir, ignore_errors=True)  # continue from the last finished budget, exactly
        if rows:
            shutil.copytree(args.work / f"{name}-{args.budgets[i - 1]:g}cpumin", run_dir)
        done_cpu += train_for(name, run_dir, ctx.data, 60 * budget - done_cpu, args, settings)
        where = find_checkpoint(run_dir)
        result, pictures = evaluate(name, run_dir, i == len(args.budgets) - 1, ctx, args)
        row = {"model": name, "budget_cpu_min": budget, "train_cpu_s": done_cpu, "epochs": where.epoch,
               "batch": where.batch, "steps": where.step, **result}
        shutil.rmtree(snapshot, ignore_errors=True)
        shutil.copytree(run_dir, snapshot, ignore=shutil.ignore_patterns(".lock"))
        for key, images in pictures.items():
            torch.save(images, args.work / f"picture-{tag}-{key}.pt")
        cache.write_text(json.dumps(row, indent=1))
        rows.append(row)
        print(tag, json.dumps({k: v for k, v in row.items() if not isinstance(v, dict)}),
              {k: round(v["samples_fd"], 2) for k, v in row.items() if isinstance(v, dict)}, flush=True)
    return rows


class Context:
    pass


# --- the report -------------------------------------------------------------------------------
def figures(args, rows: dict[str, list[dict]]) -> list[str]:
    made = []
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, rs in rows.items():
        label = f"{name} (DDIM {rs[0].get('ddim_steps')} steps)" if name == "ddpm" else name
        ax.plot([r["train_cpu_s"] / 60 for r in rs], [r["samples"]["samples_fd"] for r in rs], "o-", label=label)
    floor = next(iter(rows.values()))[0]["samples"].get("samples_fd_floor")
    if floor is not None:
        ax.axhline(floor, color="grey", ls="--", label=f"floor ({args.samples} training images)")
    ax.set(xlabel="training CPU-minutes (all threads)", ylabel=f"FD, {args.samples} samples (lower is better)",
           yscale="log", title=f"Frechet distance against training CPU time ({args.dataset})")
    ax.legend()
    save_figure(fig, args.out_dir / f"{args.name}_fd.png")
    made.append(f"`{args.name}_fd.png`")
    grid, names = [], []
    for name, rs in rows.items():
        for r in rs:
            tag = f"{name}-{r['budget_cpu_min']:g}cpumin"
            for path in sorted(args.work.glob(f"picture-{tag}-*.pt")):
                key = path.stem[len(f"picture-{tag}-"):]
                order = {"ddim": 0, "ancestral-short": 1, "ancestral-full": 2}.get(key, 0)
                grid.append((name != "ddpm", order, r["budget_cpu_min"], torch.load(path)))
                names.append((name != "ddpm", order, r["budget_cpu_min"], f"{name} {key} at {r['budget_cpu_min']:g} CPU-min"))
    if grid:
        grid.sort(key=lambda t: t[:3])
        names.sort(key=lambda t: t[:3])
        save_grid(torch.cat([t[3] for t in grid]), args.out_dir / f"{args.name}_samples.png", nrow=PICTURE)
        made.append(f"`{args.name}_samples.png` (rows, top to bottom: {'; '.join(t[3] for t in names)})")
    return made


def report(args, rows: dict[str, list[dict]], made: list[str], command: str, load: tuple[str, str], wall: float) -> str:
    d = rows["ddpm"]
    first = d[0]["samples"]
    last = d[-1]
    lines = [f"## DDPM: Frechet distance against training CPU-minutes, and sampling time per image ({args.dataset})", "",
             f"Command: `{command}`  ",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, torch "
             f"{torch.__version__}, device {args.device}; {time.strftime('%Y-%m-%d')}; load average {load[0]} at the start, "
             f"{load[1]} at the end (1 / 5 / 15 min); {wall / 60:.1f} min wall for this invocation (budgets kept from an "
             "earlier one are not timed again).  ",
             f"Training: `latentlab train ddpm --seed {args.seed}"
             + "".join(f" --{k.replace('_', '-')} {v}" for k, v in args.settings.items())
             + "` with the model's defaults otherwise, stopped by a CPU-time timer at each budget and resumed from that "
               "checkpoint; CPU time = the process's, all threads, while the loop runs (validation and per-epoch pictures "
               "included)" + (f"; GANs: `latentlab train {' / '.join(args.gans)}` defaults, the same budgets." if args.gans else ".") + "  ",
             f"Scoring: {first['samples_n']:,} samples (seed 0) against the test images in the shipped {first['evaluator_dataset']} "
             f"evaluator's features (sha256 `{first['evaluator_sha256'][:16]}...`); floor: {first['samples_n']:,} training "
             f"images, FD {first.get('samples_fd_floor', float('nan')):.2f}.", "",
             "| model | budget CPU-min | trained CPU-min | steps | epochs | FD ↓ | precision ↑ | recall ↑ | coverage ↑ | classes | "
             "sampling ms / image (wall) |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, rs in rows.items():
        for r in rs:
            s = r["samples"]
            label = f"ddpm, DDIM {r['ddim_steps']} steps" if name == "ddpm" else name
            epochs = f"{r['epochs']}" + (f" + {r['batch']} batches" if r["batch"] else "")
            lines.append(f"| {label} | {r['budget_cpu_min']:g} | {r['train_cpu_s'] / 60:.2f} | {r['steps']:,} | "
                         f"{epochs} | {s['samples_fd']:.2f} | "
                         f"{s['samples_precision']:.3f} | {s['samples_recall']:.3f} | {s['samples_coverage']:.3f} | "
                         f"{s['samples_classes_covered']}/{s['samples_classes']} | {s['wall_ms_per_image']:.1f} |")
    if "ancestral_full" in last:
        T, S, m = last["timesteps"], last["ddim_steps"], last["ancestral_full"]["samples_n"]
        lines += ["", f"**The two samplers** after {last['train_cpu_s'] / 60:.1f} CPU-minutes (the last budget), "
                      f"batches of {args.batch}, torch threads: {torch.get_num_threads()}:", "",
                  "| sampler | steps | N | FD ↓ | precision ↑ | recall ↑ | wall ms / image | CPU ms / image |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for label, steps, key in ((f"DDIM (eta = 0)", S, "samples"), ("ancestral, sub-sequence", S, "ancestral_short"),
                                  ("ancestral, full chain (Algorithm 2)", T, "ancestral_full"),
                                  ("DDIM, the first N of its samples above", S, "ddim_first_m")):
            s = last[key]
            timing = ("- | -" if key == "ddim_first_m" else f"{s['wall_ms_per_image']:.1f} | {s['cpu_ms_per_image']:.1f}")
            lines.append(f"| {label} | {steps} | {s['samples_n']:,} | {s['samples_fd']:.2f} | {s['samples_precision']:.3f} | "
                         f"{s['samples_recall']:.3f} | {timing} |")
        lines += ["", f"FD is biased upwards at small N: compare the full chain ({m} images) with the DDIM row of the same N."]
    lines += ["", "Same scorer elsewhere (N = 10,000, so lower FDs for the same model): `time_to_quality.md`, every "
                  "sampler at its defaults after 1, 5, 15 and 30 CPU-minutes.", ""]
    lines += [f"Figures: {'; '.join(made)}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                epilog="Other `latentlab train ddpm` settings: --set NAME=VALUE (e.g. --set channels=32).")
    p.add_argument("--dataset", default="mnist", help="mnist (default), fashion-mnist, digits, ...")
    p.add_argument("--data-dir", default=None, help="folder of the dataset's files (e.g. ../shared/data/mnist)")
    p.add_argument("--budgets", type=float, nargs="+", default=[5, 15, 30], help="cumulative training budgets, CPU-minutes")
    p.add_argument("--samples", type=int, default=2000, help="samples scored at every budget (at least 129)")
    p.add_argument("--ddim-steps", type=int, default=None, help="DDIM steps (default: the model's sample_steps, 50)")
    p.add_argument("--ancestral-samples", type=int, default=256, help="samples of the full ancestral chain (at least 129)")
    p.add_argument("--batch", type=int, default=500, help="images per sampling batch")
    p.add_argument("--gans", nargs="*", default=[], help="GANs trained to the same budgets for the curve beside (e.g. dcgan)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="another ddpm training or model setting")
    p.add_argument("--quick", action="store_true", help="smoke test: digits, T = 100, budgets 0.05 and 0.15 CPU-min, "
                                                        "200 samples, a DCGAN beside; writes bench/_work/ddpm-quick.md")
    args = p.parse_args()
    if args.quick:
        args.dataset, args.budgets, args.samples, args.ancestral_samples = "digits", [0.05, 0.15], 200, 129
        args.gans = args.gans or ["dcgan"]
        args.set = args.set or ["timesteps=100", "sample_steps=20"]
    torch.set_num_threads(args.threads)
    args.settings = dict(parse_setting(text) for text in args.set)
    from_dict(get_model_class("ddpm").Config, split_settings(get_model_class("ddpm").Config, args.settings)[1])  # fail early
    args.budgets = sorted(args.budgets)
    args.name = "ddpm-quick" if args.quick else "ddpm" if args.dataset == "mnist" else f"ddpm-{args.dataset}"
    args.work = WORK / args.name / "-".join([f"n{args.samples}", f"a{args.ancestral_samples}", f"s{args.seed}",
                                             f"t{args.threads}", *(f"{k}={v}" for k, v in sorted(args.settings.items()))]
                                            + ([f"ddim{args.ddim_steps}"] if args.ddim_steps else []))
    args.work.mkdir(parents=True, exist_ok=True)
    args.out_dir = WORK if args.quick else RESULTS
    args.out_dir.mkdir(parents=True, exist_ok=True)
    load_start, started = load_average(), time.perf_counter()
    ctx = Context()
    ctx.data = load_dataset(args.dataset, args.data_dir, seed=args.seed)
    ctx.eval_data = load_dataset(args.dataset, args.data_dir, val_fraction=0.0, seed=0)  # the floor's pool, as `latentlab eval`
    ctx.evaluator = get_evaluator(args.dataset if args.dataset in SHIPPED else ctx.eval_data)
    ctx.memo = {}
    rows = {"ddpm": run_model("ddpm", args.settings, ctx, args)}
    for gan in args.gans:
        rows[gan] = run_model(gan, {}, ctx, args)
    made = figures(args, rows)
    text = report(args, rows, made, " ".join(["python bench/ddpm.py", *sys.argv[1:]]), (load_start, load_average()),
                  time.perf_counter() - started)
    out = args.out_dir / f"{args.name}.md"
    out.write_text(keep_reading(out, text))  # a rerun keeps the paragraphs written about the figures
    # the rows, for the time-to-quality figure (bench/time_to_quality.py draws DDPM's curve beside the GANs')
    out.with_suffix(".json").write_text(json.dumps({"samples": args.samples, "rows": rows}, indent=1))
    print(text)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
