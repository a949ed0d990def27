"""Clustering in the latent space of a trained AE or VAE.

    codes = latent_codes(model, x)                 # (N, latent): the latent means
    labels = cluster(codes, k=10, method="gmm")    # (N,) cluster index
    clustering_scores(y, labels)                   # accuracy, NMI, ARI

Methods: ``kmeans`` (k-means++), ``gmm`` (Gaussian mixture, full covariances),
``spectral`` (k-means on the spectral embedding of a k-nearest-neighbour graph of the
codes, Ng, Jordan and Weiss 2001), which follows curved clusters that k-means cuts, and
``umap-gmm`` (N2D, McConville et al. 2020: a k-dimensional UMAP embedding of the codes, then the
Gaussian mixture; it needs the ``cluster`` extra, umap-learn).
Clustering accuracy is the share of points whose cluster, matched one-to-one to a
label by the Hungarian method, is their label (as in DEC, Xie et al. 2016).

``cluster_run`` says each stage as it starts (``log``, default stderr): spectral clustering of
70,000 codes takes minutes. Its pictures are named after the request (clusters-METHOD-SPLIT-kK.png),
so that another request never replaces them; clusters.json and clusters-METHOD.npy hold the last
request, and a line says when they replace those of another one.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from latentlab.errors import LatentlabError
from latentlab.models.base import ConditionalEncoder, Encoder
from latentlab.training.run_folder import note

METHODS = ("kmeans", "gmm", "spectral", "umap-gmm")  # methods that cluster latent codes (``cluster``)
RUN_METHODS = METHODS + ("model",)  # ``cluster_run`` also takes "model": the clusters a clustering model learned (vade)
STAGES = {"kmeans": "k-means", "gmm": "Gaussian mixture", "spectral": "spectral clustering",
          "umap-gmm": "UMAP embedding and Gaussian mixture", "model": "the model's own clusters"}  # what the stage lines say
NEIGHBORS = {"spectral": 10, "umap-gmm": 20}  # default neighbours per point of each graph-based method (N2D uses 20)


@torch.no_grad()
def latent_codes(model, x: torch.Tensor, batch_size: int = 1000) -> np.ndarray:
    """(N, latent) latent means of images x (N, C, H, W)."""
    if not isinstance(model, Encoder):
        raise LatentlabError(f"a '{model.name}' model has no encoder, so it has no latent codes to cluster; use an ae or vae")
    if isinstance(model, ConditionalEncoder):
        raise LatentlabError(f"a '{model.name}' model keeps the class in its label, not in its latent codes, "
                             "so there are no classes to find by clustering; use an ae or vae")
    model.eval()
    return torch.cat([model.latent(b.to(model.device)).cpu() for b in x.split(batch_size)]).numpy()


def check_k(k: int, n: int) -> None:
    if k < 2:
        raise LatentlabError(f"k must be at least 2 clusters, got {k}")
    if k > n:
        raise LatentlabError(f"k = {k} clusters is more than the {n} points to cluster: choose k <= {n}")


def spectral_embedding(codes: np.ndarray, dims: int, neighbors: int = 10, seed: int = 0) -> np.ndarray:
    """(N, dims) leading eigenvectors of the normalised adjacency D^-1/2 W D^-1/2 of the symmetric kNN graph,
    rows scaled to unit length (Ng, Jordan and Weiss 2001). LOBPCG, a block solver, also finds an
    eigenvalue 1 repeated once per connected component, where single-vector Lanczos misses copies."""
    from scipy.sparse import diags
    from scipy.sparse.linalg import lobpcg
    from sklearn.neighbors import kneighbors_graph
    w = kneighbors_graph(codes, min(neighbors, len(codes) - 1), include_self=False)
    w = ((w + w.T) > 0).astype(np.float64)  # symmetric 0/1 affinities
    d = np.asarray(w.sum(1)).ravel()
    a = diags(1 / np.sqrt(d)) @ w @ diags(1 / np.sqrt(d))
    start = np.random.default_rng(seed).normal(size=(len(codes), dims))
    _, vecs = lobpcg(a, start, largest=True, tol=1e-5, maxiter=500)  # largest of A = smallest of the Laplacian
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True).clip(1e-12)


def umap_embedding(codes: np.ndarray, dims: int, neighbors: int = 20, seed: int = 0) -> np.ndarray:
    """(N, dims) UMAP embedding (McInnes et al. 2018) of the codes with min_dist 0, which packs each manifold's
    points together, as N2D uses it before the mixture. Seeded, so single-threaded (umap-learn's rule)."""
    try:
        import umap
    except ImportError:
        raise LatentlabError("the umap-gmm method needs umap-learn, which is not installed: "
                             "pip install 'latentlab[cluster]' (or use kmeans, gmm or spectral)") from None
    reducer = umap.UMAP(n_components=dims, n_neighbors=min(neighbors, len(codes) - 1), min_dist=0.0,
                        random_state=seed, n_jobs=1)
    return reducer.fit_transform(codes).astype(np.float64)


def cluster(codes: np.ndarray, k: int, method: str = "kmeans", seed: int = 0, neighbors: int | None = None,
            n_init: int = 10) -> np.ndarray:
    """(N,) cluster index in 0..k-1 of each row of codes (N, D); ``n_init`` restarts of k-means (3 of the GMM);
    ``neighbors``: of the graph-based methods (default ``NEIGHBORS[method]``)."""
    from sklearn.cluster import KMeans
    from sklearn.mixture import GaussianMixture
    codes = np.asarray(codes, dtype=np.float64).reshape(len(codes), -1)
    check_k(k, len(codes))
    neighbors = neighbors or NEIGHBORS.get(method, 10)
    if method in NEIGHBORS and neighbors < 2:
        raise LatentlabError(f"a neighbour graph needs at least 2 neighbours per point, got {neighbors}: give --neighbors 2 or more")
    if method == "kmeans":
        return KMeans(k, n_init=n_init, random_state=seed).fit_predict(codes)
    if method == "gmm":
        return GaussianMixture(k, covariance_type="full", n_init=3, reg_covar=1e-4, random_state=seed).fit_predict(codes)
    if method == "spectral":
        return KMeans(k, n_init=n_init, random_state=seed).fit_predict(spectral_embedding(codes, k, neighbors, seed))
    if method == "umap-gmm":
        return cluster(umap_embedding(codes, k, neighbors, seed), k, "gmm", seed)
    raise LatentlabError(f"unknown clustering method {method!r}; choose from {', '.join(METHODS)}")


def cluster_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Best one-to-one matching of clusters to labels (Hungarian method): share of points matched correctly."""
    from scipy.optimize import linear_sum_assignment
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    counts = np.zeros((y_pred.max() + 1, y_true.max() + 1), dtype=np.int64)  # (clusters, labels)
    np.add.at(counts, (y_pred, y_true), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / len(y_true))


def clustering_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Clustering accuracy, normalised mutual information and adjusted Rand index."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
    return {"accuracy": cluster_accuracy(y_true, y_pred), "nmi": float(normalized_mutual_info_score(y_true, y_pred)),
            "ari": float(adjusted_rand_score(y_true, y_pred))}


@dataclass
class Clustering:
    """Cluster assignments of one method, with scores when labels were there."""

    method: str
    k: int
    labels: np.ndarray  # (N,) cluster index
    scores: dict[str, float] | None  # None without labels
    picture: Path | None = None  # the latent scatter coloured by cluster


def split_images(data, split: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Images and labels of "train", "val", "test", or "all" (train, validation and test together, as in DEC)."""
    parts = {"train": [data.train], "val": [data.val], "test": [data.test], "all": [data.train, data.val, data.test]}[split]
    x = torch.cat([p.x for p in parts])
    y = None if any(p.y is None for p in parts) else torch.cat([p.y for p in parts])
    return x, y


def picture_name(method: str, split: str, k: int, seed: int = 0, neighbors: int | None = None, which: str = "last") -> str:
    """The scatter of one request, named after it: clusters-METHOD-SPLIT-kK.png, with -seedS, -nN (neighbours of
    a graph-based method) and -best when they are not the defaults; clusters-labels-SPLIT[-best].png for the true
    labels."""
    best = "-best" if which == "best" else ""
    if method == "labels":
        return f"clusters-labels-{split}{best}.png"
    graph = method in NEIGHBORS and neighbors not in (None, NEIGHBORS[method])
    extra = (f"-seed{seed}" if seed else "") + (f"-n{neighbors}" if graph else "")
    return f"clusters-{method}-{split}-k{k}{extra}{best}.png"


def cluster_run(run_dir: str | Path, k: int | None = None, methods: list[str] = ("kmeans",), split: str = "all",
                seed: int = 0, which: str = "last", data_dir: str | None = None, out: str | Path | None = None,
                neighbors: int | None = None, log: Callable[[str], None] | None = note) -> list[Clustering]:
    """Cluster the latent means of a run's images; writes clusters.json, clusters-METHOD.npy and the scatter
    plots (``picture_name``) to ``out`` (default the run). ``log``: where the stage lines go (default stderr;
    None for none)."""
    from latentlab.viz.plots import plot_latent
    from latentlab.training.run_folder import load, run_dataset, write_json
    log = log or (lambda line: None)
    model = load(run_dir, which)
    data = run_dataset(run_dir, data_dir)
    x, y = split_images(data, split)
    if k is None:
        if data.num_classes is None:
            raise LatentlabError("the dataset has no labels, so the number of clusters is unknown: give k (--k)")
        k = data.num_classes
    check_k(k, len(x))
    if "model" in methods:
        check_model_clusters(model, k)
    log(f"encoding {len(x):,} images ({split} split) with the {which} checkpoint of {run_dir}...")
    codes = latent_codes(model, x)
    out = Path(out or run_dir)
    out.mkdir(parents=True, exist_ok=True)
    request = {"run": str(run_dir), "which": which, "split": split, "methods": list(methods), "k": k, "seed": seed,
               "neighbors": neighbors}
    replacing(out, request, methods, log)
    results = []
    for method in methods:
        extra = f", a {neighbors or NEIGHBORS[method]}-nearest-neighbour graph" if method in NEIGHBORS else ""
        log(f"{STAGES[method]} of {len(codes):,} codes into {k} clusters{extra}...")
        pred = model_clusters(model, x) if method == "model" else cluster(codes, k, method, seed, neighbors)
        picture = out / picture_name(method, split, k, seed, neighbors, which)
        results.append(Clustering(method, k, pred, None if y is None else clustering_scores(y.numpy(), pred), picture))
        np.save(out / f"clusters-{method}.npy", pred)
        plot_latent(codes[:10000], pred[:10000], replaced(picture, log), None, title=f"{method} clusters (k={k}, {split})")
    if y is not None:
        plot_latent(codes[:10000], y[:10000].numpy(), replaced(out / picture_name("labels", split, k, which=which), log),
                    data.classes, title=f"true labels ({split})")
    write_json(out / "clusters.json", {
        **request, "points": len(x),
        "note": None if y is not None else "accuracy, NMI and ARI need labels: the dataset has none",
        **{r.method: r.scores for r in results}})
    return results


def check_model_clusters(model, k: int) -> None:
    from latentlab.models.vade import VaDE
    if not isinstance(model, VaDE):
        raise LatentlabError(f"--method model uses the clusters a model learned itself (vade); a '{model.name}' run has "
                             "none: use kmeans, gmm or spectral")
    if k != model.cfg.clusters:
        raise LatentlabError(f"this vade run learned {model.cfg.clusters} clusters, not k = {k}: drop --k or give "
                             f"--k {model.cfg.clusters}")


def model_clusters(model, x: torch.Tensor, batch_size: int = 1000) -> np.ndarray:
    """(N,) the component of a clustering model's mixture prior that each image most likely came from."""
    return torch.cat([model.cluster(b.to(model.device)).cpu() for b in x.split(batch_size)]).numpy()


def replacing(out: Path, request: dict, methods: list[str], log: Callable[[str], None]) -> None:
    """Say so when clusters.json (and clusters-METHOD.npy) of another request are about to be replaced."""
    import json
    path = out / "clusters.json"
    if not path.exists():
        return
    try:
        earlier = json.loads(path.read_text())
    except (OSError, ValueError):
        earlier = {}
    changed = {key: earlier.get(key) for key, value in request.items() if earlier.get(key) != value}
    if changed:
        files = ", ".join(["clusters.json"] + [f"clusters-{m}.npy" for m in methods if (out / f"clusters-{m}.npy").exists()])
        was = ", ".join(f"{key} {'?' if value is None else value}" for key, value in changed.items())
        log(f"replacing {files} in {out}, written for another request ({was}); its pictures are kept")


def replaced(picture: Path, log: Callable[[str], None]) -> Path:
    """``picture``, after saying so if it replaces an earlier file of that name (the same request again, or
    another run clustered into the same folder)."""
    if picture.exists():
        log(f"replacing {picture} (an earlier picture of the same name)")
    return picture
