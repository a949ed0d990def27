"""Tabular outlier detection: latentlab's AutoEncoderOD and VAEOD against PyOD's AutoEncoder and
scikit-learn's IsolationForest (what PyOD's IForest wraps), in one run, on the same splits.

Data (bundled with scikit-learn, no download), each with a rare class as the outliers:
    breast-cancer   569 x 30 features: the 357 benign tumours are inliers, 19 malignant ones
                    (5% of the rows, drawn per seed) the outliers
    digits          1797 x 64 pixel features: digits 1-9 are inliers, 85 zeros (5%, drawn per seed) the outliers
Protocol (PyOD's benchmark): per seed, a stratified 60/40 split; fit on the 60% (outliers included,
unlabelled: contamination = 0.05), ROC-AUC of decision_function on the 40%; fit time in seconds.
Each detector runs with its library's defaults (latentlab: 50 epochs, batch 32, one hidden layer of 64;
PyOD's AutoEncoder: 10 epochs, layers 64-32), or all with ``--epochs N``.

    python bench/estimators.py [--seeds 0 1 2 3 4] [--epochs N] [--quick]

PyOD is benchmark-only (``make bench`` installs it); without it its rows are left out and said so.
Writes bench/results/estimators.md.
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from common import RESULTS

from latentlab.analysis.estimators import VAEOD, AutoEncoderOD

RARE = 0.05  # share of outliers in each data set


def dataset(name: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) with y = 1 for the outliers: every inlier and a seeded draw of the rare class."""
    if name == "breast-cancer":
        d = load_breast_cancer()
        inlier, outlier = d.data[d.target == 1], d.data[d.target == 0]  # target 1 = benign
    else:
        d = load_digits()
        inlier, outlier = d.data[d.target != 0], d.data[d.target == 0]
    n_out = round(RARE * len(inlier) / (1 - RARE))
    pick = np.random.default_rng(seed).choice(len(outlier), n_out, replace=False)
    x = np.vstack([inlier, outlier[pick]])
    return x, np.r_[np.zeros(len(inlier), int), np.ones(n_out, int)]


class IForestScores:
    """scikit-learn's IsolationForest with PyOD's score convention (higher = more abnormal)."""

    def __init__(self, random_state: int):
        self.model = IsolationForest(contamination=RARE, random_state=random_state)

    def fit(self, x):
        self.model.fit(x)
        return self

    def decision_function(self, x):
        return -self.model.score_samples(x)


def detectors(seed: int, epochs: int | None, have_pyod: bool) -> dict:
    ours = {} if epochs is None else {"epochs": epochs}
    out = {
        "latentlab AutoEncoderOD": lambda: AutoEncoderOD(contamination=RARE, random_state=seed, **ours),
        "latentlab VAEOD": lambda: VAEOD(contamination=RARE, random_state=seed, **ours),
        "scikit-learn IsolationForest": lambda: IForestScores(seed),
    }
    if have_pyod:
        from pyod.models.auto_encoder import AutoEncoder
        theirs = {} if epochs is None else {"epoch_num": epochs}
        out["PyOD AutoEncoder"] = lambda: AutoEncoder(contamination=RARE, random_state=seed, verbose=0, device="cpu", **theirs)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--epochs", type=int, default=None, help="epochs of every neural detector (default: each library's own)")
    p.add_argument("--quick", action="store_true", help="a smoke run: one seed, 5 epochs, no results file")
    args = p.parse_args()
    if args.quick:
        args.seeds, args.epochs = args.seeds[:1], 5
    try:
        import pyod  # noqa: F401
        have_pyod = True
    except ImportError:
        have_pyod = False
        print("PyOD is not installed (`make bench` installs it): its AutoEncoder is left out of this run", flush=True)
    warm, _ = dataset("breast-cancer", 0)
    for make in detectors(0, 1, have_pyod).values():  # first fits pay imports and kernel set-up: not timed
        make().fit(warm[:40])
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for name in ("breast-cancer", "digits"):
        for seed in args.seeds:
            x, y = dataset(name, seed)
            x_train, x_test, _, y_test = train_test_split(x, y, test_size=0.4, stratify=y, random_state=seed)
            for method, make in detectors(seed, args.epochs, have_pyod).items():
                det = make()
                started = time.perf_counter()
                det.fit(x_train)
                seconds = time.perf_counter() - started
                auc = roc_auc_score(y_test, det.decision_function(x_test))
                results.setdefault((name, method), []).append((auc, seconds))
                print(f"{name} seed {seed} {method}: ROC-AUC {100 * auc:.1f}%, fit {seconds:.2f} s", flush=True)
    lines = [
        "## Tabular outlier detection: AutoEncoderOD and VAEOD against PyOD's AutoEncoder and IsolationForest",
        "",
        f"Command: `python bench/estimators.py --seeds {' '.join(map(str, args.seeds))}"
        f"{'' if args.epochs is None else f' --epochs {args.epochs}'}`  ",
        f"Machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}; "
        f"{time.strftime('%Y-%m-%d')}{'' if have_pyod else '; PyOD not installed, its rows are missing'}",
        "",
        "Per seed: a stratified 60/40 split, fit on the 60% (5% outliers, unlabelled), ROC-AUC of the scores "
        "on the 40%. Epochs: " + ("each library's default (latentlab 50, PyOD 10)." if args.epochs is None
                                  else f"{args.epochs} for every neural detector."),
        "",
        f"| data | detector | ROC-AUC % (mean ± std over {len(args.seeds)} seeds) | fit time s (mean) |",
        "|---|---|---:|---:|",
    ]
    for (name, method), rows in results.items():
        auc, sec = np.array(rows).T
        lines.append(f"| {name} | {method} | {100 * auc.mean():.1f} ± {100 * auc.std():.1f} | {sec.mean():.2f} |")
    table = "\n".join(lines) + "\n"
    print("\n" + table)
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "estimators.md").write_text(table)
        print(f"wrote {RESULTS / 'estimators.md'}")


if __name__ == "__main__":
    main()
