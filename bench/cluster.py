"""Clustering benchmark: k-means on raw pixels against clustering the latent means of an AE.

DEC's protocol (Xie et al. 2016): all 70,000 images (train, validation and test together),
k = 10, clustering accuracy (Hungarian matching), NMI and ARI.

    python bench/cluster.py --dataset mnist --epochs 10

The AE is trained on the training split with latentlab (run folder bench/_work/cluster-ae-DATASET,
reused when it exists); each run writes bench/_work/cluster-DATASET.json and rewrites
bench/results/cluster.md from every such file present.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from common import ROOT, RESULTS, WORK, copy_figure
MNIST_DIR = "../shared/data/mnist"
TARGET = "MNIST target: accuracy ≥ 90% and NMI ≥ 85%."


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="mnist", choices=("mnist", "fashion-mnist"))
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--latent-dim", type=int, default=10)
    p.add_argument("--methods", nargs="+", default=["kmeans", "gmm", "spectral"])
    p.add_argument("--umap", action=argparse.BooleanOptionalAction, default=True,
                   help="also UMAP of the latent means + GMM (N2D, McConville et al. 2020); needs umap-learn")
    p.add_argument("--raw-n-init", type=int, default=3, help="k-means restarts on raw pixels (slow: 784 dims)")
    args = p.parse_args()
    torch.set_num_threads(1)
    import latentlab
    from latentlab.analysis.cluster import cluster, cluster_run, clustering_scores, latent_codes, split_images
    started = time.perf_counter()
    data_dir = MNIST_DIR if args.dataset == "mnist" else None
    run_dir = WORK / f"cluster-ae-{args.dataset}"
    settings = dict(arch="mlp", latent_dim=args.latent_dim, hidden=500, layers=2, epochs=args.epochs, batch_size=128)
    t, train_s = time.perf_counter(), None  # None: the run folder of an earlier invocation was reused
    if not (run_dir / "model.safetensors").exists():
        latentlab.train("ae", dataset=args.dataset, data_dir=data_dir, out=str(run_dir), progress=False, **settings)
        train_s = time.perf_counter() - t
    rows, seconds = {}, {}
    data = latentlab.load_dataset(args.dataset, data_dir)
    x, y = split_images(data, "all")
    labels = y.numpy()

    def save(name: str, scores: dict, since: float) -> None:
        """Add one row and rewrite the JSON and the Markdown (a late failure keeps the rows before it)."""
        rows[name], seconds[name] = scores, time.perf_counter() - since
        print(name, scores, flush=True)
        record = {"command": "python " + " ".join([sys.argv[0], *sys.argv[1:]]), "dataset": args.dataset, "points": len(x),
                  "run": str(run_dir.relative_to(ROOT.parent)), "settings": settings, "rows": rows, "seconds": seconds,
                  "train_s": train_s, "wall_s": time.perf_counter() - started,
                  "machine": f"{platform.machine()}, 1 torch thread, shared 2-core VM, torch {torch.__version__}"}
        (WORK / f"cluster-{args.dataset}.json").write_text(json.dumps(record, indent=1))
        write_markdown()

    t = time.perf_counter()
    save("k-means on raw pixels", clustering_scores(labels, cluster(x.flatten(1).numpy(), 10, "kmeans", n_init=args.raw_n_init)), t)
    for method in args.methods:
        t = time.perf_counter()
        (r,) = cluster_run(run_dir, 10, [method], "all", out=WORK / f"cluster-{args.dataset}")
        save(f"AE latent + {method}", r.scores, t)
    if args.umap:  # benchmark only: umap-learn is not a latentlab dependency
        import umap
        t = time.perf_counter()
        codes = latent_codes(latentlab.load(run_dir), x)
        embedded = umap.UMAP(n_components=10, n_neighbors=20, min_dist=0.0, random_state=0, n_jobs=1).fit_transform(codes)
        save("AE latent + UMAP (10-D) + GMM", clustering_scores(labels, cluster(embedded, 10, "gmm")), t)


def train_minutes(run_dir: Path) -> float:
    """Training wall time of a run folder: the sum of its epochs' seconds in metrics.jsonl."""
    from latentlab.training.run_folder import read_metrics
    return sum(row["seconds"] for row in read_metrics(run_dir)) / 60


