"""Parzen-window log-likelihood of MNIST test images: Goodfellow et al. (2014), Table 1, reproduced.

The paper's protocol, with the estimator of ``latentlab eval RUN --parzen``
(``latentlab.evaluation.parzen``): a Gaussian Parzen window (an isotropic Gaussian of width sigma on
each of N = 10,000 generated samples) is fitted per model; its width is the value of a grid
(default 14 widths log-spaced from 0.05 to 1 grey levels) with the highest mean log-likelihood of
the 6,000 validation images of the usual split (10% of the 60,000 training images, seed 0); the
figure is the mean log-density of all 10,000 test images (grey levels in [0, 1], 784-d: nats per
image, a density, so positive) +- its standard error (std over images / sqrt(n)).

Models    each trained here by ``latentlab.train(MODEL, minutes=M, seed=0)`` with the model's
          defaults, on the 54,000 training images, until the time budget of M minutes of the loop
          is spent (default 5 each): ``gan`` (MLP G and D, the network closest to the paper's),
          ``dcgan``, ``vae`` (its samples are the decoder's mean images of z ~ N(0, I)) and, when
          asked, ``wgan-gp`` or any other latentlab model that samples. After the last step (no
          model selection), N samples from a generator seeded 0.
Data row  the same window on N training images picked at random (seed 0) instead of samples: the
          figure to read the models' against. Theis et al. (2016, "A note on the evaluation of
          generative models", section 3.2): in 784 dimensions a Parzen window is a poor density
          estimate, ranks models unlike their likelihood, and scores the training images themselves
          about as well as (or worse than) a good model's samples.
Published Goodfellow et al. 2014, Table 1 (MNIST, N = 10,000, sigma by validation): adversarial nets
          225 +- 2, deep GSN 214 +- 1.1, stacked CAE 121 +- 1.6, DBN 138 +- 2; quoted, not rerun.

    python bench/parzen.py [--models gan dcgan vae --minutes 5 --threads 2 --data-dir ../shared/data/mnist]
    python bench/parzen.py --models gan dcgan vae wgan-gp --minutes 10 --set gan:hidden=1024
    python bench/parzen.py --quick      (the bundled digits, 6-second runs, N = 500: a smoke test, under a minute)

With the defaults: 15 minutes of training and under a minute of scoring per row on 2 CPU threads.
Writes bench/results/parzen.md and bench/_work/parzen/parzen.json (--quick: bench/_work/parzen-quick.md
and bench/_work/parzen-quick/parzen.json). Each model's run folder and its scores are kept in
bench/_work/parzen/<model>-m<MINUTES>-s<SEED>[-<settings>]/: a rerun loads finished runs, resumes
interrupted ones and scores only what is missing.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch

import latentlab
from latentlab.config import from_dict, split_settings
from latentlab.data import load_dataset
from latentlab.errors import ConfigError, LatentlabError
from latentlab.evaluation.parzen import SIGMAS, parse_sigmas, parzen_score
from latentlab.evaluation.samples import draw, sample_labels
from latentlab.models import get_model_class
from latentlab.models.base import Sampler
from latentlab.training.run_folder import STATE, find_checkpoint, has_checkpoint, load_state, read_metrics, read_run

from common import RESULTS, ROOT, WORK, load_average, parse_setting  # noqa: E402  (bench/ is on sys.path)

MNIST_DIR = "../shared/data/mnist"
FOREVER = 1_000_000  # epochs asked for: the time budget ends the run, never the epoch count
FIXED = ("minutes", "epochs", "seed", "out", "progress", "device", "dataset", "data_dir", "val_fraction")  # set by the script
PUBLISHED = [  # (model, mean, standard error): Goodfellow et al. 2014, Table 1, MNIST
    ("Adversarial nets", 225, 2), ("Deep GSN", 214, 1.1), ("Stacked CAE", 121, 1.6), ("DBN", 138, 2)]
DENSITY_KDE = "231.6 ± 1.5 at bandwidth 0.2"  # bench/results/density.md, pixel-space `kde` (quoted, not rerun)
DESCRIBE = {"gan": "MLP G and D", "dcgan": "convolutional G and D", "vae": "the decoder's mean images",
            "wgan-gp": "Wasserstein critic, gradient penalty"}


# --- training ----------------------------------------------------------------------------------
def model_settings(models: list[str], texts: list[str]) -> dict[str, dict]:
    """--set NAME=VALUE (every model) and MODEL:NAME=VALUE (that one) -> model -> settings; checked here,
    before any work, so that a bad name fails at once."""
    out: dict[str, dict] = {m: {} for m in models}
    for text in texts:
        head, eq, _ = text.partition("=")
        model, colon, _ = head.partition(":")
        if not eq:
            raise ConfigError(f"--set takes NAME=VALUE or MODEL:NAME=VALUE, got {text!r}")
        name, value = parse_setting(text[len(model) + 1:] if colon else text)
        if name in FIXED:
            raise ConfigError(f"--set {name} is the script's: use its own option (--minutes, --seed, --device, ...)")
        for m in ([model] if colon else models):
            if m not in out:
                raise ConfigError(f"--set {text}: {m!r} is not among --models {' '.join(models)}")
            out[m][name] = value
    for m, settings in out.items():
        cls = get_model_class(m)
        if not issubclass(cls, Sampler):
            raise ConfigError(f"'{m}' cannot sample new images, so there is nothing to fit a Parzen window to")
        from_dict(cls.Config, split_settings(cls.Config, settings)[1], "model setting")
    return out


def run_tag(model: str, settings: dict, args) -> str:
    return "-".join([model, f"m{args.minutes:g}", f"s{args.seed}", *(f"{k}={v}" for k, v in sorted(settings.items()))])


def train_or_load(model: str, settings: dict, folder: Path, data, args) -> dict:
    """Train ``model`` for ``args.minutes`` (resume an interrupted run; keep a finished one); what the
    run did: its settings, epochs, optimiser steps and minutes in the loop."""
    record_path, run_dir = folder / "train.json", folder / "run"
    shown = run_dir.relative_to(ROOT.parent)
    if record_path.is_file():
        print(f"{model}: {shown} finished earlier (kept)", flush=True)
        return json.loads(record_path.read_text())
    started = time.perf_counter()
    common = dict(data=data, progress=False, device=args.device)
    if has_checkpoint(run_dir):
        print(f"{model}: resuming {shown}", flush=True)
        run = latentlab.train(model, resume=run_dir, **common)
    else:
        print(f"{model}: training for {args.minutes:g} minutes", flush=True)
        run = latentlab.train(model, out=str(run_dir), epochs=FOREVER, minutes=args.minutes, seed=args.seed,
                              data_dir=args.data_dir, **common, **settings)
    for stale in folder.glob("parzen-*.json"):  # scores of the run before it was resumed
        stale.unlink()
    info = read_run(run_dir)
    loop = load_state(find_checkpoint(run_dir, (STATE,), "load").files[STATE])["loop"]  # where the run stopped
    record = {"model": model, "settings": settings, "status": run.status, "epochs": len(read_metrics(run_dir)),
              "steps": loop["step"],  # optimiser steps, every network's
              "loop_minutes": loop.get("seconds", 0.0) / 60,  # the clock the budget is measured with, over every part
              "wall_minutes_last_invocation": (time.perf_counter() - started) / 60,
              "train": dataclasses.asdict(info.train), "model_config": dataclasses.asdict(info.model_cfg),
              "run": str(run_dir.relative_to(ROOT.parent))}
    record_path.write_text(json.dumps(record, indent=1))
    print(f"{model}: {record['epochs']} epochs, {record['steps']} steps, {record['loop_minutes']:.1f} min ({run.status})",
          flush=True)
    return record


# --- scoring -------------------------------------------------------------------------------------
def scored(centres: torch.Tensor, data, args, extra: dict) -> dict:
    """Goodfellow et al.'s protocol on ``centres``: sigma on the validation split, then every test image."""
    r = parzen_score(centres.to(args.device), data.test.x, data.val.x, args.sigmas)
    return {**extra, "test_log_likelihood": r.mean, "stderr": r.stderr, "sigma": r.sigma, "at_edge": r.at_edge,
            "validation": {f"{s:g}": m for s, m in r.table.items()}, "centres": r.centres, "test_images": r.images,
            "val_images": len(data.val), "sigmas": args.sigmas, "seed": args.seed, "parzen_seconds": r.seconds,
            "seconds": extra.get("sample_seconds", 0.0) + r.seconds}


