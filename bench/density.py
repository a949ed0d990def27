"""Gaussian and kernel-density baselines on MNIST, in pixel space and in a VAE's latent space (issue 14).

The lecture's point (000): explicit densities are easy in a few dimensions and poor in 784. Both
models are fitted in closed form by ``latentlab.train("gaussian" | "kde", ...)`` (one epoch, the
models' defaults: ridge 1e-3 on the covariance; the KDE's bandwidth chosen on 10% of the training
images held out, 10,000 kernel centres) on the 54,000 training images of the usual split.

pixel space   test log-likelihood of all 10,000 test images, two ways:
                log p(x)   the models' density of the grey levels x in [0, 1]^784 (``log_prob``), in
                           nats per image: a density, so it can be positive; comparable only with
                           other densities of the same [0, 1] grey levels
                8-bit      the 0..255 grey levels k, uniformly dequantized, y = (k + u) / 256 with
                           u ~ U[0, 1)^784 (one draw, seed 0): E_u log p(y) - 784 log 256 is a lower
                           bound on the log-probability of the discrete 8-bit image (Theis et al.
                           2016, section 3.1); reported as -log in nats per image and in bits/dim,
                           -(log p(y) - 784 log 256) / (784 log 2). 8 bits/dim is a uniform guess.
latent space  a VAE (``latentlab train vae`` defaults: MLP 784-512-16, Bernoulli decoder) trained
              here; its posterior means E[z|x] of the training / validation / test images are the
              data (a tabular (N, 16) dataset), and the same two models are fitted on them with
              ``latentlab.train`` (the KDE with wider bandwidth candidates: codes spread about 1,
              not 0.1). Their test log p(z) is a density of 16-d codes: it says how well each
              model fits the codes, not how likely the images are.
yardstick     10,000 samples of each model (seed 0) scored against the test images by the shipped
              evaluation classifier (``latentlab.evaluation.samples.score``: Frechet distance,
              precision / recall, classes covered, recognisable share), the same numbers as
              ``latentlab eval RUN --samples 10000``. Latent-space samples are codes drawn from the
              fitted density and decoded by the VAE (mean images). Beside them: the VAE's own samples
              (the prior N(0, I) decoded), the decoded posterior means of 10,000 training images (the
              best any density of these codes can give through this decoder), and 10,000 training
              images (the floor).

Anchors (8-bit MNIST, dequantized, bits/dim; Grathwohl et al. 2019, FFJORD, Table 2): Real NVP 1.06,
Glow 1.05, FFJORD 0.99. Binarized MNIST, exact or importance-sampled NLL, nats (other data: a
probability of binary pixels, not comparable with the densities above), quoted from this folder's
results, not rerun: PixelCNN 95.05 after 9 CPU-minutes (pixelcnn.md), Burda et al.'s VAE 95.10 after
12 minutes (likelihood.md); published: PixelCNN 81.30 (van den Oord et al. 2016), VAE 86.76 (Burda et
al. 2015). Target (issue 14): the figures measured and shown beside each other, pixel and latent space.

    python bench/density.py [--threads 2 --vae-epochs 30 --data-dir ../shared/data/mnist]
    python bench/density.py --quick     (the bundled digits, a 3-epoch VAE: a smoke test, under a minute)

Writes bench/results/density.md and density_samples.png (one row of samples per model; --quick:
bench/_work/density-quick.md and .png). Runs and per-model results are kept in
bench/_work/density/<settings>/: a rerun only does what is missing.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch

import latentlab
from latentlab.data import Dataset, Split, load_dataset
from latentlab.evaluation.classifier import get_evaluator
from latentlab.evaluation.samples import draw, score
from latentlab.training.run_folder import read_metrics
from latentlab.viz.plots import save_grid

from common import load_average  # noqa: E402  (bench/ is on sys.path)

ROOT = Path(__file__).resolve().parent
WORK, RESULTS = ROOT / "_work", ROOT / "results"
LATENT_BANDWIDTHS = "0.02,0.03,0.05,0.07,0.1,0.15,0.2,0.3,0.5,0.7,1"  # codes spread about 1 per dimension
ANCHORS_8BIT = [("Real NVP (Dinh et al. 2017), as reported by Grathwohl et al. 2019, Table 2", 1.06),
                ("Glow (Kingma and Dhariwal 2018), ibid.", 1.05), ("FFJORD (Grathwohl et al. 2019)", 0.99)]
BINARIZED = [  # (model, test NLL nats, where it comes from): quoted, not rerun
    ("latentlab `pixelcnn`, 9 CPU-minutes (exact)", 95.05, "pixelcnn.md"),
    ("latentlab `vae`, Burda et al.'s network, 12 minutes (k = 5000)", 95.10, "likelihood.md"),
    ("latentlab `vae --objective iwae --k 5`, 12 minutes (k = 5000)", 94.69, "likelihood.md"),
    ("PixelCNN, van den Oord et al. 2016 (published)", 81.30, "pixelcnn.md"),
    ("VAE, Burda et al. 2015 (published)", 86.76, "likelihood.md"),
]
SHIPPED = ("digits", "mnist", "fashion-mnist")
FIGURE_ROWS = ("gaussian-pixels", "kde-pixels", "gaussian-latent", "kde-latent", "vae-prior", "decoded-codes")


def cached(path: Path, make) -> dict:
    """The JSON at ``path``, or ``make()`` written there."""
    if path.is_file():
        print(f"{path.name} (kept)", flush=True)
        return json.loads(path.read_text())
    result = make()
    path.write_text(json.dumps(result, indent=1))
    print(path.name, {k: v for k, v in result.items() if not isinstance(v, dict)}, flush=True)
    return result


def fit(name: str, data: Dataset, run_dir: Path, **settings):
    """A fitted density model (trained here, or loaded when its run folder holds the finished epoch)."""
    if len(read_metrics(run_dir) if run_dir.is_dir() else []) >= 1:
        return latentlab.load(run_dir)
    return latentlab.train(name, data=data, out=str(run_dir), progress=False, device="cpu", **settings).model


@torch.no_grad()
def mean_se(values: torch.Tensor) -> tuple[float, float]:
    v = values.double()
    return float(v.mean()), float(v.std() / math.sqrt(len(v))) if len(v) > 1 else 0.0


@torch.no_grad()
def log_probs(model, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    return torch.cat([model.log_prob(b).double() for b in x.split(batch)])


@torch.no_grad()
def dequantized(x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """(k + u) / 256 for the 8-bit grey levels k = round(255 x), u ~ U[0, 1) drawn with ``seed``."""
    u = torch.rand(x.shape, generator=torch.Generator().manual_seed(seed))
    return ((x * 255).round() + u) / 256


@torch.no_grad()
def draw_codes(model, n: int, seed: int) -> torch.Tensor:
    """n codes (n, D) from a density fitted on codes, without the clamp to [0, 1] that ``sample`` applies
    to images: Gaussian mu + L eps; KDE a centre plus h eps (the models' own sampling rules)."""
    g = torch.Generator().manual_seed(seed)
    eps = torch.randn(n, model.dim, generator=g, dtype=torch.float64)  # (n, D)
    if model.name == "gaussian":
        return (model.mean + eps @ model.chol.T).float()
    idx = torch.randint(len(model.points), (n,), generator=g)
    return (model.points[idx].double() + model.bandwidth * eps).float()


def yardstick(images: torch.Tensor, ctx) -> dict:
    started = time.perf_counter()
    out = score(ctx.evaluator, images, ctx.eval_data.test, ctx.eval_data.train, seed=0, memo=ctx.memo)
    return {**out, "score_seconds": time.perf_counter() - started}


def pixel_row(name: str, ctx, args) -> dict:
    started = time.perf_counter()
    settings = {"max_points": args.kde_points} if name == "kde" else {}
    model = fit(name, ctx.data, args.work / f"{name}-pixels", **settings)
    fit_s = time.perf_counter() - started
    test = ctx.data.test.x
    lp = mean_se(log_probs(model, test))
    lq = mean_se(log_probs(model, dequantized(test)) - test[0].numel() * math.log(256))
    dim = test[0].numel()
    images = draw(model, args.samples, None, seed=0, batch_size=1000)
    ctx.pictures[f"{name}-pixels"] = images[:args.picture]
    return {"space": "pixels", "model": name, "dim": dim, "fit_seconds": fit_s,
            "bandwidth": float(model.bandwidth) if name == "kde" else None,
            "candidates": model.candidates.tolist() if name == "kde" else None,
            "test_log_p": lp[0], "test_log_p_se": lp[1],
            "test_nll_8bit": -lq[0], "test_nll_8bit_se": lq[1], "bits_per_dim_8bit": -lq[0] / (dim * math.log(2)),
            "yardstick": yardstick(images, ctx)}


def latent_row(name: str, ctx, args) -> dict:
    started = time.perf_counter()
    settings = {"max_points": args.kde_points, "bandwidths": LATENT_BANDWIDTHS} if name == "kde" else {}
    model = fit(name, ctx.codes, args.work / f"{name}-latent", **settings)
    fit_s = time.perf_counter() - started
    lp = mean_se(log_probs(model, ctx.codes.test.x))
    z = draw_codes(model, args.samples, seed=0)  # (N, latent)
    images = torch.cat([ctx.vae.decode(b) for b in z.split(1000)])
    ctx.pictures[f"{name}-latent"] = images[:args.picture]
    return {"space": "latent", "model": name, "dim": model.dim, "fit_seconds": fit_s,
            "bandwidth": float(model.bandwidth) if name == "kde" else None,
            "candidates": model.candidates.tolist() if name == "kde" else None,
            "test_log_p": lp[0], "test_log_p_se": lp[1], "yardstick": yardstick(images, ctx)}


def train_vae(ctx, args):
    run_dir = args.work / "vae"
    if len(read_metrics(run_dir) if run_dir.is_dir() else []) >= args.vae_epochs:
        return latentlab.load(run_dir)
    started = time.perf_counter()
    run = latentlab.train("vae", data=ctx.data, out=str(run_dir), epochs=args.vae_epochs, seed=0, progress=False, device="cpu")
    print(f"vae: {args.vae_epochs} epochs in {(time.perf_counter() - started) / 60:.1f} min", flush=True)
    return run.model


@torch.no_grad()
def code_dataset(vae, data: Dataset) -> Dataset:
    """The posterior means E[z|x] of every split, as a tabular dataset (N, 1, 1, latent)."""
    def codes(split: Split) -> Split:
        z = torch.cat([vae.latent(b) for b in split.x.split(1000)])  # (N, latent)
        return Split(z.view(len(z), 1, 1, -1), split.y)
    return Dataset(f"{data.name}-vae-codes", codes(data.train), codes(data.val), codes(data.test), data.classes)


class Context:
    pass


def run_all(args) -> dict:
    ctx = Context()
    ctx.data = load_dataset(args.dataset, args.data_dir, seed=0)
    ctx.eval_data = load_dataset(args.dataset, args.data_dir, val_fraction=0.0, seed=0)  # the floor's pool, as `latentlab eval`
    ctx.evaluator = get_evaluator(args.dataset if args.dataset in SHIPPED else ctx.eval_data)
    ctx.memo, ctx.pictures = {}, {}
    rows = {}
    for name in ("gaussian", "kde"):
        rows[f"{name}-pixels"] = cached(args.work / f"{name}-pixels.json", lambda: pixel_row(name, ctx, args))
    ctx.vae = train_vae(ctx, args).eval()
    ctx.codes = code_dataset(ctx.vae, ctx.data)
    for name in ("gaussian", "kde"):
        rows[f"{name}-latent"] = cached(args.work / f"{name}-latent.json", lambda: latent_row(name, ctx, args))

    def vae_prior() -> dict:
        images = draw(ctx.vae, args.samples, None, seed=0, batch_size=1000)
        ctx.pictures["vae-prior"] = images[:args.picture]
        return {"space": "latent", "model": "VAE prior N(0, I)", "yardstick": yardstick(images, ctx)}

    def decoded_codes() -> dict:
        pick = torch.randperm(len(ctx.codes.train), generator=torch.Generator().manual_seed(0))[:args.samples]
        z = ctx.codes.train.x[pick].flatten(1)
        images = torch.cat([ctx.vae.decode(b) for b in z.split(1000)])
        ctx.pictures["decoded-codes"] = images[:args.picture]
        return {"space": "latent", "model": "decoded training codes", "yardstick": yardstick(images, ctx)}

    rows["vae-prior"] = cached(args.work / "vae-prior.json", vae_prior)
    rows["decoded-codes"] = cached(args.work / "decoded-codes.json", decoded_codes)
    for key, images in ctx.pictures.items():  # drawn by this invocation: kept for the figure of later ones
        torch.save(images, args.work / f"picture-{key}.pt")
    kept = [k for k in FIGURE_ROWS if (args.work / f"picture-{k}.pt").is_file()]
    if kept:  # one row of samples per model
        save_grid(torch.cat([torch.load(args.work / f"picture-{k}.pt") for k in kept]), args.figure, nrow=args.picture)
    args.figure_rows = kept
    return rows


def report(args, rows: dict, command: str, load: tuple[str, str], wall: float) -> str:
    first = next(iter(rows.values()))["yardstick"]
    dim = rows["gaussian-pixels"]["dim"]
    latent = rows["gaussian-latent"]["dim"]
    lines = [f"## Gaussian and kernel-density baselines: pixel space and a VAE's latent space ({args.dataset})", "",
             f"Command: `{command}`  ",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, torch "
             f"{torch.__version__}; {time.strftime('%Y-%m-%d')}; load average {load[0]} at the start, {load[1]} at the end "
             f"(1 / 5 / 15 min); {wall / 60:.1f} min wall for this invocation (parts kept from an earlier one are not "
             "timed again).  ",
             f"Models: `latentlab train gaussian` and `latentlab train kde --max-points {args.kde_points}` (defaults otherwise) "
             f"on the {dim}-d pixels; the same two on the {latent}-d posterior means of `latentlab train vae --epochs "
             f"{args.vae_epochs}` (defaults), the KDE with bandwidths {LATENT_BANDWIDTHS}. Test: all "
             f"{first['samples_reference']:,} test images.  ",
             f"Yardstick: {first['samples_n']:,} samples per row (seed 0) against the test images in the shipped "
             f"{first['evaluator_dataset']} evaluator's features (sha256 `{first['evaluator_sha256'][:16]}...`); floor: "
             f"{first['samples_n']:,} training images, FD {first.get('samples_fd_floor', float('nan')):.2f}, precision "
             f"{first.get('samples_precision_floor', float('nan')):.3f}, recall {first.get('samples_recall_floor', float('nan')):.3f}.",
             "", "**Test log-likelihood**", "",
             "| space | model | bandwidth | test log p (nats per image or code) | 8-bit: -log p, nats (bound) | 8-bit bits/dim | fit s |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for key in ("gaussian-pixels", "kde-pixels", "gaussian-latent", "kde-latent"):
        r = rows[key]
        bw = f"{r['bandwidth']:g}" if r.get("bandwidth") else "-"
        eight = (f"{r['test_nll_8bit']:.1f} ± {r['test_nll_8bit_se']:.1f} | {r['bits_per_dim_8bit']:.3f}"
                 if r["space"] == "pixels" else "- | -")
        lines.append(f"| {r['space']} ({r['dim']}-d) | {r['model']} | {bw} | {r['test_log_p']:.1f} ± {r['test_log_p_se']:.1f} | "
                     f"{eight} | {r['fit_seconds']:.0f} |")
    for name, bpd in ANCHORS_8BIT if args.dataset == "mnist" else []:
        lines.append(f"| pixels, published | {name} | - | - | {bpd * dim * math.log(2):.0f} | {bpd:.2f} | - |")
    edges = [f"{r['space']} {r['model']} ({r['bandwidth']:g})" for r in rows.values()
             if r.get("bandwidth") and r["bandwidth"] in (min(r["candidates"]), max(r["candidates"]))]
    lines += ["", f"Latent rows: log p(z) of the {first['samples_reference']:,} test codes, a density of codes, not of "
                  "images: it ranks the two models on the codes, and says nothing about the images' likelihood."
              + (f" Bandwidth at the edge of its candidates: {', '.join(edges)}; widen the list." if edges else ""), "",
              "For reference, binarized MNIST (the probability of binary pixels, another dataset: not comparable with "
              "the densities above); quoted from the files named, not rerun:", "",
              "| model | test NLL (nats) | bits/dim | source |", "|---|---:|---:|---|"]
    for name, nats, source in BINARIZED:
        lines.append(f"| {name} | {nats:.2f} | {nats / (784 * math.log(2)):.3f} | `{source}` |")
    lines += ["", "**Yardstick: the samples**", "",
              "| space | model | FD ↓ | precision ↑ | recall ↑ | coverage ↑ | classes covered | recognisable |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows.values():
        y = r["yardstick"]
        lines.append(f"| {r['space']} | {r['model']} | {y['samples_fd']:.2f} | {y['samples_precision']:.3f} | "
                     f"{y['samples_recall']:.3f} | {y['samples_coverage']:.3f} | {y['samples_classes_covered']}/{y['samples_classes']} | "
                     f"{100 * y['samples_recognisable']:.1f}% (test images {100 * y['samples_recognisable_ceiling']:.1f}%) |")
    if args.figure_rows:
        lines += ["", f"Figure: `{args.figure.name}`, one row of samples per model, top to bottom: "
                      f"{', '.join(args.figure_rows)}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="mnist", help="mnist (default), fashion-mnist, digits, ...")
    p.add_argument("--data-dir", default=None, help="folder of the dataset's files (e.g. ../shared/data/mnist)")
    p.add_argument("--vae-epochs", type=int, default=30, help="epochs of the VAE whose latent space is used")
    p.add_argument("--kde-points", type=int, default=10_000, help="kernel centres of the KDEs (the model's --max-points)")
    p.add_argument("--samples", type=int, default=10_000, help="samples per model for the yardstick")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--quick", action="store_true", help="smoke test: digits, a 3-epoch VAE, 300 samples; "
                                                        "writes bench/_work/density-quick.md")
    args = p.parse_args()
    if args.quick:
        args.dataset, args.vae_epochs, args.samples = "digits", 3, 300
    args.picture = 16  # samples per model in the figure
    torch.set_num_threads(args.threads)
    name = "density-quick" if args.quick else "density" if args.dataset == "mnist" else f"density-{args.dataset}"
    args.work = WORK / name / f"vae{args.vae_epochs}-kde{args.kde_points}-n{args.samples}"
    args.work.mkdir(parents=True, exist_ok=True)
    out_dir = WORK if args.quick else RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    args.figure = out_dir / f"{name}_samples.png"
    load_start, started = load_average(), time.perf_counter()
    rows = run_all(args)
    text = report(args, rows, " ".join(["python bench/density.py", *sys.argv[1:]]), (load_start, load_average()),
                  time.perf_counter() - started)
    out = out_dir / f"{name}.md"
    out.write_text(text)
    print(text)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
