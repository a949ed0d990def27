"""Denoising autoencoders on MNIST: three corruptions at two levels each.

For every noise spec: PSNR (dB, on [0, 1] pixels, from the mean MSE over the 10,000
test images, noise seed 0) of the corrupted input, of a plain autoencoder applied
to the corrupted input, and of a denoising autoencoder trained on that corruption
(``latentlab train ae --noise SPEC``: fresh noise every batch, loss against the clean
batch). All autoencoders are the same MLP (784-256-32-256-784, BCE, Adam 1e-3,
batch 128). Picture: bench/results/denoise.png.

    .venv/bin/python bench/denoise.py [--epochs 3 --data-dir ../shared/data/mnist]
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import torch

import latentlab
from latentlab.data.noise import corrupt, denoising_scores, psnr
from latentlab.viz.plots import save_grid

NOISES = ("gaussian:0.2", "gaussian:0.4", "mask:0.3", "mask:0.6", "saltpepper:0.1", "saltpepper:0.3")
RESULTS = Path(__file__).parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--dataset", default="mnist", help="mnist for the table; digits for a quick smoke run")
    ap.add_argument("--data-dir", default=os.environ.get("LATENTLAB_TEST_MNIST", "../shared/data/mnist"))
    ap.add_argument("--work", default="/tmp/latentlab-bench-denoise", help="scratch folder for the runs")
    args = ap.parse_args()
    torch.set_num_threads(1)
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    started = time.perf_counter()
    common = dict(dataset=args.dataset, data_dir=args.data_dir, epochs=args.epochs, batch_size=128, lr=1e-3, seed=0,
                  hidden=256, latent_dim=32, progress=False)
    data = latentlab.load_dataset(args.dataset, args.data_dir)
    x, x8 = data.test.x, data.test.x[:12]

    def timed(**settings):
        wall, cpu = time.perf_counter(), time.process_time()
        run = latentlab.train("ae", **common, **settings)
        return run.model, time.perf_counter() - wall, time.process_time() - cpu

    plain, pwall, pcpu = timed(out=str(work / "plain"))
    with torch.no_grad():
        clean_mse = (plain.reconstruct(x) - x).pow(2).mean().item()
    rows, pictures = [], [x8]
    for spec in NOISES:
        dae, wall, cpu = timed(noise=spec, out=str(work / spec.replace(":", "-")))
        p, d = denoising_scores(plain, x, spec), denoising_scores(dae, x, spec)
        rows.append((spec, p["psnr_corrupted"], p["psnr_output"], d["psnr_output"], wall, cpu))
        noisy = corrupt(x8, spec)
        with torch.no_grad():
            pictures += [noisy, plain.reconstruct(noisy), dae.reconstruct(noisy)]
        print(rows[-1], flush=True)
    total = time.perf_counter() - started
    out_dir = RESULTS if args.dataset == "mnist" else work
    save_grid(torch.cat(pictures), out_dir / "denoise.png", nrow=len(x8))

    cmd = f".venv/bin/python bench/denoise.py --epochs {args.epochs} --data-dir {args.data_dir}"
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores (shared with other jobs), torch {torch.__version__}, 1 thread"
    lines = [
        "# Denoising autoencoders on MNIST", "",
        f"Command: `{cmd}`  ", f"Machine: {machine}  ",
        f"Total wall time: {total / 60:.1f} min. Every AE: MLP 784-256-32-256-784, BCE, {args.epochs} epochs, batch 128, "
        "Adam lr 1e-3, 54,000 training images. PSNR in dB on [0, 1] pixels from the mean MSE over the 10,000 test images "
        "(noise seed 0); higher is better.", "",
        f"Plain AE ({pwall:.0f} s wall, {pcpu:.0f} s CPU) on clean test images: MSE {clean_mse:.5f}, PSNR {psnr(clean_mse):.2f} dB.", "",
        "| noise | noisy input | plain AE on noisy input | denoising AE | DAE wall s | DAE CPU s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for spec, noisy, plain_out, dae_out, wall, cpu in rows:
        lines.append(f"| `{spec}` | {noisy:.2f} | {plain_out:.2f} | **{dae_out:.2f}** | {wall:.0f} | {cpu:.0f} |")
    lines += ["", "![denoising](denoise.png)", "",
              "Top row: 12 test digits. Then for each noise in the table's order three rows: corrupted, "
              "plain AE's output, denoising AE's output.", ""]
    if args.dataset == "mnist":
        (RESULTS / "denoise.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
