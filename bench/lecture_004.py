"""Lecture 004's convolutional VAE, run as its recipe, beside the figures the notes print -> bench/results/lecture_004.md.

    python bench/lecture_004.py [--data-dir ../shared/data/mnist]

Runs `latentlab train --recipe conv-vae-100d --data-dir DIR --out bench/_work/recipe-004` (50 epochs of a
conv VAE with a 100-d latent, RMSprop, batch 64, loss 784 x MSE + KL, all 60,000 training images), unless that
folder already holds the finished recipe (its recipe.json); the recipe itself reports the loss and the MSE
on the training set (last epoch) and the test set in the lecture's units and draws the class-mean
interpolations. This script puts that report, the wall time and the pictures into the table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from common import RESULTS, WORK, copy_figure, load_average

RUN = WORK / "recipe-004"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="../shared/data/mnist")
    args = p.parse_args()
    if not (RUN / "recipe.json").exists():
        exe = str(Path(sys.executable).with_name("latentlab"))
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        subprocess.run([exe, "train", "--recipe", "conv-vae-100d", "--data-dir", args.data_dir, "--out", str(RUN),
                        "--no-progress"], check=True, env=env)
    record = json.loads((RUN / "recipe.json").read_text())
    metrics = [json.loads(line) for line in (RUN / "metrics.jsonl").read_text().splitlines()]
    train_min = sum(m["seconds"] for m in metrics) / 60
    rows = ["| split | latentlab loss (784 x MSE + KL) | lecture loss | latentlab MSE per pixel | lecture MSE |",
            "|---|---:|---:|---:|---:|"]
    for r in record["report"]:
        rows.append(f"| {r['split']} | **{r['loss']:.2f}** | {r['lecture_loss']:.2f} | **{r['mse']:.4f}** | {r['lecture_mse']:.4f} |")
    pictures = [copy_figure(RUN / f"interpolate-{a}-{b}.png", f"lecture_004_interpolate-{a}-{b}.png") for a, b in ((0, 9), (1, 7))]
    text = "\n".join([
        "## Lecture 004's convolutional VAE, as its recipe, beside the lecture's printed figures (issue 15)", "",
        f"Command: `latentlab train --recipe conv-vae-100d --data-dir {args.data_dir} --out RUN` "
        f"(via `python bench/lecture_004.py --data-dir {args.data_dir}`)  ",
        f"Machine: {platform.machine()}, 2 cores, 1 torch thread, written {time.strftime('%Y-%m-%d')}; the run shared the "
        f"machine with one or two other single-thread benchmarks (load average now {load_average()}), so its "
        f"{train_min:.0f} min of training ({len(metrics)} epochs, {train_min / len(metrics) * 60:.0f} s per epoch) "
        "is an upper bound.  ",
        "Settings (the recipe's): " + ", ".join(f"{k} {v}" for k, v in record["recipe_settings"].items()) + ".", "",
        *rows, "",
        "Training figures are the last epoch's running mean over its batches (as Keras prints them), test figures one "
        "sampled z per image (as Keras's `evaluate`). The loss is the lecture's: SSE over the 784 pixels plus the KL "
        "term, per image; latentlab trains the Gaussian likelihood with sigma = 1/sqrt(2), which is this loss plus the "
        "constant 392 log(pi) = 448.7 nats, converted back here. The networks differ where the recipe's notes say "
        "(4x4 stride-2 convolutions and a 512-unit dense layer instead of 3x3 convolutions with max-pooling; "
        "PyTorch's RMSprop, alpha 0.99, instead of Keras's rho 0.9).", "",
        "The class-mean interpolations of the lecture's \"Manipulating digits\" slides (`latentlab explore RUN "
        "--interpolate 0 9 --by class`, and 1 to 7):", "",
        *[f"![{name}]({name})" for name in pictures if name], ""])
    (RESULTS / "lecture_004.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
