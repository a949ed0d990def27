"""Distances between a reference and a generated set of showers, as the field measures them.

* Separation power of two histograms on shared bins (CaloGAN arXiv:1712.10321; CaloChallenge
  arXiv:2410.21611):  S = 1/2 sum_i (h1_i - h2_i)^2 / (h1_i + h2_i), h normalised to unit sum;
  0 for identical shapes, 1 for disjoint ones.
* FPD, the Frechet physics distance (R. Kansal et al., arXiv:2211.10295; ``jetnet.evaluation.fpd``,
  used by the CaloChallenge): features divided by the reference's per-feature max |x|; the
  Frechet distance ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) is averaged over
  ``num_batches`` resamples at ``num_points`` sample sizes evenly spaced in 1/N, and a
  straight line in 1/N is extrapolated to N -> infinity; value and error are its intercept
  and the intercept's fit uncertainty.
  These are jetnet's defaults and conventions (min_samples 20,000, max_samples 50,000,
  20 batches, 10 points, features scaled by the reference's max |x|, the fit bounded to
  intercept and slope >= 0); only the sample sizes shrink to fit smaller sets.
* KPD, the kernel physics distance (same references): the unbiased estimator of MMD^2 with
  the polynomial kernel k(x, y) = (x.y / d + 1)^4 on ``num_batches`` = 10 resampled batches of
  5,000; value = median, error = half the 16.275-83.725% interquantile range, as jetnet.
  (KID for images uses degree 3; jetnet and the CaloChallenge use 4, the default here;
  ``degree`` changes it.) validate computes both on ``observables.high_level_features``.
* The CaloChallenge classifier test (arXiv:2410.21611), ``dnn_classifier`` and
  ``challenge_classifiers``: a DNN trained on a train split, stopped early on a validation
  split, calibrated by isotonic regression on that split; ROC AUC and JSD on the test split.
  Low-level inputs: log10 E_inc and every voxel / E_inc; high-level inputs: the per-layer
  features. AUC 0.5: indistinguishable; 1: always told apart.
* Classifier AUC with gradient boosting or sklearn's MLP (``classifier_auc``, latentlab's
  earlier test): standardised log(1 + E_voxel / MeV), log E_inc and the high-level features.
"""
from __future__ import annotations

import numpy as np
from scipy import linalg
from scipy.optimize import curve_fit

from latentlab.calo.io import Showers
from latentlab.calo.observables import high_level_features
from latentlab.errors import ConfigError, DataError


def shared_edges(a: np.ndarray, b: np.ndarray, bins: int = 50,
                 quantiles: tuple[float, float] = (0.001, 0.999)) -> np.ndarray:
    """Bin edges covering both samples (their pooled quantiles, so single outliers do not squash the bins)."""
    pooled = np.concatenate([np.ravel(a), np.ravel(b)])
    pooled = pooled[np.isfinite(pooled)]
    if pooled.size == 0:
        return np.linspace(-0.5, 0.5, bins + 1)
    lo, hi = np.quantile(pooled, quantiles)
    if not hi > lo:
        lo, hi = pooled.min(), pooled.max()
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, bins + 1)


