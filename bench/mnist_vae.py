"""The spine's reference run: an MLP VAE with a 50-d latent on dynamically binarized MNIST,
20 epochs, trained and evaluated through the CLI exactly as a user would.

    python bench/mnist_vae.py --data-dir ../shared/data/mnist [--epochs 20]

Writes bench/results/mnist_vae.md (test -ELBO in nats, wall time).
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--out", default="bench/results/mnist_vae.md")
    args = p.parse_args()
    exe = str(Path(sys.executable).with_name("latentlab"))
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "vae"
        train = [exe, "train", "vae", "--dataset", "mnist", "--arch", "mlp", "--latent-dim", "50", "--epochs", str(args.epochs),
                 "--binarize", "dynamic", "--no-progress", "--out", str(run)]
        if args.data_dir:
            train += ["--data-dir", args.data_dir]
        started = time.perf_counter()
        subprocess.run(train, check=True)
        wall = time.perf_counter() - started
        subprocess.run([exe, "eval", str(run)], check=True)
        results = json.loads((run / "eval.json").read_text())
        metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    shown = " ".join(a if a != str(run) else "RUN" for a in train[1:])
    lines = [
        "## MLP VAE, 50-d latent, dynamically binarized MNIST",
        "",
        f"Command: `latentlab {shown}` then `latentlab eval RUN` (via `python bench/mnist_vae.py {' '.join(sys.argv[1:])}`)  ",
        f"Machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}; {time.strftime('%Y-%m-%d')}",
        "",
        "| epochs | wall time (train + pictures) | mean epoch s | test -ELBO (nats) | test reconstruction (nats) | test KL (nats) |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {len(metrics)} | {wall / 60:.1f} min | {sum(m['seconds'] for m in metrics) / len(metrics):.1f} | "
        f"{results['test_neg_elbo']:.2f} | {results['test_rec']:.2f} | {results['test_kl']:.2f} |",
        "",
        "The test set is binarized once with a fixed seed; -ELBO is an upper bound on the test NLL "
        "(see the likelihood table for importance-sampled NLL).",
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
