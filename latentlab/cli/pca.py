"""latentlab pca: a linear autoencoder against PCA-k (see latentlab.analysis.linear).

    latentlab pca RUN                          compare a trained autoencoder run with PCA-k
    latentlab pca --k 10 --dataset digits      train a linear AE (arch linear, recon mse) first, then compare

Prints the reconstruction MSE of both (training and test split), the principal
angles between the decoder's column space and the top-k principal directions, and
the largest angle the excess training error guarantees; merges them into RUN/eval_pca.json.
Draws RUN/pca-components-k<k>.png (PCA's k directions; the linear AE's decoder columns; their
span rotated to match PCA's, by orthogonal Procrustes) and RUN/pca-reconstructions-k<k>.png
(test images, PCA-k's and the autoencoder's reconstructions). Each stage (training, fitting PCA,
the errors) is a line on stderr as it starts.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction, help: str) -> None:
    p = sub.add_parser("pca", help=help, description="Compare a (linear) autoencoder run with PCA-k: reconstruction MSE of both and the "
                                   "principal angles between the decoder's column space and the top-k principal directions; "
                                   "pictures of both sets of directions (pca-components-k<k>.png) and of reconstructions "
                                   "(pca-reconstructions-k<k>.png) in the run folder. "
                                   "Give a RUN, or --k to train a linear autoencoder first.")
    p.add_argument("run", metavar="RUN", nargs="?", default=None, help="run folder of an autoencoder (omit it with --k)")
    p.add_argument("--k", type=int, default=None, help="train a linear AE with k latents first (instead of RUN)")
    p.add_argument("--images", type=int, default=8, help="test images in pca-reconstructions-k<k>.png (default 8)")
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
    from latentlab.analysis.linear import code_size, compare_pca, fit_pca, pca_pictures, train_linear_ae
    from latentlab.viz.plots import write_report
    from latentlab.training.run_folder import load, note, read_metrics, run_dataset, write_json
    if (args.run is None) == (args.k is None):
        raise LatentlabError("give either a RUN folder to compare, or --k K to train a linear autoencoder with K latents first")
    if args.images < 1:
        raise LatentlabError(f"--images must be at least 1, got {args.images}")
    if args.k is not None:
        if args.k < 1:
            raise LatentlabError(f"--k must be at least 1, got {args.k}")
        note(f"training a linear autoencoder with {args.k} latent{'s' * (args.k != 1)} on {args.dataset} "
             f"for {args.epochs} epoch{'s' * (args.epochs != 1)}...")
        trained = train_linear_ae(args.k, dataset=args.dataset, data_dir=args.data_dir, epochs=args.epochs,
                                  batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr, seed=args.seed,
                                  out=args.out, progress=True)  # the training's own bar and a line per epoch
        run_dir = trained.dir
        print(f"run folder: {run_dir}")
    else:
        run_dir = Path(args.run)
    model, data = load(run_dir), run_dataset(run_dir)
    k = code_size(model, data)
    note(f"fitting PCA-{k} to {len(data.train):,} training images of {data.train.x[0].numel():,} pixels...")
    pca = fit_pca(data, k)
    result = compare_pca(model, data, pca=pca)
    write_json(run_dir / "eval_pca.json", result.to_dict())
    pictures = pca_pictures(model, data, run_dir, pca, args.images)
    write_report(run_dir, read_metrics(run_dir))
    print(result.summary())
    for path in pictures:
        print(f"  {path}")
    return 0
