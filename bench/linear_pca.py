"""A linear autoencoder against PCA-k on MNIST, k = 2, 10, 50.

Each linear AE (``latentlab pca --k K``: arch linear, recon mse, SGD with
momentum 0.9, batch 32) is compared with scikit-learn's PCA-k fitted on the same
54,000 training images: reconstruction MSE per pixel on the training and test
split, the largest principal angle between the decoder's column space and the
top-k principal directions, and the largest angle that the excess training error
guarantees (latentlab/linear.py). One extra row trains k = 10 with Adam (lr 1e-3)
for comparison: with MNIST's thousands of steps it gets there too (on digits'
few hundred steps it does not, which is why ``latentlab pca`` defaults to SGD).

    .venv/bin/python bench/linear_pca.py [--epochs 5 --data-dir ../shared/data/mnist]
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

from latentlab.analysis.linear import compare_pca, train_linear_ae

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--lr", type=float, default=0.002)
    ap.add_argument("--ks", default="2,10,50")
    ap.add_argument("--dataset", default="mnist", help="mnist for the table; digits for a quick smoke run")
    ap.add_argument("--data-dir", default=os.environ.get("LATENTLAB_TEST_MNIST", "../shared/data/mnist"))
    ap.add_argument("--work", default="/tmp/latentlab-bench-linear-pca", help="scratch folder for the runs")
    args = ap.parse_args()
    torch.set_num_threads(1)
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    started = time.perf_counter()
    plan = [(int(k), "sgd", args.lr) for k in args.ks.split(",")] + [(10, "adam", 1e-3)]
    rows = []
    for k, opt, lr in plan:
        wall, cpu = time.perf_counter(), time.process_time()
        run = train_linear_ae(k, dataset=args.dataset, data_dir=args.data_dir, epochs=args.epochs, batch_size=32,
                              optimizer=opt, lr=lr, seed=0, progress=False, out=str(work / f"k{k}-{opt}"))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        c = compare_pca(run.model, run_data(run))
        rows.append((k, opt, lr, c, wall, cpu))
        print(k, opt, c.summary(), flush=True)
    total = time.perf_counter() - started

    cmd = f".venv/bin/python bench/linear_pca.py --epochs {args.epochs} --lr {args.lr} --ks {args.ks} --data-dir {args.data_dir}"
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores (shared with other jobs), torch {torch.__version__}, 1 thread"
    lines = [
        "# Linear autoencoder vs PCA on MNIST", "",
        f"Command: `{cmd}`  ", f"Machine: {machine}  ",
        f"Total wall time: {total / 60:.1f} min. Every AE: {args.epochs} epochs, batch 32, 54,000 training images; "
        "PCA-k: scikit-learn, fitted on the same training images. MSE per pixel on [0, 1] pixels.", "",
        "| k | optimiser | AE train MSE | PCA train MSE | AE excess | AE test MSE | PCA test MSE | largest angle | guaranteed bound | eigengap | wall s | CPU s |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for k, opt, lr, c, wall, cpu in rows:
        lines.append(f"| {k} | {opt} lr {lr:g} | {c.train_mse_ae:.5f} | {c.train_mse_pca:.5f} | {c.excess:+.2%} | "
                     f"{c.test_mse_ae:.5f} | {c.test_mse_pca:.5f} | {c.max_angle_deg:.1f} deg | {c.angle_bound_deg:.1f} deg | "
                     f"{c.eigengap:.4f} | {wall:.0f} | {cpu:.0f} |")
    lines += ["", "Guaranteed bound: sin^2(largest angle) <= (E_AE - E_PCA) / (lambda_k - lambda_{k+1}), per-image squared "
              "errors on the training split (proof in latentlab/linear.py); 90 deg means the excess error is too large "
              "for the eigengap to pin the subspace down. The angle measures the whole k-dimensional subspace: "
              "directions with nearly equal variance (small eigengap) are the last to settle.", "",
              "Reading the table: gradient descent closes the MSE gap first; the subspace follows at a rate set by the "
              "eigengap. Where lambda_k - lambda_{k+1} is tiny, an AE within about 1% of PCA's error can still sit at a "
              "large angle to PCA's exact top-k subspace, because trading directions of nearly equal variance costs "
              "almost no error.", ""]
    (RESULTS / "linear_pca.md").write_text("\n".join(lines)) if args.dataset == "mnist" else None
    print("\n".join(lines))


def run_data(run):
    from latentlab.training.run_folder import run_dataset
    return run_dataset(run.dir)


if __name__ == "__main__":
    sys.exit(main())
