"""Sample quality of VAE, DCGAN, WGAN-GP, conditional GAN and pythae's VAE on MNIST and
Fashion-MNIST, at a fixed CPU budget per model, scored by latentlab's evaluation classifier.

    .venv/bin/python bench/sample_quality.py --mnist-dir ../shared/data/mnist --cpu-seconds 300

Each latentlab model is trained by `latentlab train MODEL ... --epochs 1000` in its own process
on one thread (OMP_NUM_THREADS=1); when the process has used --cpu-seconds of CPU time it gets
SIGINT, finishes its step and saves (the CLI's Ctrl-C). pythae 0.1.2's VAE (its default MLP
networks, Bernoulli/BCE loss, the same latent size, Adam and batch size) is trained in a worker
process of this script with the same CPU-time budget. Every model then draws --samples images
with seed 0 (labels in the test split's proportions for the conditional GAN), and the samples are
scored against the test split in this process by `latentlab.evaluation.samples.score`, the code
behind `latentlab eval RUN --samples N` (which reproduces the numbers of a latentlab run).
The floor row scores N training images the same way.

Results: bench/results/sample_quality.md (rewritten after every scored model); runs: bench/_work/sample_quality/.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch import nn

from latentlab.models.base import Sampler

ROOT = Path(__file__).resolve().parent.parent
LATENTLAB = str(Path(sys.executable).parent / "latentlab")
RESULTS = ROOT / "bench" / "results" / "sample_quality.md"

# (row name, latentlab model, settings). GANs: the papers' learning rates; the rest are each model's defaults.
MODELS = [
    ("VAE", "vae", {"lr": 1e-3}),
    ("DCGAN", "dcgan", {"lr": 2e-4}),
    ("WGAN-GP", "wgan-gp", {"lr": 1e-4}),
    ("conditional GAN", "cgan", {"lr": 2e-4}),
]
PYTHAE = "pythae VAE"
BATCH = 128
LOCK = threading.Lock()
LATENT = {"vae": 16, PYTHAE: 16}  # pythae's VAE gets the latentlab VAE's latent size (both MLP 784-512-z)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_thread_env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def command(job: dict, args: argparse.Namespace) -> list[str]:
    if job["model"] == PYTHAE:
        return [sys.executable, __file__, "--pythae-worker", "--datasets", job["dataset"], "--out", str(job["dir"]),
                "--cpu-seconds", str(args.cpu_seconds), "--samples", str(args.samples)] + \
               (["--mnist-dir", args.mnist_dir] if args.mnist_dir else [])
    settings = {**job["settings"], "batch_size": BATCH, "epochs": 1000, "seed": 0, "device": "cpu", "out": str(job["dir"])}
    if job["dataset"] == "mnist" and args.mnist_dir:
        settings["data_dir"] = args.mnist_dir
    return [LATENTLAB, "train", job["model"], "--dataset", job["dataset"], "--no-progress"] + \
        [a for k, v in settings.items() for a in (f"--{k.replace('_', '-')}", str(v))]


def run_jobs(jobs: list[dict], args: argparse.Namespace, done: queue.Queue) -> None:
    """Start up to --parallel jobs at a time; SIGINT each at its CPU budget; put finished jobs on ``done``."""
    waiting, running = list(jobs), []
    while waiting or running:
        while waiting and len(running) < args.parallel:
            job = waiting.pop(0)
            job["dir"].parent.mkdir(parents=True, exist_ok=True)
            log = open(job["dir"].parent / f"{job['dir'].name}.log", "w")
            job["proc"] = subprocess.Popen(command(job, args), env=one_thread_env(), stdout=log, stderr=subprocess.STDOUT)
            job["started"], job["stopped"] = time.time(), False
            running.append(job)
        time.sleep(1.0)
        for job in list(running):
            proc = job["proc"]
            if proc.poll() is None:
                try:
                    job["cpu"] = cpu_seconds(proc.pid)
                except (FileNotFoundError, ProcessLookupError):
                    continue
                if job["model"] != PYTHAE and not job["stopped"] and job["cpu"] >= args.cpu_seconds:
                    proc.send_signal(signal.SIGINT)  # the CLI's Ctrl-C: finish the step, save, exit 130
                    job["stopped"] = True
                continue
            job["rc"], job["wall"] = proc.returncode, time.time() - job["started"]
            running.remove(job)
            done.put(job)
    done.put(None)


# --- pythae's VAE, trained in a worker process ----------------------------------------------------
def pythae_worker(args: argparse.Namespace) -> None:
    from pythae.data.datasets import DatasetOutput
    from pythae.models import VAE, VAEConfig

    from latentlab.data import iterate_batches, load_dataset
    from latentlab.evaluation.samples import draw
    torch.set_num_threads(1)
    dataset = args.datasets[0]
    data = load_dataset(dataset, args.mnist_dir if dataset == "mnist" else None, 0.1, 0)
    torch.manual_seed(0)
    model = VAE(VAEConfig(input_dim=data.shape, latent_dim=LATENT[PYTHAE], reconstruction_loss="bce"))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    start, steps, epoch = time.process_time(), 0, 0
    while time.process_time() - start < args.cpu_seconds:
        for x, _ in iterate_batches(data.train, BATCH, shuffle=True, epoch=epoch, seed=0):
            loss = model(DatasetOutput(data=x)).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
            if time.process_time() - start >= args.cpu_seconds:
                break
        else:
            epoch += 1
    cpu = time.process_time() - start
    images = draw(PythaeSampler(model.eval()), args.samples, None, seed=0)  # as latentlab's models are drawn
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "samples.npy", images.reshape(-1, *data.shape).numpy().astype(np.float32))
    (out / "info.json").write_text(json.dumps({"steps": steps, "epochs": steps * BATCH / len(data.train), "cpu": cpu}))


class PythaeSampler(nn.Module, Sampler):
    """pythae's VAE as a latentlab Sampler: prior draws z ~ N(0, I) (from the generator), decoder means."""

    name = "pythae-vae"

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def sample(self, n, y=None, generator=None):
        z = torch.randn(n, LATENT[PYTHAE], generator=generator, device=self.device)  # (n, latent)
        return self.vae.decoder(z)["reconstruction"]


