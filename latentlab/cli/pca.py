"""latentlab pca: a linear autoencoder against PCA-k (see latentlab.analysis.linear).

    latentlab pca RUN                          compare a trained autoencoder run with PCA-k
    latentlab pca --k 10 --dataset digits      train a linear AE (arch linear, recon mse) first, then compare

Prints the reconstruction MSE of both (training and test split), the principal
angles between the decoder's column space and the top-k principal directions, and
the largest angle the excess training error guarantees; merges them into RUN/eval_pca.json.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction, help: str) -> None:
    p = sub.add_parser("pca", help=help, description="Compare a (linear) autoencoder run with PCA-k: reconstruction MSE of both and the "
                                   "principal angles between the decoder's column space and the top-k principal directions. "
                                   "Give a RUN, or --k to train a linear autoencoder first.")
    p.add_argument("run", metavar="RUN", nargs="?", default=None, help="run folder of an autoencoder (omit it with --k)")
    p.add_argument("--k", type=int, default=None, help="train a linear AE with k latents first (instead of RUN)")
    t = p.add_argument_group("training (with --k)")
    t.add_argument("--dataset", default="digits", help="dataset to train on (default digits)")
    t.add_argument("--data-dir", default=None, help="folder holding the dataset's files")
    t.add_argument("--epochs", type=int, default=20, help="epochs (default 20)")
    t.add_argument("--batch-size", type=int, default=32, help="images per step (default 32)")
    t.add_argument("--optimizer", choices=("sgd", "adam", "rmsprop"), default="sgd",
                   help="optimiser (default sgd, momentum 0.9: on digits' few hundred steps it gets to PCA's subspace far sooner "
                        "than Adam, whose steps are capped near lr)")
    t.add_argument("--lr", type=float, default=0.01, help="learning rate (default 0.01; MNIST (784 pixels) needs about 0.002)")
    t.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    t.add_argument("--out", default=None, help="run folder to write (default runs/ae-DATASET-TIME)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentlab.errors import LatentlabError
    from latentlab.analysis.linear import compare_pca, train_linear_ae
    from latentlab.viz.plots import write_report
    from latentlab.training.run_folder import read_metrics, write_json
    if (args.run is None) == (args.k is None):
        raise LatentlabError("give either a RUN folder to compare, or --k K to train a linear autoencoder with K latents first")
    if args.k is not None:
        if args.k < 1:
            raise LatentlabError(f"--k must be at least 1, got {args.k}")
        trained = train_linear_ae(args.k, dataset=args.dataset, data_dir=args.data_dir, epochs=args.epochs,
                                  batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr, seed=args.seed,
                                  out=args.out, progress=False)
        run_dir = trained.dir
        print(f"run folder: {run_dir}")
    else:
        run_dir = Path(args.run)
    result = compare_pca(run_dir)
    write_json(run_dir / "eval_pca.json", result.to_dict())
    write_report(run_dir, read_metrics(run_dir))
    print(result.summary())
    return 0