def normalised_histogram(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin (values beyond the edges go to the end bins) divided by the total."""
    x = np.clip(np.ravel(x)[np.isfinite(np.ravel(x))], edges[0], edges[-1])
    h = np.histogram(x, edges)[0].astype(np.float64)
    return h / h.sum() if h.sum() > 0 else h


def separation_power(reference: np.ndarray, generated: np.ndarray, bins: int | np.ndarray = 50) -> float:
    """1/2 sum (h1 - h2)^2 / (h1 + h2) of the normalised histograms on shared bins."""
    edges = shared_edges(reference, generated, bins) if np.ndim(bins) == 0 else np.asarray(bins)
    h1, h2 = normalised_histogram(reference, edges), normalised_histogram(generated, edges)
    den = h1 + h2
    return float(0.5 * np.sum(np.divide((h1 - h2) ** 2, den, out=np.zeros_like(den), where=den > 0)))


def _max_abs_scale(real: np.ndarray, gen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scale = np.max(np.abs(real), axis=0)
    scale[scale == 0] = 1.0
    return real / scale, gen / scale


def _check_features(real: np.ndarray, gen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    real, gen = np.asarray(real, dtype=np.float64), np.asarray(gen, dtype=np.float64)
    if real.ndim != 2 or gen.ndim != 2 or real.shape[1] != gen.shape[1]:
        raise DataError(f"features must be (N, F) arrays with the same F, got {real.shape} and {gen.shape}")
    if len(real) < 2 or len(gen) < 2:
        raise DataError(f"need at least 2 samples on each side, got {len(real)} and {len(gen)}")
    if not (np.all(np.isfinite(real)) and np.all(np.isfinite(gen))):
        raise DataError("features hold NaN/inf; drop the broken showers before measuring distances")
    return real, gen


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(cov1 + cov2 - 2 sqrt(cov1 cov2)) between two Gaussians."""
    covmean = linalg.sqrtm(cov1 @ cov2)
    if not np.all(np.isfinite(covmean)):
        eps = 1e-6 * np.eye(len(mu1))
        covmean = linalg.sqrtm((cov1 + eps) @ (cov2 + eps))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * np.trace(np.real(covmean)))


def _line(x: np.ndarray, intercept: float, slope: float) -> np.ndarray:
    return intercept + slope * x


def fpd(real: np.ndarray, gen: np.ndarray, min_samples: int = 20_000, max_samples: int = 50_000,
        num_batches: int = 20, num_points: int = 10, normalise: bool = True, seed: int = 42) -> tuple[float, float]:
    """Frechet physics distance extrapolated to infinite samples: (value, error).

    Sample sizes are capped at the smaller set (keeping jetnet's min/max ratio of 0.4).
    """
    real, gen = _check_features(real, gen)
    if normalise:
        real, gen = _max_abs_scale(real, gen)
    n = min(len(real), len(gen))
    if max_samples > n:
        min_samples, max_samples = max(2, int(n * min_samples / max_samples)), n
    sizes = (1.0 / np.linspace(1.0 / min_samples, 1.0 / max_samples, num_points)).astype(np.int64)
    rng = np.random.default_rng(seed)
    values = []
    for size in sizes:
        batch = []
        for _ in range(num_batches):
            a = real[rng.choice(len(real), size)]
            b = gen[rng.choice(len(gen), size)]
            batch.append(frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)))
        values.append(np.mean(batch))
    params, cov = curve_fit(_line, 1.0 / sizes, np.asarray(values), bounds=([0, 0], [np.inf, np.inf]))
    return float(params[0]), float(np.sqrt(cov[0, 0]))


def _int_power(k: np.ndarray, degree: int) -> np.ndarray:
    """k**degree by repeated multiplication (several times faster than np.power for small integers)."""
    out = k.copy()
    for _ in range(degree - 1):
        out *= k
    return out


def _kernel_sum(x: np.ndarray, y: np.ndarray, degree: int, block: int = 1024) -> float:
    """sum_ij (x_i . y_j / d + 1)^degree, in row blocks to bound memory."""
    d = x.shape[1]
    return float(sum(_int_power((x[i:i + block] @ y.T) / d + 1.0, degree).sum() for i in range(0, len(x), block)))


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, degree: int = 4) -> float:
    """Unbiased MMD^2 with the polynomial kernel (x.y / d + 1)^degree."""
    m, n = len(x), len(y)
    d = x.shape[1]
    kxx_diag = _int_power(np.einsum("ij,ij->i", x, x) / d + 1.0, degree).sum()
    kyy_diag = _int_power(np.einsum("ij,ij->i", y, y) / d + 1.0, degree).sum()
    kxx = (_kernel_sum(x, x, degree) - kxx_diag) / (m * (m - 1))
    kyy = (_kernel_sum(y, y, degree) - kyy_diag) / (n * (n - 1))
    kxy = _kernel_sum(x, y, degree) / (m * n)
    return kxx + kyy - 2.0 * kxy


