"""Minimax vs non-saturating generator loss on MNIST: the vanishing-gradient claim, in numbers.

The lecture notes (after Goodfellow et al. 2014, section 3): with the minimax loss
log(1 - D(G(z))) the generator's gradient vanishes when the discriminator confidently
rejects its samples (D(G(z)) -> 0), as it does early in training; -log D(G(z)) has the
same fixed point but strong gradients there. Three measurements, both losses from the
same initial weights (``latentlab train gan``, MLP networks):

A  saturation: train D alone against the initial G and measure, as D(G(z)) falls,
   the norm of the generator's parameter gradient under each loss;
B  early training: per generator step of the real schedule (the training loop's own
   ``Trainer.step``), the parameter-gradient norm and mean D(G(z)) over the first steps;
C  full runs: ``latentlab.train("gan", gen_loss=...)`` epoch by epoch (resumed), sample
   quality after each epoch: Frechet distance (``latentlab.evaluation.metrics``) in the
   features of latentlab's MNIST evaluation classifier (``latentlab.evaluation.classifier``;
   not Inception: not comparable with published FIDs), the number of digit classes the
   samples cover, and mean D(G(z)).

    .venv/bin/python bench/gan_losses.py [--epochs 6 --seeds 2 --strong-d 5 --data-dir ../shared/data/mnist]

writes bench/results/gan_losses.md and bench/results/gan_losses.png (+ gan_losses_samples.png).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

import latentlab
from latentlab.config import TrainConfig, from_dict, train_defaults
from latentlab.evaluation.classifier import Evaluator, get_evaluator
from latentlab.evaluation.metrics import frechet_distance
from latentlab.models.gan import GAN, GANConfig
from latentlab.nn.losses import generator_bce
from latentlab.training.loop import Trainer, make_optimizer
from latentlab.viz.plots import grid, plt, save_figure

LOSSES = ("minimax", "non-saturating")
RESULTS = Path(__file__).parent / "results"


# --- sample quality in the evaluation classifier's features --------------------------------
@torch.no_grad()
def quality(model, evaluator: Evaluator, real_feats: np.ndarray, n: int = 5000) -> dict:
    model.eval()
    images = model.sample(n, generator=torch.Generator(model.device).manual_seed(123))
    feats = evaluator.features(images)  # (n, 128)
    counts = np.bincount(evaluator.predict_features(feats), minlength=10) / n
    d_fake = torch.sigmoid(model.discriminator(images)["adv"]).mean().item()
    return {"fd": frechet_distance(feats, real_feats), "modes": int((counts >= 0.02).sum()),
            "max_class": float(counts.max()), "d_fake_eval": d_fake}


def g_grad_norm(model, z: torch.Tensor, kind: str) -> float:
    """||d loss_G / d theta_G|| over all generator parameters, on the batch z."""
    fake_logit = model.discriminator(model.generator(z))["adv"]
    grads = torch.autograd.grad(generator_bce(fake_logit, kind), list(model.generator.parameters()))
    return torch.sqrt(sum(g.pow(2).sum() for g in grads)).item()


def fresh_gan(shape, seed: int, kind: str = "non-saturating") -> GAN:
    """The GAN ``latentlab.train("gan", seed=seed)`` starts from: it seeds the global RNG, then builds."""
    torch.manual_seed(seed)
    return GAN(GANConfig(gen_loss=kind), shape)


def trainer(model: GAN, lr: float) -> Trainer:
    """The training loop's optimiser steps for ``model``: one Adam per group, the GAN's defaults but ``lr``."""
    cfg = from_dict(TrainConfig, {**train_defaults(GAN), "lr": lr})
    groups = model.optimizer_groups()
    return Trainer(model, model, groups, {g: make_optimizer(cfg, ps) for g, ps in groups.items()})


# --- A: saturation as D learns to reject the initial G -------------------------------------
def experiment_a(data, lr: float, checkpoints=(0, 10, 25, 50, 100, 200, 400)) -> list[dict]:
    model = fresh_gan(data.shape, seed=0)
    model.train()
    steps = trainer(model, lr)
    z = torch.randn(512, model.cfg.latent_dim, generator=torch.Generator().manual_seed(7))
    rows, done = [], 0
    batches = latentlab.data.iterate_batches(data.train, 64, shuffle=True, seed=1)
    for target in checkpoints:
        while done < target:
            x, _ = next(batches)
            steps.step("discriminator", x, None)  # the generator frozen at its initial weights
            done += 1
        for p in model.parameters():
            p.requires_grad_(True)
        with torch.no_grad():
            d_fake = torch.sigmoid(model.discriminator(model.generator(z))["adv"]).mean().item()
        rows.append({"d_steps": target, "d_fake": d_fake, **{k: g_grad_norm(model, z, k) for k in LOSSES}})
    return rows


# --- B: the first generator steps of real training ----------------------------------------
def experiment_b(data, lr: float, g_steps: int) -> dict[str, list[dict]]:
    out = {}
    for kind in LOSSES:
        model = fresh_gan(data.shape, seed=0, kind=kind)
        model.train()
        steps, schedule = trainer(model, lr), model.schedule()
        torch.manual_seed(1)  # the latent draws of the training steps, as the training loop seeds them
        batches = latentlab.data.iterate_batches(data.train, 64, shuffle=True, seed=1)
        rows, i = [], 0
        while len(rows) < g_steps:
            x, _ = next(batches)
            group = schedule[i % len(schedule)]
            terms = steps.step(group, x, None)
            if group == "generator":
                norm = torch.sqrt(sum(p.grad.pow(2).sum() for p in steps.groups["generator"])).item()
                rows.append({"step": len(rows) + 1, "grad": norm, "d_fake": terms["d_fake"]})
            i += 1
        out[kind] = rows
    return out


# --- C: full runs through latentlab.train, evaluated after every epoch --------------------
def experiment_c(args, evaluator: Evaluator, real_feats, work: Path) -> dict[str, list[list[dict]]]:
    """{"<loss> k=<d_steps>": one list of per-epoch rows per seed}; k = 1 for every seed, the
    larger k of --strong-d (a discriminator 5 steps ahead) for seed 0 only.
    Rows are cached in each run folder (bench_rows.json), so a rerun only adds what is missing."""
    out = {}
    configs = [(k, seed) for k in (1, *args.strong_d) for seed in range(args.seeds if k == 1 else 1)]
    for kind in LOSSES:
        for k, seed in configs:
            run_dir = work / f"{kind}-k{k}-seed{seed}"
            cache = run_dir / "bench_rows.json"
            if cache.is_file() and len(json.loads(cache.read_text())) == args.epochs:
                out.setdefault(f"{kind} k={k}", []).append(json.loads(cache.read_text()))
                continue
            shutil.rmtree(run_dir, ignore_errors=True)
            rows = []
            for epoch in range(1, args.epochs + 1):
                if epoch == 1:
                    run = latentlab.train("gan", dataset="mnist", data_dir=args.data_dir, epochs=1, batch_size=64, lr=args.lr,
                                          seed=seed, gen_loss=kind, d_steps=k, out=str(run_dir), progress=False, device="cpu")
                else:
                    run = latentlab.train("gan", resume=run_dir, epochs=epoch, progress=False)
                m = run.metrics[-1]
                rows.append({"epoch": epoch, **quality(latentlab.load(run_dir), evaluator, real_feats),
                             "d_fake_train": m["train_generator/d_fake"], "d_real_train": m["train_discriminator/d_real"],
                             "signal": m["train_generator/grad_norm"], "seconds": m["seconds"]})
                print(kind, k, seed, rows[-1], flush=True)
            cache.write_text(json.dumps(rows))
            out.setdefault(f"{kind} k={k}", []).append(rows)
    return out


def plot(a, b, c, path: Path) -> None:
    fig, axes = plt.subplots(1, 4, figsize=(19, 3.8))
    ax = axes[0]
    d = [r["d_fake"] for r in a]
    for kind in LOSSES:
        ax.plot(d, [r[kind] for r in a], marker="o", label=kind)
    ax.set(xscale="log", yscale="log", xlabel="mean D(G(z)) (D trained alone for 0..400 steps)",
           ylabel="||grad of loss_G wrt G's weights||", title="A: saturation")
    ax.invert_xaxis()
    ax.legend()
    ax = axes[1]
    for kind in LOSSES:
        ax.plot([r["step"] for r in b[kind]], [r["grad"] for r in b[kind]], label=kind, lw=1)
    ax.set(yscale="log", xlabel="generator step", ylabel="||grad of loss_G wrt G's weights||", title="B: first generator steps")
    ax.legend()
    for ax, key, title in ((axes[2], "fd", "C: Frechet distance (MNIST-classifier features)"),
                           (axes[3], "d_fake_train", "C: mean D(G(z)) in generator steps")):
        for name, runs in c.items():
            if name == "_floor":
                continue
            kind, k = name.split(" k=")
            for s, rows in enumerate(runs):
                ax.plot([r["epoch"] for r in rows], [r[key] for r in rows], color=f"C{LOSSES.index(kind)}", marker="o", ms=3,
                        ls="-" if k == "1" else "--", alpha=1 if s == 0 else 0.5, label=name if s == 0 else None)
        ax.set(xlabel="epoch", title=title, yscale="log" if key == "fd" else "linear")
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def save_samples(work: Path, names: list[str], path: Path) -> None:
    """Last-epoch samples (seed 0, the run's fixed latent batch) of every loss and k, side by side."""
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 4.8), squeeze=False)
    for ax, name in zip(axes.flat, names):
        kind, k = name.split(" k=")
        model = latentlab.load(work / f"{kind}-k{k}-seed0")
        with torch.no_grad():
            ax.imshow(grid(model.generate(model.fixed_input[:64]), 8)[..., 0], cmap="gray")
        ax.set_title(f"{kind}, k = {k}: last epoch")
        ax.axis("off")
    save_figure(fig, path)