# --- scoring ----------------------------------------------------------------------------------------
def score_job(job: dict, args: argparse.Namespace, evaluators: dict, memo: dict) -> dict:
    from latentlab import load
    from latentlab.evaluation import merge
    from latentlab.evaluation.samples import draw, sample_labels, score
    from latentlab.evaluation.classifier import evaluator_data, get_evaluator
    from latentlab.training.run_folder import load_state, write_json
    dataset = job["dataset"]
    with LOCK:  # one evaluator per dataset, loaded (or trained) once
        if dataset not in evaluators:
            data = evaluator_data(dataset, args.mnist_dir if dataset == "mnist" else None)
            evaluators[dataset] = (get_evaluator(data), data)
    evaluator, data = evaluators[dataset]
    start = time.time()
    if job["model"] == PYTHAE:
        info = json.loads((job["dir"] / "info.json").read_text())
        images, labels = torch.from_numpy(np.load(job["dir"] / "samples.npy")), None
        steps, epochs, cpu = info["steps"], info["epochs"], info["cpu"]
    else:
        model = load(job["dir"])
        labels = sample_labels(model, data.test, args.samples, None, 0)
        images = draw(model, args.samples, labels, 0)
        loop = load_state(job["dir"] / "train_state.pt")["loop"]
        steps, cpu = loop["step"], job.get("cpu", float("nan"))
        epochs = loop["epoch"] + loop["batch"] * BATCH / (len(data.train) * 0.9)
    result = None
    with LOCK:  # the first scoring of a dataset computes its reference and floor features for the others
        if not any(k[1][0] == evaluator.sha256 for k in memo):
            result = score(evaluator, images, data.test, data.train, labels, None, 0, memo)
    if result is None:
        result = score(evaluator, images, data.test, data.train, labels, None, 0, memo)
    if job["model"] != PYTHAE:  # as `latentlab eval RUN --samples N` would leave it
        path = job["dir"] / "eval.json"
        write_json(path, merge(json.loads(path.read_text()) if path.exists() else {}, {"samples": result}))
    return {**result, "name": job["name"], "dataset": dataset, "steps": steps, "epochs": epochs, "cpu": cpu,
            "train_wall": job["wall"], "score_wall": time.time() - start}


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def header(args: argparse.Namespace, started: float) -> str:
    """How one invocation ran: its command, machine and wall time."""
    return (f"Command: `{' '.join(shlex.quote(a) for a in [sys.executable.replace(str(ROOT) + '/', '')] + sys.argv)}`  \n"
            f"Machine: {platform.machine()}, 2 CPU cores shared with other jobs, one torch thread per process "
            f"({args.parallel} processes at a time); torch {torch.__version__}. Wall time {(time.time() - started) / 60:.1f} min "
            f"(started {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}).  ")