def write_markdown() -> None:
    parts = ["# Clustering (DEC protocol: all 70,000 images, k = 10)\n",
             "Clustering accuracy: best one-to-one matching of clusters to labels (Hungarian method). "
             "Published: k-means on raw MNIST pixels ≈ 53%; autoencoder + k-means 82-88% in reimplementations of DEC's baseline. "
             f"{TARGET}\n"]
    for name in ("mnist", "fashion-mnist"):
        path = WORK / f"cluster-{name}.json"
        if not path.exists():
            continue
        r = json.loads(path.read_text())
        st = r["settings"]
        parts.append(f"## {name}\n\n`{r['command']}`\n\n"
                     f"Machine: {r['machine']}; wall time {r['wall_s'] / 60:.1f} min for the clustering"
                     + (f" (+ {r['train_s'] / 60:.1f} min training the AE)" if r["train_s"] else
                        f" (+ {train_minutes(ROOT.parent / r['run']):.1f} min training the AE, by an earlier invocation "
                        f"whose run folder {r['run']} was reused)")
                     + " on a machine shared with other "
                     f"jobs (load average 15-25 on 2 cores): times are wall-clock under contention.\n\n"
                     f"AE: `latentlab train ae --arch {st['arch']} --latent-dim {st['latent_dim']} --hidden {st['hidden']} "
                     f"--layers {st['layers']} --epochs {st['epochs']}` on the training split (BCE). "
                     f"Spectral: k-means on the 10 leading eigenvectors of the normalised 10-NN graph of the latent means. "
                     f"UMAP + GMM (benchmark only, `umap-learn`): 10-D UMAP (20 neighbours, min_dist 0) of the latent means, "
                     f"then a full-covariance GMM, as in N2D (McConville et al. 2020). k-means on raw pixels: 3 restarts.\n")
        rows = ["| method | accuracy % | NMI % | ARI % | seconds |", "|---|---|---|---|---|"]
        for method, s in r["rows"].items():
            rows.append(f"| {method} | {100 * s['accuracy']:.1f} | {100 * s['nmi']:.1f} | {100 * s['ari']:.1f} | {r['seconds'][method]:.0f} |")
        parts.append("\n".join(rows) + "\n")
        if name == "mnist":
            best = max(r["rows"].items(), key=lambda kv: kv[1]["accuracy"])
            lib = {k: v for k, v in r["rows"].items() if "UMAP" not in k and "raw" not in k}
            lib_best = max(lib.items(), key=lambda kv: kv[1]["accuracy"])
            met = best[1]["accuracy"] >= 0.90 and best[1]["nmi"] >= 0.85
            parts.append(f"Target (accuracy ≥ 90%, NMI ≥ 85%): **{'met' if met else 'NOT met'}** by {best[0]} "
                         f"({100 * best[1]['accuracy']:.1f}% / {100 * best[1]['nmi']:.1f}%), which needs `umap-learn` "
                         f"(benchmark only). With latentlab's own methods the best is {lib_best[0]} "
                         f"({100 * lib_best[1]['accuracy']:.1f}% / {100 * lib_best[1]['nmi']:.1f}%): NOT met. "
                         f"AE + k-means stays below the published 82-88% because this AE trained 10 epochs "
                         f"(≈4,200 steps) where DEC pretrains its 500-500-2000-10 AE layer-wise (50,000 iterations per layer) and fine-tunes it for 100,000 iterations.\n")
        figures = [copy_figure(WORK / f"cluster-{name}" / f, f"cluster-{name}-{f}")
                   for f in ("clusters-spectral-all-k10.png", "clusters-labels-all.png")]
        if any(figures):
            parts.append("Latent means (PCA, first 10,000 images) coloured by spectral cluster and by true label: "
                         + ", ".join(f"[{f}]({f})" for f in figures if f) + "\n")
    text = "\n".join(parts)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cluster.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