def mean_sd(values) -> str:
    v = np.asarray(values, float)
    return f"{v.mean():.3g}" if len(v) == 1 else f"{v.mean():.3g} ± {v.std(ddof=1):.2g}"


# Pictures of the rest of the family; made with the CLI (not by this script), 1 torch thread, shared CPU.
MNIST_OPTS = "--dataset mnist --data-dir ../shared/data/mnist --batch-size 64 --device cpu"
FAMILY = [
    "## The rest of the GAN family on MNIST (pictures only)", "",
    "Not made by this script: short CLI runs to show each model trains on real data. "
    "`gan_family_mnist.png` shows the fixed latent batch of each run after its last epoch:", "",
    f"    latentlab train dcgan   {MNIST_OPTS} --epochs 2 --lr 2e-4",
    f"    latentlab train cgan    {MNIST_OPTS} --epochs 2 --lr 2e-4 --arch conv",
    f"    latentlab train acgan   {MNIST_OPTS} --epochs 2 --lr 2e-4",
    f"    latentlab train wgan-gp {MNIST_OPTS} --epochs 2 --lr 1e-4", "",
    "DCGAN, cGAN and AC-GAN give readable digits after 2 epochs (epochs took 110-390 s on one thread while "
    "other jobs shared the 2 cores); cGAN and AC-GAN draw the asked digit in every row. WGAN-GP (5 critic steps per generator "
    "step, so a sixth of the generator updates) is still blurry after 2 epochs. The MLP cGAN "
    "(`--arch mlp`) did not yet follow its label after 3 epochs, which is why `conv` is cGAN's default.", "",
    "`infogan_codes_mnist.png`: `latentlab train infogan " + MNIST_OPTS + " --epochs 5 --lr 2e-4` (conv). Rows: the "
    "categorical code; along a row one continuous code goes from -2 to 2 with z and the other codes fixed. c1 mostly "
    "tilts the digit (rows 3, 5, 7), c2 mostly changes its width (rows 2, 3, 8). After 5 epochs the categories do "
    "not map one-to-one onto digits (several rows hold 7s or 9s). An MLP InfoGAN (`--arch mlp`, 5 epochs) let "
    "its continuous codes change the digit's identity.", "",
]