def kpd(real: np.ndarray, gen: np.ndarray, num_batches: int = 10, batch_size: int = 5_000, degree: int = 4,
        normalise: bool = True, seed: int = 42) -> tuple[float, float]:
    """Kernel physics distance: (median, half the 16-84% range) of MMD^2 over resampled batches."""
    real, gen = _check_features(real, gen)
    if int(degree) != degree or degree < 1:
        raise ConfigError(f"the kernel degree must be a positive whole number, got {degree}")
    if normalise:
        real, gen = _max_abs_scale(real, gen)
    batch_size = min(batch_size, len(real), len(gen))
    vals = []
    for i in range(num_batches):
        rng = np.random.default_rng(seed + 1000 * i)
        vals.append(mmd2_unbiased(real[rng.choice(len(real), batch_size)], gen[rng.choice(len(gen), batch_size)], degree))
    lo, hi = np.percentile(vals, [16.275, 83.725])
    return float(np.median(vals)), float((hi - lo) / 2.0)


def classifier_inputs(s: Showers) -> np.ndarray:
    """Low-level (log(1 + E_voxel/MeV), log E_inc) and high-level features of each shower, float32."""
    hlf, _ = high_level_features(s)
    return np.concatenate([np.log1p(s.voxels(), dtype=np.float32), np.log(s.energy)[:, None], hlf],
                          axis=1, dtype=np.float32)


def classifier_auc(reference: Showers, generated: Showers, model: str = "hgb", max_per_class: int = 20_000,
                   test_fraction: float = 0.3, seed: int = 0, threads: int | None = None,
                   memory_bytes: float = 2e9) -> dict[str, float | int | str]:
    """Train a classifier reference-vs-generated and return its held-out ROC AUC (0.5 = indistinguishable).

    At most ``max_per_class`` showers per side are used, fewer when their inputs would pass
    ``memory_bytes`` (CaloChallenge dataset 3 has 40,500 voxels). ``threads`` caps OpenMP/BLAS
    threads; by default 1 below 10,000 showers per side, where thread start-up and spinning
    cost more than they gain (badly so on a busy machine).
    """
    from threadpoolctl import threadpool_limits
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if reference.geometry.layer_shapes != generated.geometry.layer_shapes:
        raise DataError(f"reference and generated showers have different geometries: {reference.geometry.describe()} "
                        f"vs {generated.geometry.describe()}")
    n = min(len(reference), len(generated), max_per_class, int(memory_bytes / (8 * (reference.geometry.n_voxels + 64))))
    if n < 20:
        raise DataError(f"the classifier needs at least 20 showers per side, got {len(reference)} and {len(generated)}")
    rng = np.random.default_rng(seed)
    ref = reference.take(np.sort(rng.choice(len(reference), n, replace=False)))
    gen = generated.take(np.sort(rng.choice(len(generated), n, replace=False)))
    x = np.concatenate([classifier_inputs(ref), classifier_inputs(gen)])
    y = np.concatenate([np.zeros(n), np.ones(n)])
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_fraction, stratify=y, random_state=seed)
    if model == "hgb":
        clf = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, early_stopping=True, random_state=seed)
    elif model == "mlp":
        clf = MLPClassifier(hidden_layer_sizes=(256, 256), early_stopping=True, max_iter=200, random_state=seed)
    else:
        raise ConfigError(f"unknown classifier {model!r}; choose 'hgb' (gradient boosting) or 'mlp'")
    with threadpool_limits(limits=threads or (1 if n < 10_000 else None)):
        pipe = make_pipeline(StandardScaler(), clf).fit(x_train, y_train)
        auc = roc_auc_score(y_test, pipe.predict_proba(x_test)[:, 1])
    return {"auc": float(auc), "model": model, "n_train": int(len(y_train)), "n_test": int(len(y_test))}


# ---------------------------------------------------------------- the CaloChallenge classifier test

