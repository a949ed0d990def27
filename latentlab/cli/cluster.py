"""latentlab cluster RUN: cluster the latent means of a trained AE/VAE (see latentlab.analysis.cluster).

    latentlab cluster runs/ae-mnist --method kmeans gmm spectral umap-gmm --split all

Each stage is a line on stderr as it starts (encoding, then each method: spectral clustering of 70,000
codes takes minutes); the results go to stdout.
"""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction, help: str) -> None:
    from latentlab.analysis.cluster import RUN_METHODS
    p = sub.add_parser("cluster", help=help, description="k-means, Gaussian mixture, spectral or UMAP + mixture (N2D) clustering of the latent means; clustering "
                                   "accuracy (Hungarian matching), NMI and ARI when the data has labels. Writes "
                                   "clusters.json, clusters-METHOD.npy and latent scatters coloured by cluster and by label, named after the "
                                   "request (clusters-METHOD-SPLIT-kK.png, clusters-labels-SPLIT.png). Each stage is a "
                                   "line on stderr as it starts.")
    p.add_argument("run", metavar="RUN", help="run folder of an ae or vae")
    p.add_argument("--k", type=int, default=None, help="number of clusters (default: the number of classes)")
    p.add_argument("--method", dest="methods", nargs="+", choices=RUN_METHODS, default=["kmeans"],
                   help="clustering method(s); umap-gmm: a Gaussian mixture on a UMAP embedding of the codes (N2D; "
                        "needs the cluster extra, umap-learn); model: the clusters a vade run learned itself")
    p.add_argument("--split", choices=("all", "train", "val", "test"), default="all",
                   help="images to cluster; all = train, validation and test together (DEC's protocol)")
    p.add_argument("--neighbors", type=int, default=None,
                   help="neighbours per point of the graph of spectral (default 10) and umap-gmm (default 20)")
    p.add_argument("--seed", type=int, default=0, help="seed of the clustering")
    p.add_argument("--which", choices=("last", "best"), default="last", help="checkpoint to load")
    p.add_argument("--data-dir", default=None, help="where the run's dataset lives, if it moved")
    p.add_argument("--out", default=None, help="folder for the results (default: the run folder)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from latentlab.analysis.cluster import cluster_run
    out = args.out or args.run
    results = cluster_run(args.run, args.k, args.methods, args.split, args.seed, args.which, args.data_dir, out, args.neighbors)
    for r in results:
        if r.scores is None:
            sizes = ", ".join(str(n) for n in sorted(np.bincount(r.labels, minlength=r.k), reverse=True))
            print(f"{r.method:<9} k={r.k}  cluster sizes {sizes}")
        else:
            print(f"{r.method:<9} k={r.k}  accuracy {100 * r.scores['accuracy']:.2f}%  NMI {100 * r.scores['nmi']:.2f}%  "
                  f"ARI {100 * r.scores['ari']:.2f}%")
    if results and results[0].scores is None:
        print("accuracy, NMI and ARI need labels: this dataset has none, so only the clusters were written")
    print(f"  {out}/clusters.json")
    for r in results:
        print(f"  {r.picture}")
    return 0
