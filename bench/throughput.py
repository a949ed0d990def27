"""Training throughput of the MLP VAE 784-512-16 (BCE, batch 128, Adam 1e-3) on MNIST:
latentlab against pythae 0.1.2's default VAE (the same network), measured in one run,
alternating epochs so that both see the same machine load.

    python bench/throughput.py --data-dir ../shared/data/mnist [--rounds 3] [--threads 2]

Writes bench/results/throughput.md. pythae is a benchmark-only dependency (`make bench` installs it).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

import latentlab


def latentlab_epoch(data, workdir: Path, i: int) -> float:
    """Seconds of one training epoch of latentlab's loop (as it logs them)."""
    run = latentlab.train("vae", data=data, arch="mlp", latent_dim=16, hidden=512, layers=1, likelihood="bernoulli",
                          batch_size=128, lr=1e-3, optimizer="adam", epochs=1, progress=False, out=str(workdir / f"ll{i}"))
    return run.metrics[-1]["seconds"]


def pythae_epoch(x: torch.Tensor, workdir: Path, i: int) -> float:
    """Seconds of one training epoch of pythae's BaseTrainer.train_step on the same network."""
    from pythae.data.datasets import BaseDataset
    from pythae.models import VAE, VAEConfig
    from pythae.trainers import BaseTrainer, BaseTrainerConfig
    model = VAE(VAEConfig(input_dim=(1, 28, 28), latent_dim=16, reconstruction_loss="bce"))  # default MLP 784-512-16
    cfg = BaseTrainerConfig(output_dir=str(workdir / f"py{i}"), per_device_train_batch_size=128, num_epochs=1,
                            learning_rate=1e-3, optimizer_cls="Adam", no_cuda=True)
    trainer = BaseTrainer(model, BaseDataset(x, torch.zeros(len(x))), training_config=cfg)
    trainer.prepare_training()  # optimiser, scheduler, callbacks, as train() does before its epochs
    started = time.perf_counter()
    trainer.train_step(epoch=1)
    return time.perf_counter() - started


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch thread counts to measure, one table row pair each")
    p.add_argument("--out", default="bench/results/throughput.md")
    args = p.parse_args()
    from importlib import metadata
    data = latentlab.load_dataset("mnist", args.data_dir, val_fraction=0.0)
    n = len(data.train)
    command = "python bench/throughput.py " + " ".join(sys.argv[1:])
    lines = [
        "## Training throughput: MLP VAE 784-512-16 on MNIST, latentlab vs pythae",
        "",
        f"Command: `{command}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"pythae {metadata.version('pythae')}, latentlab {latentlab.__version__}; {time.strftime('%Y-%m-%d')}  ",
        f"Network: encoder 784-512-(16+16), decoder 16-512-784, ReLU, Bernoulli (BCE) likelihood, batch 128, Adam lr 1e-3; "
        f"{n} training images per epoch; {args.rounds} alternating rounds per thread count, median. "
        f"latentlab: the epoch time its loop logs; pythae: `BaseTrainer.train_step` of one epoch.",
        "",
        "| torch threads | library | epoch seconds (median) | images / s | all rounds (s) | latentlab / pythae |",
        "|---:|---|---:|---:|---|---:|",
    ]
    for threads in args.threads:
        torch.set_num_threads(threads)
        times: dict[str, list[float]] = {"latentlab": [], "pythae": []}
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(args.rounds):
                times["latentlab"].append(latentlab_epoch(data, Path(tmp), i))
                times["pythae"].append(pythae_epoch(data.train.x, Path(tmp), i))
                print(f"{threads} threads, round {i + 1}: latentlab {n / times['latentlab'][-1]:.0f} img/s, "
                      f"pythae {n / times['pythae'][-1]:.0f} img/s", flush=True)
        med = {k: statistics.median(v) for k, v in times.items()}
        for k in ("latentlab", "pythae"):
            ratio = f"**{med['pythae'] / med['latentlab']:.2f}x**" if k == "latentlab" else ""
            lines.append(f"| {threads} | {k} | {med[k]:.2f} | {n / med[k]:.0f} | {', '.join(f'{t:.2f}' for t in times[k])} | {ratio} |")
    lines += ["", "Target (issue 2): latentlab / pythae at least 1.0 on the same network, measured in one run.", ""]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