def cached(path: Path, args, make) -> dict:
    """The scores at ``path`` when they were taken with the same widths, else ``make()`` written there."""
    if path.is_file():
        kept = json.loads(path.read_text())
        if kept.get("sigmas") == args.sigmas:
            print(f"{path.parent.name}/{path.name} (kept)", flush=True)
            return kept
    result = make()
    path.write_text(json.dumps(result, indent=1))
    print(f"{path.parent.name}/{path.name}: {result['test_log_likelihood']:.1f} ± {result['stderr']:.1f} "
          f"(sigma {result['sigma']:g}, {result['seconds']:.0f} s)", flush=True)
    return result


def model_row(model: str, settings: dict, data, args) -> dict:
    folder = args.work / run_tag(model, settings, args)
    folder.mkdir(parents=True, exist_ok=True)
    training = train_or_load(model, settings, folder, data, args)

    def make() -> dict:
        net = latentlab.load(folder / "run", device=args.device)
        started = time.perf_counter()
        labels = sample_labels(net, data.test, args.samples, None, args.seed)  # a conditional model: the test proportions
        samples = draw(net, args.samples, labels, args.seed)  # (N, C, H, W) on the CPU
        return scored(samples, data, args, {"sample_seconds": time.perf_counter() - started})

    return {"kind": "model", "model": model, "training": training, **cached(folder / f"parzen-n{args.samples}.json", args, make)}