def findings(a, c, epochs: int) -> list[str]:
    """The numbers behind the claim, pulled from the tables below."""
    last = a[-1]
    fd = {n: np.mean([rows[-1]["fd"] for rows in runs]) for n, runs in c.items() if n != "_floor"}
    sig = {n: runs[0][-1]["signal"] for n, runs in c.items() if n != "_floor"}
    dg = {n: runs[0][-1]["d_fake_train"] for n, runs in c.items() if n != "_floor"}
    out = [f"- A: once D rejects the fakes (mean D(G(z)) = {last['d_fake']:.1e} after {last['d_steps']} D steps), the minimax "
           f"loss hands the generator a gradient of norm {last['minimax']:.2g}, the non-saturating loss {last['non-saturating']:.2g} "
           f"({last['non-saturating'] / last['minimax']:.0f}x). At D(G(z)) = 1/2 the two are equal: the claim is about the "
           "start of training and about a winning discriminator."]
    if "minimax k=1" in fd and "non-saturating k=1" in fd:
        out.append(f"- C, k = 1: both losses train; after {epochs} epochs FD {fd['non-saturating k=1']:.0f} (non-saturating) vs "
                   f"{fd['minimax k=1']:.0f} (minimax), and minimax runs with a lower D(G(z)).")
    for k in sorted({n.split('k=')[1] for n in fd} - {"1"}):
        mm, ns = f"minimax k={k}", f"non-saturating k={k}"
        if mm in fd and ns in fd:
            out.append(f"- C, k = {k} (D ahead): minimax saturates, D(G(z)) {dg[mm]:.1e} and gradient signal {sig[mm]:.1e} in "
                       f"epoch {epochs}, FD stuck at {fd[mm]:.0f}; the non-saturating loss keeps a signal of {sig[ns]:.2g} "
                       f"and recovers to FD {fd[ns]:.0f}. This is the notes' vanishing gradient.")
    out.append("- B: in the first 200 generator steps with k = 1, D(G(z)) stays near 1/2 and the two losses' gradients "
               "are alike; the difference needs a confident discriminator.")
    return out