def write_markdown(rows: list[dict], args: argparse.Namespace, headers: list[str], notes: list[str]) -> None:
    datasets = [d for d in ["mnist", "fashion-mnist", *args.datasets] if any(r["dataset"] == d for r in rows)]
    lines = ["# Sample quality at a fixed CPU budget (MNIST, Fashion-MNIST)", "", *headers,
             f"Budget: {args.cpu_seconds:.0f} CPU-seconds of training per model per dataset (process CPU time, one thread), "
             f"batch {BATCH}, seed 0; for the latentlab runs it includes starting Python and loading the data (a few seconds), "
             "for pythae's only its training loop. Steps: optimiser steps of every group (a GAN's discriminator steps "
             "included; WGAN-GP takes 5 critic steps per generator step). Settings: " + "; ".join(f"{n}: `latentlab train {m}` defaults, lr {s['lr']:g}" for n, m, s in MODELS)
             + f"; {PYTHAE}: pythae 0.1.2 `VAE` (default MLP 784-512-16, BCE), Adam lr 0.001.  ",
             f"Scoring: N = {args.samples} samples (seed 0) against the test split (10,000 images) in the 128 penultimate features of "
             "latentlab's evaluation classifier (`latentlab/evaluator.py`, hash below); precision/recall k = 3 "
             "(Kynkaanniemi et al. 2019), density/coverage (Naeem et al. 2020); classes covered: classes holding at least 10% "
             "of their data share of the samples; class KL = KL(sample labels || test labels) in nats (log 10 = 2.30 is "
             "total collapse); label acc: classifier accuracy on the labels the conditional GAN was asked for; scoring wall s: "
             "drawing and scoring the samples, all models at once in threads of one process on the busy machine. "
             "The floor row scores N training images: what a perfect sampler would get.", ""]
    for dataset in dict.fromkeys(datasets):
        these = [r for r in rows if r["dataset"] == dataset]
        if not these:
            continue
        ev = these[0]
        lines += [f"## {dataset}", "",
                  f"Evaluator: sha256 `{ev['evaluator_sha256']}`, test accuracy {ev['evaluator_test_accuracy']:.4f} (recipe v{ev['evaluator_recipe']}).", "",
                  "| model | train CPU s | steps | epochs | FD ↓ | precision ↑ | recall ↑ | density | coverage ↑ | classes covered | class KL ↓ | label acc | scoring wall s |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
                  f"| floor: {args.samples} training images | - | - | - | {ev['samples_fd_floor']:.2f} | {ev['samples_precision_floor']:.3f} | "
                  f"{ev['samples_recall_floor']:.3f} | {ev['samples_density_floor']:.3f} | {ev['samples_coverage_floor']:.3f} | - | - | - | - |"]
        for r in these:
            lines.append(f"| {r['name']} | {r['cpu']:.0f} | {r['steps']} | {r['epochs']:.2f} | {r['samples_fd']:.2f} | {r['samples_precision']:.3f} | "
                         f"{r['samples_recall']:.3f} | {r['samples_density']:.3f} | {r['samples_coverage']:.3f} | "
                         f"{r['samples_classes_covered']}/{r['samples_classes']} | {r['samples_class_kl']:.3f} | "
                         f"{fmt(r.get('samples_label_accuracy'), '.3f')} | {r['score_wall']:.0f} |")
        lines.append("")
    lines += ["## Context, not comparable", "",
              "Lucic et al. (2018, \"Are GANs created equal?\") report Inception-feature FID for NS GAN 6.8 (MNIST) / 26.5 "
              "(Fashion-MNIST) and WGAN 6.7 / 21.5 after large hyperparameter searches and full-length training on GPUs. "
              "Those numbers live in Inception's 2048-dimensional feature space; the FDs above live in the 128 features of "
              "a small MNIST-trained CNN and are not on the same scale: compare rows within a table, and each row with the floor.", ""]
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    path = Path(args.results)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    path.with_suffix(".json").write_text(json.dumps({"headers": headers, "notes": notes, "cpu_seconds": args.cpu_seconds,
                                                       "samples": args.samples, "rows": rows}, indent=1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"])
    p.add_argument("--models", nargs="+", default=[n for n, _, _ in MODELS] + [PYTHAE], help="row names to run")
    p.add_argument("--mnist-dir", default=os.environ.get("LATENTLAB_TEST_MNIST"), help="folder of the MNIST IDX files")
    p.add_argument("--cpu-seconds", type=float, default=300.0, help="training budget per model per dataset")
    p.add_argument("--samples", type=int, default=10000)
    p.add_argument("--parallel", type=int, default=3, help="training processes at a time (one thread each)")
    p.add_argument("--out", default=str(ROOT / "bench" / "_work" / "sample_quality"))
    p.add_argument("--results", default=str(RESULTS), help="Markdown file (rows also go to the .json beside it)")
    p.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                   help="only write --results from the .json files of earlier invocations (one per dataset)")
    p.add_argument("--note", action="append", default=[], help="a line for the Notes section (with --merge: what the numbers say)")
    p.add_argument("--pythae-worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.pythae_worker:
        return pythae_worker(args)
    if args.merge:
        parts = [json.loads(Path(f).read_text()) for f in args.merge]
        rows = [r for part in parts for r in part["rows"]]
        args.datasets = list(dict.fromkeys(r["dataset"] for r in rows))
        args.cpu_seconds, args.samples = parts[0].get("cpu_seconds", args.cpu_seconds), parts[0].get("samples", args.samples)
        return write_markdown(rows, args, [h for part in parts for h in part["headers"]], [n for part in parts for n in part["notes"]] + args.note)
    torch.set_num_threads(1)
    started = time.time()
    out = Path(args.out) / time.strftime("%Y%m%d-%H%M%S")
    settings = {n: (m, s) for n, m, s in MODELS}
    jobs = [{"name": n, "dataset": d, "model": settings[n][0] if n in settings else PYTHAE,
             "settings": settings[n][1] if n in settings else {}, "dir": out / d / n.replace(" ", "-").lower()}
            for d in args.datasets for n in args.models]
    done: queue.Queue = queue.Queue()
    threading.Thread(target=run_jobs, args=(jobs, args, done), daemon=True).start()
    rows, notes, evaluators, memo = [], [], {}, {}

    def finish(job: dict) -> None:  # score one trained model (in a thread: scorings overlap) and rewrite the table
        if job["rc"] not in (0, 130):
            notes.append(f"{job['name']} on {job['dataset']} failed (exit {job['rc']}); see {job['dir']}.log")
            print(notes[-1], flush=True)
        else:
            r = score_job(job, args, evaluators, memo)
            print(f"{r['dataset']:<14} {r['name']:<16} cpu {r['cpu']:.0f}s  steps {r['steps']}  FD {r['samples_fd']:.2f} "
                  f"(floor {r['samples_fd_floor']:.2f})  P {r['samples_precision']:.3f}  R {r['samples_recall']:.3f}  "
                  f"classes {r['samples_classes_covered']}  KL {r['samples_class_kl']:.3f}", flush=True)
            with LOCK:
                rows.append(r)
                rows.sort(key=lambda r: (args.datasets.index(r["dataset"]), args.models.index(r["name"])))
                write_markdown(rows, args, [header(args, started)], notes)

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        while (job := done.get()) is not None:
            pool.submit(finish, job).add_done_callback(lambda f: f.exception() and print(f"scoring failed: {f.exception()!r}", flush=True))
    write_markdown(rows, args, [header(args, started)], notes)
    print(args.results)


if __name__ == "__main__":
    main()
