"""Latent exploration: the lecture notes' pictures of a trained autoencoder or VAE.

    latent_map(model, split, path)          test-set latent means, coloured by label (PCA beyond 2-D)
    manifold_grid(model, path, n=15)        decode a grid of prior quantiles of a 2-D latent (Kingma and Welling, fig. 4)
    interpolate(model, za, zb, steps)       decode points between two latent vectors, linear or spherical
    class_means(model, split)               mean latent vector of each class, (K, D)
    arithmetic(model, split, to, frm, idx)  decode z(x) + mean(to) - mean(frm) for images x of class frm
    latent_space(model, split)              the coordinates of the interactive explorer (map, sliders)
    render(model, z, label, seed)           images of latent vectors: a decoder, or a GAN's generator
    interpolate_seeds(model, a, b, steps)   interpolate between the prior draws seeded a and b (a GAN's z)
    image_concepts(model, split)            an encoder's codes of the test images, grouped by label
    sample_concepts(model, classify)        a GAN's inputs grouped by label, or by the evaluator's classes
    sample_arithmetic(model, c, to, frm)    a GAN's z + mean(to) - mean(frm), means over several samples
    edit(model, c, frm, to, strengths)      z + s (mean(to) - mean(frm)), one column per strength s

Every function returns images (N, C, H, W) in [0, 1] (or writes a PNG when given a path);
``latentlab explore RUN ...`` is the same from the command line, and ``latentlab explore RUN --serve``
serves the last two in a browser page (``latentlab.explorer``). Spherical interpolation
(slerp; Shoemake 1985, White 2016) follows the great circle between the two vectors, which keeps
the norm of a Gaussian latent typical: a straight line between two draws of N(0, I) in many
dimensions passes through the low-norm centre the decoder rarely saw.

A conditional VAE keeps the class in its label, not its latent: the map and the grid take the
labels (``y`` / ``label``); ``interpolate`` draws a path of codes under one chosen label, while
interpolation between images or classes and class arithmetic are for unconditional models.

A GAN has no encoder, so no codes of test images: its interpolation runs between prior draws (by seed)
or vectors chosen by hand (``load_codes``), and its class arithmetic and attribute vectors are means of
generator inputs over several samples per class (``Concepts``; Radford et al. 2016, section 6.3, average
three per concept): the label a conditional GAN drew them with, or the class the shipped evaluation
classifier (``latentlab.evaluation.classifier``) gives the images of an unconditional one. A conditional
GAN's one-hot label is part of its input, so its arithmetic moves the label as well as z.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from latentlab.errors import LatentlabError
from latentlab.models.base import ConditionalEncoder, ConditionalSampler, Encoder, LatentGenerator

METHODS = ("linear", "slerp")


def _need_encoder(model, what: str) -> None:
    if not isinstance(model, Encoder):
        raise LatentlabError(f"{what} needs an encoder, and a '{model.name}' model has none: use an ae, vae or cvae run")


def _unconditional(model, what: str) -> None:
    if isinstance(model, (ConditionalSampler, ConditionalEncoder)):
        raise LatentlabError(f"{what} works on the latent of an unconditional model; a '{model.name}' keeps the class in "
                             f"its label, not in z: draw a class with `latentlab sample RUN --label N` instead")


def latent_dim(model) -> int:
    """Size of the latent of an autoencoder-like model (its ``latent_dim`` setting; an AE's lecture
    architectures fix it from the image size)."""
    from latentlab.models.ae import AE
    _need_encoder(model, "a latent grid")
    return model.latent_dim if isinstance(model, AE) else model.cfg.latent_dim


@torch.no_grad()
def codes(model, x: torch.Tensor, y: torch.Tensor | None = None, batch_size: int = 1000) -> torch.Tensor:
    """Latent means of images x (N, C, H, W): (N, D). A conditional model needs the labels y."""
    _need_encoder(model, "encoding images")
    conditional = isinstance(model, ConditionalEncoder)
    if conditional and y is None:
        raise LatentlabError(f"a '{model.name}' encodes an image together with its label: the data have no labels")
    out = []
    for i in range(0, len(x), batch_size):
        yb = y[i:i + batch_size].to(model.device) if conditional else None  # an unconditional model takes no label
        out.append(model.latent(x[i:i + batch_size].to(model.device), yb))
    return torch.cat(out).cpu()


@torch.no_grad()
def decode(model, z: torch.Tensor, y: torch.Tensor | int | None = None) -> torch.Tensor:
    """Images (N, C, H, W) in [0, 1] decoded from latent vectors z (N, D) (with labels for a conditional model)."""
    _need_encoder(model, "decoding latent vectors")  # an autoencoder-like model: its decoder reads its codes
    z = z.to(model.device)
    y = model.check_labels(y, len(z))  # refuses a label on an unconditional model, asks one of a conditional one
    return model.decode(z, y).cpu()


# --- 1. the map ------------------------------------------------------------------------------
def latent_map(model, split, path: str | Path, classes: list[str] | None = None, n: int = 5000) -> tuple[Path, str]:
    """Scatter of the latent means of the first ``n`` images of ``split``; returns (path, note).

    Coloured by label when the split has labels (else uncoloured, and the note says so);
    a latent of more than two dimensions is shown on its first two principal components."""
    from latentlab.viz.plots import plot_latent
    x, y = split.x[:n], None if split.y is None else split.y[:n]
    z = codes(model, x, y).numpy()
    labels = None if y is None else y.numpy()
    note = "" if labels is not None else "the data have no labels: the map is drawn without colours"
    if z.shape[1] > 2:
        note = "; ".join(filter(None, [note, f"{z.shape[1]}-D latent shown on its first two principal components"]))
    title = f"{model.name}: latent means of {len(z)} test images"
    return plot_latent(z, labels, Path(path), classes, title=title), note


# --- 2. the manifold grid --------------------------------------------------------------------
def manifold_grid(model, path: str | Path | None = None, n: int = 15, label: int | None = None,
                  lo: float = 0.05, hi: float = 0.95) -> torch.Tensor:
    """Decode an n x n grid of prior quantiles of a 2-D latent: (n*n, C, H, W).

    z_j = Phi^-1(q_j), q evenly spaced in [lo, hi] (the inverse CDF of N(0, 1), as in Kingma and
    Welling's figure 4); rows go down z2 (high at the top), columns across z1."""
    from scipy.stats import norm
    if latent_dim(model) != 2:
        raise LatentlabError(f"the manifold grid needs a 2-D latent and this model's has {latent_dim(model)}: "
                             "train one with --latent-dim 2 (the --map works for any latent)")
    if n < 2:
        raise LatentlabError(f"the grid needs at least 2 points per side, got {n}")
    q = norm.ppf(np.linspace(lo, hi, n))  # (n,) quantiles of N(0, 1)
    z1, z2 = np.meshgrid(q, q[::-1])  # rows: z2 from high to low
    z = torch.tensor(np.stack([z1.ravel(), z2.ravel()], 1), dtype=torch.float32)  # (n*n, 2)
    images = decode(model, z, label)
    if path is not None:
        from latentlab.viz.plots import save_grid
        save_grid(images, path, nrow=n)
    return images


# --- 3. interpolation ------------------------------------------------------------------------
def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between vectors a, b (D,) at fractions t (T,): (T, D).

    slerp = sin((1-t) W) / sin W * a + sin(t W) / sin W * b, W the angle between a and b;
    the straight line when a and b are (anti)parallel, where the great circle is undefined."""
    cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1, 1))
    t = t[:, None]  # (T, 1)
    if float(torch.sin(omega)) < 1e-6:
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def interpolate(model, za: torch.Tensor, zb: torch.Tensor, steps: int = 10, method: str = "linear",
                label: int | None = None, seed: int = 0) -> torch.Tensor:
    """Images of ``steps`` points from za to zb (both (D,)), ends included: (steps, C, H, W).

    A conditional model draws the whole path with one ``label`` (the style moves, the class stays);
    a GAN without encoder takes the rest of its input from ``seed`` (see ``render``)."""
    if steps < 2:
        raise LatentlabError(f"interpolation needs at least 2 steps (the two ends), got {steps}")
    if method not in METHODS:
        raise LatentlabError(f"unknown interpolation {method!r}; choose from {', '.join(METHODS)}")
    t = torch.linspace(0, 1, steps)
    za, zb = za.float().cpu(), zb.float().cpu()
    z = (1 - t[:, None]) * za + t[:, None] * zb if method == "linear" else slerp(za, zb, t)  # (steps, D)
    return render(model, z, label, seed)


def class_means(model, split, n: int | None = None) -> torch.Tensor:
    """Mean latent vector of each class over (the first n images of) a labelled split: (K, D)."""
    _unconditional(model, "class-mean vectors")
    if split.y is None:
        raise LatentlabError("class means need labelled data, and this dataset has no labels")
    x, y = split.x[:n], split.y[:n]
    z = codes(model, x)
    k = int(y.max()) + 1
    means = torch.zeros(k, z.shape[1])
    for c in range(k):
        if (y == c).any():
            means[c] = z[y == c].mean(0)
        else:
            means[c] = float("nan")
    return means


def _class_index(means: torch.Tensor, c: int, classes: list[str] | None = None) -> torch.Tensor:
    if not 0 <= c < len(means) or torch.isnan(means[c]).any():
        raise LatentlabError(f"class {c} is not among the classes of the data (0..{len(means) - 1}"
                             f"{': ' + ', '.join(classes) if classes else ''})")
    return means[c]


# --- 4. arithmetic ---------------------------------------------------------------------------
def arithmetic(model, split, to: int, frm: int, images: list[int] | None = None, n_images: int = 8,
               classes: list[str] | None = None) -> torch.Tensor:
    """z(x) + mean(to) - mean(frm) for test images x (default: the first ``n_images`` of class ``frm``).

    Returns three rows of len(images): the images, their reconstructions, the shifted decodings:
    (3 * N, C, H, W). Class means are taken over the whole split."""
    means = class_means(model, split)
    shift = _class_index(means, to, classes) - _class_index(means, frm, classes)  # (D,)
    if images is None:
        images = torch.nonzero(split.y == frm).flatten()[:n_images].tolist()
    _check_indices(images, len(split.x))
    x = split.x[images]  # (N, C, H, W)
    z = codes(model, x)  # (N, D)
    return torch.cat([x.cpu(), decode(model, z), decode(model, z + shift)])


def _check_indices(idx: list[int], n: int) -> None:
    bad = [i for i in idx if not 0 <= i < n]
    if bad:
        raise LatentlabError(f"image index {bad[0]} is outside the test split (0..{n - 1})")


def interpolate_images(model, split, a: int, b: int, steps: int = 10, methods: tuple[str, ...] = METHODS,
                       by: str = "image", classes: list[str] | None = None) -> tuple[torch.Tensor, int]:
    """Interpolate between test images a and b (``by="image"``, the inputs shown at both ends), or
    between the mean latent vectors of classes a and b (``by="class"``, the "manipulating digits"
    figure). One row per method; returns (images, images per row)."""
    _unconditional(model, "interpolation")
    if by == "class":
        means = class_means(model, split)
        za, zb = _class_index(means, a, classes), _class_index(means, b, classes)
        rows = [interpolate(model, za, zb, steps, m) for m in methods]
        return torch.cat(rows), steps
    if by != "image":
        raise LatentlabError(f"interpolate by 'image' or 'class', got {by!r}")
    _check_indices([a, b], len(split.x))
    x = split.x[[a, b]]
    za, zb = codes(model, x)
    rows = [torch.cat([x[:1].cpu(), interpolate(model, za, zb, steps, m), x[1:].cpu()]) for m in methods]
    return torch.cat(rows), steps + 2


# --- 5. the interactive explorer's coordinates (``latentlab.explorer`` serves them) ----------
DIRECTIONS = 6  # sliders along the leading latent directions


def space_dim(model) -> int:
    """Size of the latent the explorer moves in: the codes of an encoder, else the z of a GAN's input."""
    if isinstance(model, Encoder):
        return latent_dim(model)
    if isinstance(model, LatentGenerator):
        return model.cfg.latent_dim
    raise _no_latent_space(model)


def _no_latent_space(model) -> LatentlabError:
    return LatentlabError(f"a '{model.name}' model has no latent space to explore: use an ae, vae, cvae, aae or "
                          "bigan run (a map of the test set), or a GAN (its noise z)")


@dataclass
class LatentSpace:
    """Where the explorer moves: slider coordinates c (K,) and a 2-D map, both tied to latent vectors z (D,).

        z = origin + (c * scale) @ basis          basis (K, D) orthonormal rows, scale (K,)

    With an encoder, ``origin`` is the mean of the test codes and ``basis`` their leading principal
    components (Pearson 1901), or the axes themselves for a 1-D or 2-D latent; ``scale`` is the codes'
    standard deviation along each direction, so c = 1 is one standard deviation. The map ``xy`` (N, 2)
    is the codes themselves for D <= 2 (exact), else their scores on the first two components, whose
    inverse transform ``from_xy`` gives z = origin + xy @ basis[:2]. A GAN without encoder has no map:
    its directions are the first K axes of z ~ N(0, I) (origin 0, scale 1)."""

    dim: int  # D
    origin: torch.Tensor  # (D,)
    basis: torch.Tensor  # (K, D)
    scale: torch.Tensor  # (K,)
    names: list[str]  # one per direction: "PC1" or "z1"
    xy: torch.Tensor | None = None  # (N, 2) the test codes on the map; None without an encoder
    labels: torch.Tensor | None = None  # (N,) their labels, None when the data have none
    axes: tuple[str, str] | None = None  # the map's axis names
    note: str = ""

    @property
    def pca(self) -> bool:
        return self.xy is not None and self.dim > 2

    def coords(self, z: torch.Tensor) -> torch.Tensor:
        """Slider coordinates of z (D,): c = ((z - origin) @ basis^T) / scale, (K,)."""
        return ((z - self.origin) @ self.basis.T) / self.scale

    def move(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """z with its coordinates along the K directions set to c (K,); the rest of z is kept: (D,)."""
        return z + ((c - self.coords(z)) * self.scale) @ self.basis

    def at(self, c: torch.Tensor) -> torch.Tensor:
        """The latent vector at coordinates c (K,) from the origin: (D,)."""
        return self.move(self.origin.clone(), c)

    def to_xy(self, z: torch.Tensor) -> torch.Tensor:
        """Map position of z (D,): (2,)."""
        if self.xy is None:
            raise LatentlabError("this model has no map: a GAN without encoder has no codes of test images")
        if self.pca:
            return (z - self.origin) @ self.basis[:2].T
        return torch.cat([z, z.new_zeros(2 - self.dim)])  # a 1-D latent lies on the x axis

    def from_xy(self, xy: torch.Tensor) -> torch.Tensor:
        """The latent vector under a map position xy (2,): exact for D <= 2, the PCA inverse transform beyond: (D,)."""
        if self.xy is None:
            raise LatentlabError("this model has no map: a GAN without encoder has no codes of test images")
        if self.pca:
            return self.origin + xy @ self.basis[:2]
        return xy[:self.dim].clone()


def latent_space(model, split=None, n: int = 5000, directions: int = DIRECTIONS) -> LatentSpace:
    """The explorer's coordinates from the codes of the first ``n`` images of ``split`` (an encoder),
    or from the prior of a GAN's noise (no split needed)."""
    d = space_dim(model)
    k = max(1, min(directions, d))
    if not isinstance(model, Encoder):  # a GAN: z ~ N(0, I), the first k axes
        return LatentSpace(d, torch.zeros(d), torch.eye(d)[:k], torch.ones(k), [f"z{i + 1}" for i in range(k)],
                           note=f"the '{model.name}' model has no encoder: there is no map of test images; draw samples and move "
                                f"along the first {k} axes of its noise z")
    if split is None or not len(split):
        raise LatentlabError("the latent map needs test images, and the run's dataset has no test split")
    x, y = split.x[:n], None if split.y is None else split.y[:n]
    z = codes(model, x, y).double()  # (N, D)
    origin = z.mean(0)
    notes = [] if y is not None else ["the data have no labels: the map is drawn without colours"]
    if d > 2:
        zc = z - origin  # (N, D)
        var, vecs = torch.linalg.eigh(zc.T @ zc / max(len(z) - 1, 1))  # PCA: the covariance's eigenpairs, ascending
        var, vecs = var.flip(0).clamp_min(0), vecs.flip(1).T  # (D,), (D, D) rows: the components, leading first
        basis, std = vecs[:k], var[:k].sqrt()  # (K, D), (K,) standard deviations of the scores
        ratio = var / var.sum().clamp_min(1e-300)
        names, axes = [f"PC{i + 1}" for i in range(k)], (f"PC1 ({ratio[0]:.0%})", f"PC2 ({ratio[1]:.0%})")
        notes.append(f"{d}-D latent: the map shows its first two principal components, the sliders its first {k}")
    else:
        basis = torch.eye(d, dtype=z.dtype)  # the latent's own axes
        std = z.std(0) if len(z) > 1 else z.new_zeros(d)
        names, axes = [f"z{i + 1}" for i in range(d)], ("z1", "z2")
    std = torch.where(std > 1e-6, std, torch.ones_like(std))  # a direction the codes never vary along: unit steps
    space = LatentSpace(d, origin.float(), basis.float(), std.float(), names, labels=y, axes=axes, note="; ".join(notes))
    if d > 2:
        space.xy = ((z - origin) @ basis[:2].T).float()  # (N, 2) PCA scores
    else:
        space.xy = torch.cat([z, z.new_zeros(len(z), 2 - d)], 1).float()  # (N, 2) the codes themselves
    return space


@torch.no_grad()
def prior_codes(model, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """n draws from the model's prior over its latent: (n, D). An AE draws from the Gaussian fitted to
    its training codes (what ``sample`` draws by default); the VAEs and GANs from N(0, I)."""
    from latentlab.models.ae import AE
    eps = torch.randn(n, space_dim(model), generator=generator)  # (n, D)
    if isinstance(model, AE):
        return model.latent_mean.cpu() + eps @ model.latent_chol.cpu().T
    return eps


@torch.no_grad()
def render(model, z: torch.Tensor, label: int | None = None, seed: int = 0) -> torch.Tensor:
    """Images (N, C, H, W) of latent vectors z (N, D): the decoder of an autoencoder-like model, or the
    generator of a GAN with z in the first D entries of its input; the rest of that input (a conditional
    GAN's one-hot label, InfoGAN's codes) is ``model.noise`` drawn with ``label`` from ``seed``."""
    if isinstance(model, Encoder):
        return decode(model, z, label)
    if not isinstance(model, LatentGenerator):
        raise _no_latent_space(model)
    y = model.check_labels(label, len(z))
    inp = model.noise(len(z), y, torch.Generator(device=model.device).manual_seed(seed))  # (N, in_dim)
    inp[:, :z.shape[1]] = z.to(model.device)
    return model.generate(inp).cpu()


def codes_of(model, split, indices: list[int]) -> torch.Tensor:
    """Codes of test images (a conditional model encodes each with its own label): (len(indices), D)."""
    _check_indices(indices, len(split.x))
    y = split.y[indices] if split.y is not None and isinstance(model, ConditionalEncoder) else None
    return codes(model, split.x[indices], y)


# --- 6. a GAN's latent: draws by seed, chosen vectors ----------------------------------------------
def seed_codes(model, seeds: list[int]) -> torch.Tensor:
    """The prior draw of each seed (what the explorer page's "sample" shows for that seed): (len(seeds), D)."""
    return torch.cat([prior_codes(model, 1, torch.Generator().manual_seed(s)) for s in seeds])


def interpolate_seeds(model, a: int, b: int, steps: int = 10, methods: tuple[str, ...] = METHODS,
                      label: int | None = None, seed: int = 0) -> tuple[torch.Tensor, int]:
    """Interpolate between the prior draws seeded ``a`` and ``b`` (any model with a prior over its latent:
    a GAN's z, a VAE's N(0, I), an AE's fitted Gaussian). One row per method, whose first and last images
    are the two draws'; returns (images, images per row). ``label``/``seed``: as in ``render``."""
    za, zb = seed_codes(model, [a, b])
    return torch.cat([interpolate(model, za, zb, steps, m, label, seed) for m in methods]), steps


def load_codes(path: str | Path, dim: int) -> torch.Tensor:
    """Latent vectors chosen by hand: a .npy file of shape (N, D) (one vector per row), D the latent's size."""
    path = Path(path)
    if path.suffix != ".npy" or not path.is_file():
        raise LatentlabError(f"--codes must name an existing .npy file of latent vectors, one per row; got {path}")
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise LatentlabError(f"{path} cannot be read as a .npy array ({e}); write it with numpy.save") from e
    if z.ndim != 2 or z.shape[1] != dim or not np.issubdtype(z.dtype, np.number):
        raise LatentlabError(f"{path} holds an array of shape {z.shape} ({z.dtype}); the latent has {dim} dimensions, "
                             f"so it must be (N, {dim}) numbers, one vector per row")
    if not np.isfinite(z).all():
        raise LatentlabError(f"{path} holds NaN or infinite entries: every latent vector must be finite")
    return torch.as_tensor(z, dtype=torch.float32)


# --- 7. concepts: codes grouped by class, vector arithmetic and attribute editing -----------------
POOL = 2000  # samples a GAN without labels draws to find its concepts
PER_CLASS = 16  # samples averaged per concept (Radford et al. 2016 average three)


@dataclass
class Concepts:
    """Latent codes grouped by class: the "concepts" of vector arithmetic (Radford et al. 2016, section 6.3:
    z(smiling woman) - z(neutral woman) + z(neutral man), each the mean of several samples) and the
    attribute vectors of the lectures (a "smile" direction: the mean code of smiling faces minus the mean
    code of the others; White 2016).

    With an encoder the codes are the latent means of every test image of each class (its label). With a
    GAN they are whole generator inputs (z, plus a conditional GAN's one-hot label or InfoGAN's codes),
    grouped by the label they were drawn with (a conditional GAN: ``per_class`` draws per label) or by the
    class the evaluation classifier gives their images (the first ``per_class`` of each class among
    ``pool`` draws); ``found`` counts the members of each class before that cut."""

    codes: dict[int, torch.Tensor]  # class -> (n_c, D) codes, n_c >= 1
    index: dict[int, torch.Tensor]  # class -> (n_c,) the test images / the draws of the pool they are
    num_classes: int
    classes: list[str] | None  # names, for messages
    source: str  # how the groups were made, one line
    found: dict[int, int]  # class -> members before the per_class cut
    pool: int | None = None  # draws of a GAN without labels (None: test images, or drawn per label)

    def name(self, c: int) -> str:
        return f"{c} ({self.classes[c]})" if self.classes and c < len(self.classes) and self.classes[c] != str(c) else str(c)

    def check(self, *cs: int) -> None:
        """Classes with at least one member each, else a LatentlabError saying how to get one."""
        for c in cs:
            if not 0 <= c < self.num_classes:
                raise LatentlabError(f"class {c} is not among the classes of the data (0..{self.num_classes - 1}"
                                     f"{': ' + ', '.join(self.classes) if self.classes else ''})")
        for c in cs:
            if c in self.codes:
                continue
            if self.pool is not None:
                where = ", ".join(f"{k}: {n:,}" for k, n in sorted(self.found.items(), key=lambda kv: -kv[1]))
                raise LatentlabError(f"none of the {self.pool:,} samples was classified {self.name(c)} by the evaluation "
                                     f"classifier (samples per class: {where}): draw more with --pool, train the GAN "
                                     "longer, or choose another class")
            raise LatentlabError(f"no test image is labelled {self.name(c)}: choose another class")

    def mean(self, c: int) -> torch.Tensor:
        """The concept vector of class c: the mean of its codes, (D,)."""
        self.check(c)
        return self.codes[c].mean(0)

    def direction(self, to: int, frm: int) -> torch.Tensor:
        """mean(to) - mean(frm): the vector that turns a member of ``frm`` into one of ``to``, (D,)."""
        self.check(to, frm)
        return self.mean(to) - self.mean(frm)


def image_concepts(model, split, classes: list[str] | None = None) -> Concepts:
    """The codes of every test image of ``split``, grouped by label (an unconditional encoder)."""
    _need_encoder(model, "grouping codes by class")
    _unconditional(model, "class-mean vectors")
    if split.y is None:
        raise LatentlabError("class means need labelled data, and this dataset has no labels")
    z = codes(model, split.x)  # (N, D)
    k = len(classes) if classes else int(split.y.max()) + 1
    index = {c: torch.nonzero(split.y == c).flatten() for c in range(k)}
    index = {c: i for c, i in index.items() if len(i)}
    return Concepts({c: z[i] for c, i in index.items()}, index, k, classes,
                    f"the latent means of the {len(split.x):,} test images, grouped by their labels",
                    {c: len(i) for c, i in index.items()})


@torch.no_grad()
def sample_concepts(model, classify=None, classes: list[str] | None = None, pool: int = POOL,
                    per_class: int = PER_CLASS, generator: torch.Generator | None = None,
                    batch_size: int = 500) -> Concepts:
    """A GAN's generator inputs grouped by class.

    A conditional GAN draws ``per_class`` inputs with each label. Any other generator draws ``pool``
    inputs, generates their images and groups the inputs by ``classify(images) -> (N,) classes`` (the
    evaluation classifier's ``predict``), keeping the first ``per_class`` of each class; ``classes``
    names the classifier's classes. Every draw comes from ``generator``."""
    if not isinstance(model, LatentGenerator):
        raise _no_latent_space(model)
    if per_class < 1:
        raise LatentlabError(f"--per-class must be at least 1, got {per_class}")
    if isinstance(model, ConditionalSampler):
        k = model.num_classes
        y = torch.arange(k, device=model.device).repeat_interleave(per_class)  # (K * per_class,)
        inputs = model.noise(len(y), y, generator).cpu()  # (K * per_class, in_dim)
        index = {c: torch.arange(c * per_class, (c + 1) * per_class) for c in range(k)}
        return Concepts({c: inputs[i] for c, i in index.items()}, index, k, classes,
                        f"{per_class} generator inputs drawn with each label", {c: per_class for c in range(k)})
    if classify is None or not classes:
        raise LatentlabError(f"a '{model.name}' draws unlabelled samples: grouping them by class needs a classifier "
                             "of their images (the evaluation classifier of the run's dataset)")
    if pool < per_class:
        raise LatentlabError(f"--pool ({pool}) must be at least --per-class ({per_class})")
    inputs = model.noise(pool, None, generator).cpu()  # (pool, in_dim)
    labels = np.concatenate([np.asarray(classify(model.generate(b.to(model.device)).cpu()))
                             for b in inputs.split(batch_size)])  # (pool,)
    found = {c: int((labels == c).sum()) for c in range(len(classes)) if (labels == c).any()}
    index = {c: torch.as_tensor(np.flatnonzero(labels == c)[:per_class]) for c in found}
    return Concepts({c: inputs[i] for c, i in index.items()}, index, len(classes), classes,
                    f"the first {per_class} of {pool:,} samples the evaluation classifier puts in each class",
                    found, pool)


@torch.no_grad()
def render_codes(model, z: torch.Tensor, label: int | None = None, batch_size: int = 500) -> torch.Tensor:
    """Images of codes as ``Concepts`` holds them: an encoder's latent vectors (``decode``), or a GAN's
    whole generator inputs (``generate``): (N, C, H, W)."""
    if isinstance(model, Encoder):
        return decode(model, z, label)
    if not isinstance(model, LatentGenerator):
        raise _no_latent_space(model)
    return torch.cat([model.generate(b.to(model.device)).cpu() for b in z.float().split(batch_size)])


def _members(concepts: Concepts, frm: int, to: int, n: int) -> torch.Tensor:
    concepts.check(frm, to)
    if n < 1:
        raise LatentlabError(f"the number of images must be at least 1, got {n}")
    return concepts.codes[frm][:n]


def sample_arithmetic(model, concepts: Concepts, to: int, frm: int, n: int = 8) -> torch.Tensor:
    """z + mean(to) - mean(frm) for the first ``n`` members z of class ``frm`` (Radford et al. 2016,
    figure 7, on classes): two rows of len(z), the members' images and the shifted ones, (2 * N, C, H, W)."""
    base = _members(concepts, frm, to, n)  # (N, D)
    shift = concepts.direction(to, frm)  # (D,)
    return torch.cat([render_codes(model, base), render_codes(model, base + shift)])


def edit(model, concepts: Concepts, frm: int, to: int, strengths: list[float] = (0.0, 0.5, 1.0, 1.5),
         base: torch.Tensor | None = None, n: int = 8) -> torch.Tensor:
    """Attribute editing: z + s * (mean(to) - mean(frm)) for each strength s, for the codes ``base``
    (N, D) (default: the first ``n`` members of class ``frm``). One row per code, one column per
    strength (strength 0: the code's own image): (N * S, C, H, W)."""
    if not len(strengths):
        raise LatentlabError("give at least one strength")
    base = _members(concepts, frm, to, n) if base is None else base.float()
    d = concepts.direction(to, frm)  # (D,)
    s = torch.as_tensor(list(strengths), dtype=torch.float32)  # (S,)
    z = base[:, None, :] + s[None, :, None] * d  # (N, S, D)
    return render_codes(model, z.reshape(-1, z.shape[-1]))


def interpolate_concepts(model, concepts: Concepts, a: int, b: int, steps: int = 10,
                         methods: tuple[str, ...] = METHODS) -> tuple[torch.Tensor, int]:
    """Interpolate between the concept vectors of classes a and b (``Concepts.mean``), one row per method."""
    concepts.check(a, b)
    za, zb = concepts.mean(a), concepts.mean(b)
    if steps < 2:
        raise LatentlabError(f"interpolation needs at least 2 steps (the two ends), got {steps}")
    t = torch.linspace(0, 1, steps)
    rows = [render_codes(model, (1 - t[:, None]) * za + t[:, None] * zb if m == "linear" else slerp(za, zb, t))
            for m in methods]
    return torch.cat(rows), steps


def evaluator_of_run(run: str | Path, data_dir: str | None = None):
    """The evaluation classifier of a run's dataset (``latentlab.evaluation.classifier``): the shipped one
    for digits, mnist and fashion-mnist at their own size, else one trained on this machine and cached
    (minutes, once). A dataset without labels has none: a LatentlabError says what to do instead."""
    from latentlab.evaluation.classifier import SHIPPED, SHIPPED_SHAPES, evaluator_data, get_evaluator
    from latentlab.training.run_folder import read_run
    info = read_run(run)
    t = info.train
    if t.dataset in SHIPPED and tuple(info.shape) == SHIPPED_SHAPES[t.dataset]:
        return get_evaluator(t.dataset)
    data = evaluator_data(t.dataset, data_dir or t.data_dir, t.image_size)
    if data.classes is None or data.train.y is None:
        raise LatentlabError(f"a '{info.model_name}' draws unlabelled samples, and latentlab groups them by the classes the "
                             f"evaluation classifier gives them; the run's dataset {t.dataset!r} has no labels to train one "
                             "on. Interpolate between draws instead (--interpolate SEED_A SEED_B), or train a conditional "
                             "GAN (cgan, acgan) on labelled data")
    return get_evaluator(data)