def low_level_inputs(s: Showers) -> np.ndarray:
    """(N, 1 + voxels) float32, the CaloChallenge's low-level classifier inputs: log10(E_inc / MeV),
    then every voxel's deposit divided by the incident energy (both MeV)."""
    e_mev = s.energy * 1000.0
    out = np.empty((len(s), 1 + s.geometry.n_voxels), dtype=np.float32)
    out[:, 0] = np.log10(e_mev)
    start = 1
    for i in range(s.n_layers):
        x = s.layer_flat(i)
        np.divide(x, e_mev[:, None], out=out[:, start:start + x.shape[1]], casting="unsafe")
        start += x.shape[1]
    return out


def high_level_inputs(s: Showers) -> np.ndarray:
    """(N, 2 + 6 L) float32, the CaloChallenge's high-level classifier inputs: log10(E_inc / MeV),
    log10(E_tot / E_inc) and, per layer, log10(E_layer / MeV + 1e-8), centres of energy on both
    axes, widths on both axes and sparsity (the challenge divides centres and widths by 100 mm;
    ``dnn_classifier`` standardises these inputs instead, as the coordinate unit depends on the geometry)."""
    from latentlab.calo.observables import centres_and_widths, layer_energies, sparsity
    e = layer_energies(s)
    centres, widths = centres_and_widths(s)
    e_inc = s.energy * 1000.0
    tot = np.maximum(e.sum(axis=1), 1e-8)
    return np.concatenate([np.log10(e_inc)[:, None], np.log10(tot / e_inc)[:, None], np.log10(e + 1e-8),
                           centres[:, :, 0], centres[:, :, 1], widths[:, :, 0], widths[:, :, 1], sparsity(s)],
                          axis=1).astype(np.float32)


def _split(n: int, fractions: tuple[float, float, float], rng: np.random.Generator) -> list[np.ndarray]:
    """Indices of a shuffled train / validation / test split of ``n`` items."""
    order = rng.permutation(n)
    a = int(round(fractions[0] * n))
    b = a + int(round(fractions[1] * n))
    return [order[:a], order[a:b], order[b:]]


def calibrate(p_val: np.ndarray, y_val: np.ndarray, p_test: np.ndarray) -> np.ndarray:
    """Isotonic calibration (as the CaloChallenge): the monotone map of classifier outputs to the
    fraction of label 1 among validation showers, applied to ``p_test``; kept in [1e-6, 1 - 1e-6]."""
    from sklearn.isotonic import IsotonicRegression
    iso = IsotonicRegression(out_of_bounds="clip", y_min=1e-6, y_max=1.0 - 1e-6).fit(p_val, y_val)
    return np.clip(iso.predict(p_test), 1e-6, 1.0 - 1e-6)


