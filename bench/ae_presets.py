"""The lecture notes' three convolutional autoencoders on MNIST, and decoding random codes.

Part A: each preset (``latentlab train ae --arch conv-lecture1|2|3``, BCE, Adam 1e-3,
batch 128) trained for the same few epochs; parameters, code size, test
reconstruction MSE (per pixel) and BCE (nats per image), wall and CPU time, and
the reconstructions side by side (bench/results/ae_presets_reconstructions.png:
test digits, then solution 1, 2, 3). The notes' claim: resolution improves from
solution 1 to 3.

Part B: the notes' experiment "decode random latent vectors". For each preset
and for a small VAE, 1000 decoded draws: the AE from U[0, 1) (the notes'
``np.random.rand``), from N(0, I) and from a Gaussian fitted to its training codes;
the VAE from its prior N(0, I). Number: the Frechet distance
(``latentlab.evaluation.metrics``) between the draws and 1000 test images in the
128-d features of latentlab's evaluation classifier of the dataset
(``latentlab.evaluation.classifier``; not Inception, so not comparable with
published FIDs). References: training images (floor) and uniform pixel noise.
Picture: bench/results/ae_presets_samples.png.

    .venv/bin/python bench/ae_presets.py [--epochs 2 --data-dir ../shared/data/mnist]
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
from latentlab.evaluation.classifier import Evaluator, get_evaluator
from latentlab.evaluation.metrics import frechet_distance
from latentlab.training.loop import evaluate
from latentlab.viz.plots import save_grid

PRESETS = ("conv-lecture1", "conv-lecture2", "conv-lecture3")
RESULTS = Path(__file__).parent / "results"
N_DRAWS = 1000


def frechet(evaluator: Evaluator, a: torch.Tensor, b: torch.Tensor) -> float:
    """Frechet distance between the evaluation classifier's features of two image sets."""
    return frechet_distance(evaluator.features(a), evaluator.features(b))


def timed_train(model: str, **settings):
    wall, cpu = time.perf_counter(), time.process_time()
    run = latentlab.train(model, **settings)
    return run, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--data-dir", default=os.environ.get("LATENTLAB_TEST_MNIST", "../shared/data/mnist"))
    ap.add_argument("--dataset", default="mnist", help="mnist for the table; digits for a quick smoke run")
    ap.add_argument("--work", default="/tmp/latentlab-bench-ae-presets", help="scratch folder for the runs")
    args = ap.parse_args()
    torch.set_num_threads(1)
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    started = time.perf_counter()
    common = dict(dataset=args.dataset, data_dir=args.data_dir, epochs=args.epochs, batch_size=128, lr=1e-3, seed=0, progress=False)
    data = latentlab.load_dataset(args.dataset, args.data_dir)
    x16 = data.test.x[:16]
    features = get_evaluator(args.dataset, data_dir=args.data_dir)  # trained once (minutes on MNIST), then cached
    accuracy = features.test_accuracy
    reference = data.test.x[:N_DRAWS]
    floor = frechet(features, data.train.x[:N_DRAWS], reference)
    noise_fd = frechet(features, torch.rand(N_DRAWS, *data.shape, generator=torch.Generator().manual_seed(0)), reference)
    rows, grids, sample_rows, sample_grids = [], [x16], [], []
    for arch in PRESETS:
        run, wall, cpu = timed_train("ae", arch=arch, recon="bce", out=str(work / arch), **common)
        model = run.model
        with torch.no_grad():
            test = evaluate(model, data.test, 500, False, 0)
            grids.append(model.reconstruct(x16))
            gen = torch.Generator().manual_seed(0)
            draws = {p: model.sample(N_DRAWS, prior=p, generator=gen) for p in ("uniform", "standard", "fitted")}
        rows.append((arch, sum(p.numel() for p in model.parameters()), model.latent_dim, test["mse"], test["bce"], wall, cpu))
        sample_rows.append((arch, *(frechet(features, draws[p], reference) for p in ("uniform", "standard", "fitted"))))
        sample_grids += [draws["uniform"][:16], draws["standard"][:16], draws["fitted"][:16]]
        print(rows[-1], sample_rows[-1], flush=True)
    vae, vwall, vcpu = timed_train("vae", arch="mlp", hidden=256, latent_dim=16, out=str(work / "vae"), **common)
    vdraws = vae.model.sample(N_DRAWS, generator=torch.Generator().manual_seed(0))
    vae_fd = frechet(features, vdraws, reference)
    sample_grids.append(vdraws[:16])
    pictures = RESULTS if args.dataset == "mnist" else work
    save_grid(torch.cat(grids), pictures / "ae_presets_reconstructions.png", nrow=16)
    save_grid(torch.cat(sample_grids), pictures / "ae_presets_samples.png", nrow=16)
    total = time.perf_counter() - started

    cmd = f".venv/bin/python bench/ae_presets.py --epochs {args.epochs} --data-dir {args.data_dir}"
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores (shared with other jobs), torch {torch.__version__}, 1 thread"
    lines = [
        "# The lecture notes' convolutional autoencoders on MNIST", "",
        f"Command: `{cmd}`  ", f"Machine: {machine}  ",
        f"Total wall time: {total / 60:.1f} min. Every run: {args.epochs} epochs, batch 128, Adam lr 1e-3, BCE loss, "
        f"54,000 training images (10% held out for validation), test = the 10,000 MNIST test images.", "",
        "## A. Reconstruction", "",
        "| preset (notes' solution) | parameters | code size | test MSE / pixel | test BCE (nats / image) | wall s | CPU s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for i, (arch, params, code, mse, bce, wall, cpu) in enumerate(rows):
        lines.append(f"| `{arch}` ({i + 1}) | {params:,} | {code} | {mse:.5f} | {bce:.2f} | {wall:.0f} | {cpu:.0f} |")
    lines += ["", "Wall time includes per-epoch validation, checkpoints and the run's pictures; the machine was shared, "
              "so CPU seconds (this process) are the better speed figure.", "",
              "![reconstructions](ae_presets_reconstructions.png)", "",
              "Rows: 16 test digits, then their reconstructions by solution 1, 2 and 3.", "",
              "## B. Decoding random codes: AE vs VAE", "",
              f"Frechet distance to {N_DRAWS} test images in the features of latentlab's evaluation classifier "
              f"(test accuracy {accuracy:.1%}, sha256 {features.sha256[:12]}) of {N_DRAWS} decoded draws; "
              "lower = more like real digits. "
              f"References: {N_DRAWS} training images {floor:.1f}; uniform pixel noise {noise_fd:.1f}.", "",
              "| model | U[0,1) (the notes' `np.random.rand`) | N(0, I) | Gaussian fitted to training codes |",
              "|---|---:|---:|---:|"]
    for arch, uni, std, fit in sample_rows:
        lines.append(f"| AE `{arch}` | {uni:.1f} | {std:.1f} | {fit:.1f} |")
    lines += [f"| VAE (mlp, 16 latents, {args.epochs} epochs, {vwall:.0f} s wall) | | {vae_fd:.1f} (its prior) | |", "",
              "![samples](ae_presets_samples.png)", "",
              "Rows (16 draws each): solution 1 from U[0,1), N(0,I), fitted; solution 2 the same; solution 3 the same; "
              "last row the VAE from N(0, I).", ""]
    if args.dataset == "mnist":
        (RESULTS / "ae_presets.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
