"""Throughput of the convolutional VAE and DCGAN on MNIST with 1 and 2 processes on the CPU
(DDP over gloo, launched with `latentlab train ... --nproc N`), the same 2 cores either way:
1 process x 1 thread, 1 process x 2 threads, and 2 processes x 1 thread.

    python bench/ddp.py --data-dir ../shared/data/mnist [--epochs 1]

Writes bench/results/ddp.md. On a machine with CUDA, add --cuda to measure the GPU path too.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

MODELS = {"vae (conv)": ["vae", "--arch", "conv"], "dcgan": ["dcgan"]}


def measure(model_args: list[str], nproc: int, threads: int, device: str, args, tmp: Path) -> dict:
    exe = str(Path(sys.executable).with_name("latentlab"))
    out = tmp / f"{model_args[0]}-{nproc}x{threads}-{device}"
    cmd = [exe, "train", *model_args, "--dataset", "mnist", "--epochs", str(args.epochs), "--batch-size", "128",
           "--val-fraction", "0", "--no-progress", "--device", device, "--nproc", str(nproc), "--out", str(out)]
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return {"images_per_s": sum(r["images_per_s"] for r in rows) / len(rows), "threads": threads,
            "loss": rows[-1].get("train_loss", rows[-1].get("train_generator/loss"))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    p.add_argument("--cuda", action="store_true", help="also measure 1 process on CUDA")
    p.add_argument("--out", default="bench/results/ddp.md")
    args = p.parse_args()
    lines = ["## Data-parallel training: 1 vs 2 processes (DDP, gloo) on the CPU", "",
             f"Command: `python bench/ddp.py {' '.join(sys.argv[1:])}`  ",
             f"Machine: {platform.machine()}, {args.cores} cores, torch {torch.__version__}; {time.strftime('%Y-%m-%d')}. "
             f"Batch 128 per process, {args.epochs} epoch(s) of the 60,000 MNIST training images.", "",
             "| model | processes x threads | device | images / s | speed-up over 1 x 1 |", "|---|---|---|---:|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        for name, model_args in MODELS.items():
            base = None
            runs = [(1, 1, "cpu"), (1, args.cores, "cpu"), (2, max(1, args.cores // 2), "cpu")]
            runs += [(1, 1, "cuda")] if args.cuda else []
            for nproc, threads, device in runs:
                r = measure(model_args, nproc, threads, device, args, Path(tmp))
                base = base or r["images_per_s"]
                lines.append(f"| {name} | {nproc} x {r['threads']} | {device} | {r['images_per_s']:.0f} | {r['images_per_s'] / base:.2f} |")
                print(lines[-1], flush=True)
    lines += ["", "2 processes see a global batch of 256 per step (128 each), so a step of the 2-process run does the work of "
              "two 1-process steps. On one 2-core machine, 2 DDP processes and 2 intra-op threads share the same cores, so "
              "they land close together; DDP's gain is across machines (or GPUs), where threads cannot reach.", ""]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