def data_row(data, args) -> dict:
    def make() -> dict:
        pick = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(args.seed))[:args.samples]
        return scored(data.train.x[pick], data, args, {})

    return {"kind": "data", "model": f"{args.samples:,} training images",
            **cached(args.work / f"train-images-n{args.samples}-s{args.seed}.json", args, make)}


# --- the report ----------------------------------------------------------------------------------
def plus_minus(r: dict) -> str:
    return f"{r['test_log_likelihood']:.1f} ± {r['stderr']:.1f}"


def command_line(model: str, t: dict, args) -> str:
    return (f"`latentlab train {model} --minutes {args.minutes:g} --seed {args.seed}"
            + "".join(f" --{k.replace('_', '-')} {v}" for k, v in t["settings"].items()) + "`")


def summary(rows: list[dict], args) -> list[str]:
    """What the table shows, in sentences that hold whichever way the figures came out."""
    data = next(r for r in rows if r["kind"] == "data")
    models = [r for r in rows if r["kind"] == "model"]
    best = max(models, key=lambda r: r["test_log_likelihood"])
    gap = best["test_log_likelihood"] - data["test_log_likelihood"]
    within = abs(gap) <= 2 * math.hypot(best["stderr"], data["stderr"])
    relation = ("within two standard errors of" if within else
                f"{abs(gap):.1f} nats {'above' if gap > 0 else 'below'}")
    text = [f"Each row is one Gaussian Parzen window on {args.samples:,} points, its width chosen on the "
            f"{data['val_images']:,} validation images, scored on the {data['test_images']:,} test images (nats per "
            "image; higher is what the paper reads as better). "
            f"The best model here, `{best['model']}`, scores {plus_minus(best)}: {relation} the "
            f"{args.samples:,} training images themselves ({plus_minus(data)}), which are samples of the true "
            "distribution."]
    if args.dataset == "mnist":
        text[0] += (" The published rows used the same estimator, N and test set, but other networks and "
                    "training times, and were not rerun here. Cross-check: the pixel-space `kde` of "
                    f"bench/results/density.md (10,000 training images as centres, bandwidth chosen on held-out "
                    f"training images) scores {DENSITY_KDE}, beside the data row above.")
    vae = " (the `vae` row scores the decoder's mean images, not noisy draws)" if "vae" in args.models else ""
    text += ["", "Read it as a reproduction of the paper's table, not as a ranking of models. Theis et al. (2016, "
                 "section 3.2) show that a Parzen window in pixel space needs a very large number of samples to come "
                 "near a model's true log-likelihood, that its figure is largely independent of that likelihood, and "
                 "that centres which are averages of images (k-means centroids of the training set) score better than "
                 "the training images themselves: the figure measures how near the test images lie to a few centres at "
                 f"the chosen width, so it favours blurred, typical images{vae} and can score the data no better than a "
                 "good model's samples. A model that memorised its training images would score as the data row does."]
    edge = [r["model"] for r in rows if r["at_edge"]]
    if edge:
        text += ["", f"The width chosen for {', '.join(edge)} is at the edge of the grid "
                     f"({min(args.sigmas):g} .. {max(args.sigmas):g}): the best width may lie outside it (--sigmas)."]
    return text