def write_markdown(args, a, b, c, acc, wall, path: Path) -> None:
    cmd = (f".venv/bin/python bench/gan_losses.py --epochs {args.epochs} --seeds {args.seeds} --lr {args.lr} "
           f"--g-steps {args.g_steps} --strong-d {' '.join(map(str, args.strong_d))}")
    lines = [
        "# GAN generator loss: minimax vs non-saturating (MNIST, MLP GAN)", "",
        f"Command: `{cmd.strip()}`  ",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores shared with other jobs, 1 torch thread; "
        f"torch {torch.__version__}. Wall time of the last invocation {wall / 60:.1f} min (training runs already in "
        "WORK are reused, see C for their time).  ",
        f"Model: `latentlab train gan` defaults (MLP 64 -> 256 -> 256 -> 784, D 784 -> 256 -> 256 -> 1), batch 64, "
        f"Adam lr {args.lr} betas (0.5, 0.999), the same initial weights for both losses.", "",
        "## Reading", "", *findings(a, c, args.epochs), "",
        "## A. Saturation: the generator's gradient as D learns to reject its samples", "",
        "D trained alone (the generator frozen at its initial weights); gradient norm of each generator loss "
        "w.r.t. all generator weights on one batch of 512 z.", "",
        "| D steps | mean D(G(z)) | minimax grad norm | non-saturating grad norm | NS / minimax |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in a:
        lines.append(f"| {r['d_steps']} | {r['d_fake']:.4f} | {r['minimax']:.3g} | {r['non-saturating']:.3g} | "
                     f"{r['non-saturating'] / max(r['minimax'], 1e-30):.3g} |")
    lines += ["", f"## B. The first {args.g_steps} generator steps of training (the loop's `Trainer.step`, k = 1)", "",
              "| loss | mean grad norm, steps 1-10 | steps 1-50 | steps 51-end | mean D(G(z)), steps 1-50 |", "|---|---:|---:|---:|---:|"]
    for kind in LOSSES:
        g = np.array([r["grad"] for r in b[kind]])
        d = np.array([r["d_fake"] for r in b[kind]])
        lines.append(f"| {kind} | {g[:10].mean():.3g} | {g[:50].mean():.3g} | {g[50:].mean():.3g} | {d[:50].mean():.3f} |")
    lines += ["", f"## C. Training runs: {args.epochs} epochs of `latentlab train gan`", "",
              f"k = 1 (a discriminator step, then a generator step): {args.seeds} seed(s) per loss, mean ± sd over seeds; "
              f"k = {', '.join(map(str, args.strong_d)) or '-'} (the discriminator steps k times per generator step, so it "
              "stays ahead): seed 0. FD: Frechet distance between 5000 samples and the 10000 test images in the 128-d "
              f"feature space of latentlab's MNIST evaluation classifier (`latentlab.evaluation.classifier`, test accuracy "
              f"{acc:.1%}; 10000 training images vs the test images give {c['_floor']:.3g}). Modes: digit classes holding >= 2% of "
              "the 5000 samples by that classifier. D(G(z)): mean over the epoch's generator steps.", ""]
    names = [n for n in c if n != "_floor"]
    for key, what in (("fd", "FD (lower is better)"), ("modes", "modes covered (of 10)"), ("d_fake_train", "mean D(G(z))"),
                      ("signal", "||d loss_G / d G(z)|| per image, mean over the epoch's generator steps (`train_generator/grad_norm`)")):
        lines += [f"**{what}**", "", "| epoch | " + " | ".join(names) + " |", "|---:|" + "---:|" * len(names)]
        for e in range(args.epochs):
            lines.append(f"| {e + 1} | " + " | ".join(mean_sd([rows[e][key] for rows in c[n]]) for n in names) + " |")
        lines.append("")
    secs = [r["seconds"] for n in names for rows in c[n] for r in rows]
    lines += [f"Training time: {np.sum(secs) / 60:.1f} min over {len(secs)} epochs, {np.mean(secs):.1f} s per epoch "
              "(54000 images, batch 64, shared CPU).", "",
              "Plot: `gan_losses.png` (A, B, C; dashed: k > 1); last-epoch samples of every loss and k (seed 0): "
              "`gan_losses_samples.png`.", "",
              "Context only: Lucic et al. 2018 report Inception-feature FIDs (NS GAN 6.8 MNIST / 26.5 Fashion-MNIST, "
              "WGAN 6.7 / 21.5) after far longer training; those numbers live in another feature space and are "
              "not comparable with the FDs above.", ""]
    lines += FAMILY
    path.write_text("\n".join(lines))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("LATENTLAB_TEST_MNIST", "../shared/data/mnist"))
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--g-steps", type=int, default=200, help="generator steps measured in B")
    p.add_argument("--strong-d", type=int, nargs="*", default=[5], help="further k (d_steps) values for C, seed 0 only")
    p.add_argument("--work", default="/tmp/latentlab-bench-gan-losses", help="folder for the run folders")
    p.add_argument("--replot", action="store_true", help="only redo the table and plots from WORK/results.json")
    args = p.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.replot:
        saved = json.loads((work / "results.json").read_text())
        report(saved["args"], saved["a"], saved["b"], saved["c"], saved["acc"], saved["wall"], work)
        return
    data = latentlab.load_dataset("mnist", data_dir=args.data_dir, val_fraction=0.1, seed=0)
    evaluator = get_evaluator("mnist", data_dir=args.data_dir)  # trained once (minutes), then cached
    acc = evaluator.test_accuracy
    real_feats = evaluator.features(data.test.x)
    floor = frechet_distance(evaluator.features(data.train.x[:10000]), real_feats)
    print(f"evaluator {evaluator.sha256[:12]} test accuracy {acc:.3f}; FD train vs test {floor:.3g}", flush=True)
    a = experiment_a(data, args.lr)
    print("A", a, flush=True)
    b = experiment_b(data, args.lr, args.g_steps)
    c = experiment_c(args, evaluator, real_feats, work)
    c["_floor"] = floor
    saved = {"args": vars(args), "a": a, "b": b, "c": c, "acc": acc, "wall": time.perf_counter() - started,
             "argv": sys.argv[1:]}
    (work / "results.json").write_text(json.dumps(saved))
    report(saved["args"], a, b, c, acc, saved["wall"], work)


def report(args: dict, a, b, c, acc, wall, work: Path) -> None:
    args = argparse.Namespace(**args)
    plot(a, b, c, RESULTS / "gan_losses.png")
    save_samples(work, [n for n in c if n != "_floor"], RESULTS / "gan_losses_samples.png")
    write_markdown(args, a, b, c, acc, wall, RESULTS / "gan_losses.md")
    print(RESULTS / "gan_losses.md")


if __name__ == "__main__":
    main()