def dnn_classifier(x_ref: np.ndarray, x_gen: np.ndarray, *, hidden: int = 512, hidden_layers: int = 2,
                   lr: float = 5e-4, batch_size: int = 250, max_epochs: int = 30, patience: int = 4,
                   standardise: bool = False, split: tuple[float, float, float] = (0.6, 0.2, 0.2),
                   seed: int | np.random.Generator = 0, threads: int = 1) -> dict[str, float | int]:
    """The CaloChallenge classifier test (arXiv:2410.21611; Krause, Shih's CaloFlow evaluation): a
    DNN tells reference (label 0) from generated (label 1) inputs.

    Each side is cut to the smaller one's size and split 60/20/20 into train, validation and test
    showers. A fully connected net (``hidden_layers`` layers of ``hidden`` LeakyReLU units, as the
    challenge's 2 x 512) is trained with Adam on the binary cross-entropy; after every epoch the
    validation loss decides which epoch's weights to keep, and training stops after ``patience``
    epochs without improvement (the challenge keeps the epoch of best validation accuracy over a
    fixed number of epochs; a larger learning rate and batches of 250 instead of its 2e-4 and 1000
    reach the same plateau in fewer CPU-seconds). Its output probabilities are calibrated by
    isotonic regression fitted on the validation showers; on the test showers we report

        auc   the ROC AUC of the calibrated output (0.5: indistinguishable, 1: always told apart),
        jsd   (ln 2 - BCE) / ln 2 of the calibrated output: the Jensen-Shannon divergence it bounds
              from below, in bits (0 identical, 1 disjoint), as the challenge reports it (an
              estimate: slightly below 0 when, with few showers, the calibration overfits),

    and ``auc_uncalibrated`` (isotonic calibration makes ties, which moves the AUC a little).
    ``standardise`` scales each input to zero mean and unit variance on the training showers.
    Seeded: the split, the initial weights and the batch order depend only on ``seed``. Runs on
    ``threads`` torch threads (the previous setting is restored).
    """
    import torch
    from sklearn.metrics import roc_auc_score

    x_ref, x_gen = np.asarray(x_ref, dtype=np.float32), np.asarray(x_gen, dtype=np.float32)
    if x_ref.ndim != 2 or x_gen.ndim != 2 or x_ref.shape[1] != x_gen.shape[1]:
        raise DataError(f"classifier inputs must be (N, F) arrays with the same F, got {x_ref.shape} and {x_gen.shape}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n = min(len(x_ref), len(x_gen))
    if n < 20:
        raise DataError(f"the classifier needs at least 20 showers per side, got {len(x_ref)} and {len(x_gen)}")
    x_ref = x_ref[rng.choice(len(x_ref), n, replace=False)] if len(x_ref) > n else x_ref
    x_gen = x_gen[rng.choice(len(x_gen), n, replace=False)] if len(x_gen) > n else x_gen
    parts_ref, parts_gen = _split(n, split, rng), _split(n, split, rng)
    sets = []
    for ir, ig in zip(parts_ref, parts_gen):
        x = np.concatenate([x_ref[ir], x_gen[ig]])
        y = np.concatenate([np.zeros(len(ir), np.float32), np.ones(len(ig), np.float32)])
        sets.append((x, y))
    if standardise:
        mean, std = sets[0][0].mean(axis=0), sets[0][0].std(axis=0)
        std[std == 0] = 1.0
        sets = [((x - mean) / std, y) for x, y in sets]
    (x_tr, y_tr), (x_val, y_val), (x_te, y_te) = [(torch.from_numpy(np.ascontiguousarray(x, np.float32)),
                                                  torch.from_numpy(y)) for x, y in sets]
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        layers: list[torch.nn.Module] = []
        width = x_tr.shape[1]
        for _ in range(hidden_layers):
            layers += [torch.nn.Linear(width, hidden), torch.nn.LeakyReLU()]
            width = hidden
        layers.append(torch.nn.Linear(width, 1))
        net = torch.nn.Sequential(*layers)
        with torch.no_grad():  # PyTorch's default initialisation, drawn from our generator
            for m in net:
                if isinstance(m, torch.nn.Linear):
                    torch.nn.init.kaiming_uniform_(m.weight, a=5**0.5, generator=gen)
                    bound = 1.0 / m.in_features**0.5
                    torch.nn.init.uniform_(m.bias, -bound, bound, generator=gen)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        loss_fn = torch.nn.BCEWithLogitsLoss()

        def logits(x: torch.Tensor) -> torch.Tensor:
            net.eval()
            with torch.no_grad():
                return torch.cat([net(x[i:i + 4096])[:, 0] for i in range(0, len(x), 4096)])

        best, best_state, best_epoch, epoch = np.inf, None, 0, 0
        for epoch in range(1, max_epochs + 1):
            net.train()
            order = torch.randperm(len(x_tr), generator=gen)
            for i in range(0, len(order), batch_size):
                idx = order[i:i + batch_size]
                loss = loss_fn(net(x_tr[idx])[:, 0], y_tr[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            val_loss = float(loss_fn(logits(x_val), y_val))
            if val_loss < best - 1e-5:
                best, best_epoch = val_loss, epoch
                best_state = {k: v.clone() for k, v in net.state_dict().items()}
            elif epoch - best_epoch >= patience:
                break
        if best_state is not None:
            net.load_state_dict(best_state)
        p_val = torch.sigmoid(logits(x_val)).numpy().astype(np.float64)
        p_te = torch.sigmoid(logits(x_te)).numpy().astype(np.float64)
    finally:
        torch.set_num_threads(previous_threads)
    p_cal = calibrate(p_val, y_val.numpy(), p_te)
    y = y_te.numpy().astype(np.float64)
    bce = float(-np.mean(y * np.log(p_cal) + (1.0 - y) * np.log(1.0 - p_cal)))
    return {"auc": float(roc_auc_score(y, p_cal)), "jsd": float((np.log(2.0) - bce) / np.log(2.0)), "bce": bce,
            "auc_uncalibrated": float(roc_auc_score(y, p_te)), "n_train": int(len(y_tr)), "n_val": int(len(y_val)),
            "n_test": int(len(y_te)), "epochs": int(epoch), "best_epoch": int(best_epoch)}


def _change_units(x_ref: np.ndarray, x_gen: np.ndarray) -> None:
    """In place, the same for both sides (blind to which is which): log10 E_inc (column 0) to zero mean
    and unit variance, and every voxel ratio divided by one number, their RMS over both samples.
    Deposits over E_inc are ~1e-3 per voxel; in these units the net learns in a few epochs
    what it would take the challenge's 50-100 epochs to find from the raw ratios."""
    both = (x_ref, x_gen)
    e = np.concatenate([x[:, 0] for x in both])
    mean, std = e.mean(), e.std() or 1.0
    rms = float(np.sqrt(sum(np.einsum("ij,ij->", x[:, 1:], x[:, 1:], dtype=np.float64) for x in both)
                        / sum(x[:, 1:].size for x in both))) or 1.0
    for x in both:
        x[:, 0] = (x[:, 0] - mean) / std
        x[:, 1:] /= rms


def challenge_classifiers(reference: Showers, generated: Showers, *, max_per_class: int = 20_000,
                          levels: tuple[str, ...] = ("low", "high"), seed: int = 0, threads: int = 1,
                          memory_bytes: float = 2e9, **dnn: object) -> dict[str, dict[str, float | int]]:
    """The CaloChallenge DNN on low-level (``dnn_low_level``) and high-level (``dnn_high_level``) inputs.

    At most ``max_per_class`` showers per side, fewer when the low-level inputs would pass
    ``memory_bytes``; ``dnn`` goes to ``dnn_classifier``. The high-level inputs are standardised.
    """
    if reference.geometry.layer_shapes != generated.geometry.layer_shapes:
        raise DataError(f"reference and generated showers have different geometries: {reference.geometry.describe()} "
                        f"vs {generated.geometry.describe()}")
    unknown = set(levels) - {"low", "high"}
    if unknown:
        raise ConfigError(f"unknown classifier input level(s) {sorted(unknown)}; choose 'low' and/or 'high'")
    n = min(len(reference), len(generated), max_per_class, int(memory_bytes / (16 * (reference.geometry.n_voxels + 1))))
    if n < 20:
        raise DataError(f"the classifier needs at least 20 showers per side, got {len(reference)} and {len(generated)}")
    rng = np.random.default_rng(seed)
    ref = reference.take(np.sort(rng.choice(len(reference), n, replace=False)))
    gen = generated.take(np.sort(rng.choice(len(generated), n, replace=False)))
    out: dict[str, dict[str, float | int]] = {}
    if "low" in levels:
        x_ref, x_gen = low_level_inputs(ref), low_level_inputs(gen)
        _change_units(x_ref, x_gen)
        out["dnn_low_level"] = dnn_classifier(x_ref, x_gen, seed=seed, threads=threads, **dnn)  # type: ignore[arg-type]
    if "high" in levels:
        out["dnn_high_level"] = dnn_classifier(high_level_inputs(ref), high_level_inputs(gen), seed=seed + 1,
                                               threads=threads, **{"standardise": True, **dnn})  # type: ignore[arg-type]
    return out