def report(rows: list[dict], args, command: str, load: tuple[str, str], wall: float) -> str:
    first = rows[0]
    dim = first["dim"]
    title = ("Parzen-window log-likelihood of the MNIST test set (Goodfellow et al. 2014, Table 1)"
             if args.dataset == "mnist" else f"Parzen-window log-likelihood of the {args.dataset} test set")
    lines = [f"## {title}", "",
             f"Command: `{command}`  ",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, torch "
             f"{torch.__version__}, device {args.device}; {time.strftime('%Y-%m-%d')}; load average {load[0]} at the start, "
             f"{load[1]} at the end (1 / 5 / 15 min); {wall / 60:.1f} min wall for this invocation (parts kept from an "
             "earlier one are not timed again).  ",
             f"Protocol: a Gaussian Parzen window on N = {args.samples:,} points per row (samples drawn with seed "
             f"{args.seed}); width sigma chosen from {len(args.sigmas)} values, {min(args.sigmas):g} to "
             f"{max(args.sigmas):g} grey levels, by the mean log-likelihood of the {first['val_images']:,} validation "
             f"images; mean log p(x) of all {first['test_images']:,} test images ± standard error, in nats per image "
             f"(grey levels in [0, 1], {dim}-d: a density). Training: each model for {args.minutes:g} minutes of "
             "`latentlab train` with its defaults, seed "
             f"{args.seed}, on the {first['train_images']:,} training images; the last step is sampled (no model "
             "selection). Seconds: drawing the samples, choosing sigma and scoring the test images.", "",
             "| row | training | sigma | test log-likelihood (nats) | seconds |", "|---|---|---:|---:|---:|"]
    for r in rows:
        if r["kind"] == "model":
            t = r["training"]
            what = DESCRIBE.get(r["model"], "samples")
            lines.append(f"| `{r['model']}` ({what}), {args.samples:,} samples | {command_line(r['model'], t, args)}: "
                         f"{t['epochs']} epochs, {t['steps']:,} steps, {t['loop_minutes']:.1f} min | {r['sigma']:g} | "
                         f"{plus_minus(r)} | {r['seconds']:.1f} |")
        else:
            lines.append(f"| {r['model']} (no model: the data) | - | {r['sigma']:g} | {plus_minus(r)} | {r['seconds']:.1f} |")
    if args.dataset == "mnist":
        for name, mean, se in PUBLISHED:
            lines.append(f"| {name}, **published** (Goodfellow et al. 2014, Table 1) | - | - | {mean} ± {se:g} | - |")
    lines += ["", "Steps: optimiser steps of every network together (a GAN alternates D and G).", "",
              *summary(rows, args)]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                epilog="Other `latentlab train` settings: --set NAME=VALUE (every model) or "
                                       "--set MODEL:NAME=VALUE (one), e.g. --set gan:hidden=1024.")
    p.add_argument("--models", nargs="+", default=["gan", "dcgan", "vae"],
                   help="latentlab models to train and sample (default gan dcgan vae; e.g. add wgan-gp)")
    p.add_argument("--minutes", type=float, default=5.0, help="training time budget per model (default 5)")
    p.add_argument("--samples", type=int, default=10_000, help="N: samples per model and training images (default 10000)")
    p.add_argument("--sigmas", default=",".join(f"{s:g}" for s in SIGMAS), metavar="S1,S2,...",
                   help="candidate widths in grey levels (default 14 log-spaced from 0.05 to 1)")
    p.add_argument("--dataset", default="mnist", help="mnist (default), fashion-mnist, digits, ...")
    p.add_argument("--data-dir", default=None, help=f"folder of the dataset's files (MNIST default: {MNIST_DIR})")
    p.add_argument("--seed", type=int, default=0, help="seed of the runs, the samples and the training images picked")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--set", action="append", default=[], metavar="[MODEL:]NAME=VALUE", help="another training or model setting")
    p.add_argument("--quick", action="store_true", help="smoke test: digits, 0.1-minute runs, N = 500; writes "
                                                        "bench/_work/parzen-quick.md")
    args = p.parse_args()
    if args.quick:
        args.dataset, args.minutes, args.samples = "digits", 0.1, 500
    if args.minutes <= 0 or args.samples < 1:
        raise SystemExit("--minutes must be positive and --samples at least 1")
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.data_dir is None and args.dataset == "mnist":
        args.data_dir = MNIST_DIR
    torch.set_num_threads(args.threads)
    args.sigmas = sorted(parse_sigmas(args.sigmas))
    settings = model_settings(args.models, args.set)
    name = "parzen-quick" if args.quick else "parzen" if args.dataset == "mnist" else f"parzen-{args.dataset}"
    args.work = WORK / name
    args.work.mkdir(parents=True, exist_ok=True)
    out_dir = WORK if args.quick else RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)

    load_start, started = load_average(), time.perf_counter()
    data = load_dataset(args.dataset, args.data_dir, seed=args.seed)  # the usual split: 10% of training held out
    if args.samples > len(data.train):
        raise SystemExit(f"--samples {args.samples} is more than the {len(data.train)} training images of the data row")
    rows = [model_row(m, settings[m], data, args) for m in args.models] + [data_row(data, args)]
    for r in rows:
        r.update(dim=data.test.x[0].numel(), train_images=len(data.train))
    command = " ".join(["python bench/parzen.py", *sys.argv[1:]])
    wall = time.perf_counter() - started
    load = (load_start, load_average())
    text = report(rows, args, command, load, wall)
    record = {"command": command, "dataset": args.dataset, "date": time.strftime("%Y-%m-%d"),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, "
                         f"torch {torch.__version__}, device {args.device}",
              "load_average": {"start": load[0], "end": load[1]}, "wall_minutes": wall / 60, "minutes": args.minutes,
              "samples": args.samples, "sigmas": args.sigmas, "seed": args.seed, "rows": rows,
              "published": [{"model": m, "test_log_likelihood": v, "stderr": se, "source": "Goodfellow et al. 2014, Table 1"}
                            for m, v, se in PUBLISHED] if args.dataset == "mnist" else []}
    (args.work / "parzen.json").write_text(json.dumps(record, indent=1))
    out = out_dir / f"{name}.md"
    out.write_text(text)
    print(text)
    print(f"wrote {out} and {args.work / 'parzen.json'}")


if __name__ == "__main__":
    try:
        main()
    except LatentlabError as e:  # a setting or a run folder the user can fix: the message, no traceback
        raise SystemExit(f"error: {e}") from None
