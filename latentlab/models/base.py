"""What every latentlab model is, as far as the training loop is concerned.

A model owns its losses. It names its optimiser groups (``optimizer_groups``),
the order in which they step (``schedule``: one entry per batch, cycled), and
returns the named loss terms for one group on one batch (``loss``). The loop
minimises ``terms["loss"]`` for that group with the other parameters frozen and
logs every other term. A VAE has one group; a GAN has a discriminator and a
generator group and a schedule such as ``["discriminator"] * k + ["generator"]``.

What a model can do beyond training is said by the interfaces it inherits, and
asked with ``isinstance`` (never by flags or ``hasattr``):

    Sampler             sample(n, y=None, generator=None) -> (n, C, H, W) in [0, 1]
    ConditionalSampler  a Sampler that needs labels y (n,) in 0..num_classes-1
    Encoder             latent(x, y=None) -> (B, D) codes; reconstruct(x, y=None) -> images
    ConditionalEncoder  an Encoder that needs the labels of the images
    LikelihoodModel     posterior(x, y=None) -> (mu, logvar); log_px_given_z(x, z, y=None) -> (S, B)
    ExactLikelihood     log_prob(x) -> (B,) exact log-likelihood in nats (PixelCNN, Gaussian, KDE)
    ImportanceSampled   log_likelihood(x, k, generator=None, chunk=None) -> (B,) its own importance-sampled estimate
    SemiSupervised      trains on partly labelled data (label -1: unlabelled; TrainConfig.labels); classify(x) -> (B,),
                        predict_proba(x) -> (B, K)
    LatentGenerator     a generator of images from codes: noise(n, y=None, generator=None), generate(codes)

Everything a user is handed (samples, codes, reconstructions) is computed without autograd.
"""
from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from latentlab.errors import LatentlabError


class GenerativeModel(nn.Module):
    name: ClassVar[str] = ""  # registry name, e.g. "vae"
    Config: ClassVar[type]  # the model's flat dataclass of settings
    # This model's defaults for TrainConfig fields (e.g. GANs: lr 2e-4, Adam betas (0.5, 0.999)): the one
    # place a per-model training default lives; --help shows it and the API uses it (config.train_defaults).
    train_defaults: ClassVar[dict] = {}
    eval_hint: ClassVar[str | None] = None  # set when `latentlab eval` cannot serve this model: what to run instead

    def __init__(self, cfg: Any, shape: tuple[int, int, int], num_classes: int | None = None):
        super().__init__()
        self.cfg = cfg
        self.shape = tuple(shape)  # (C, H, W) of the data
        self.num_classes = num_classes

    # --- what the training loop calls -------------------------------------------------
    def optimizer_groups(self) -> dict[str, list[nn.Parameter]]:
        """Optimiser name -> the parameters it steps on."""
        return {"model": [p for p in self.parameters() if p.requires_grad]}

    def schedule(self) -> list[str]:
        """Which group steps on each successive batch (cycled)."""
        return list(self.optimizer_groups())

    def loss(self, x: torch.Tensor, y: torch.Tensor | None, group: str) -> dict[str, torch.Tensor]:
        """Named loss terms for one batch; ``terms["loss"]`` is what ``group`` minimises."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, y: torch.Tensor | None, group: str) -> dict[str, torch.Tensor]:
        """The loss terms: ``forward`` so that DistributedDataParallel sees the computation."""
        return self.loss(x, y, group)

    def evaluate(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Validation/test terms for one batch (called under no_grad); "loss" drives early stopping."""
        return self.loss(x, y, self.schedule()[0])

    def fit_start(self, x_train: torch.Tensor) -> None:
        """Called once, before the first step of a new run (never on --resume), with the training images:
        a data-dependent initialisation (the VAE's output bias)."""

    def fit_end(self, x_train: torch.Tensor) -> None:
        """Called after every epoch, before validation, with the training images (fit the AE's latent
        Gaussian; fit a closed-form density, whose model has no optimiser groups)."""

    # --- what users call ----------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def check_labels(self, y: torch.Tensor | int | None, n: int) -> torch.Tensor | None:
        """Validate labels for conditional sampling; returns (n,) long tensor or None."""
        if y is None:
            if isinstance(self, (ConditionalSampler, ConditionalEncoder)):
                raise LatentlabError(f"model '{self.name}' is conditional: give a label (--label 0..{self.num_classes - 1})")
            return None
        if not isinstance(self, (ConditionalSampler, ConditionalEncoder)):
            raise LatentlabError(f"model '{self.name}' is not conditional: drop --label, or train a conditional model")
        y = torch.as_tensor(y, dtype=torch.long, device=self.device)
        if y.dim() == 0:
            y = y.expand(n)
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise LatentlabError(f"label {int(y.max() if y.max() >= self.num_classes else y.min())} is outside the trained classes 0..{self.num_classes - 1}")
        return y


# --- capabilities: a model inherits the interfaces it implements ---------------------------
class Sampler:
    """Draws new images from the model's prior."""

    def sample(self, n: int, y: torch.Tensor | int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, C, H, W) in [0, 1]; ``y`` only for a ConditionalSampler; every draw from ``generator``."""
        raise NotImplementedError


class ConditionalSampler(Sampler):
    """A Sampler whose ``sample(n, y)`` needs labels (an int or (n,) tensor in 0..num_classes-1)."""

    num_classes: int


class Encoder:
    """Maps images to latent codes and back."""

    def latent(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """A deterministic code per image (the posterior mean of a VAE): (B, D)."""
        raise NotImplementedError

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """decode(latent(x)): (B, C, H, W) in [0, 1]. A model whose decoder needs more than the code
        (the conditional VAE's label) overrides it."""
        return self.decode(self.latent(x, y))


class ConditionalEncoder(Encoder):
    """An Encoder that needs the labels of the images (``latent(x, y)``, ``reconstruct(x, y)``)."""

    num_classes: int


class LikelihoodModel:
    """A latent-variable model with a Gaussian posterior: what importance sampling needs
    (``latentlab.evaluation.likelihood``) and what the IWAE bound is written against."""

    def posterior(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of q(z|x), each (B, D)."""
        raise NotImplementedError

    def log_px_given_z(self, x: torch.Tensor, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x|z) summed over pixels for S draws per image: x (B, C, H, W), z (S, B, D) -> (S, B)."""
        raise NotImplementedError


class ExactLikelihood:
    """A model whose likelihood is tractable: ``latentlab eval RUN --nll`` scores it exactly, in the
    same nats per image as the importance-sampled figure of a LikelihoodModel."""

    continuous: bool = False  # True: a density of grey levels (Gaussian, KDE); False: binary pixels (PixelCNN)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) per image, (B,), in nats (a probability for binary pixels, a density for grey levels)."""
        raise NotImplementedError


class ImportanceSampled:
    """A latent-variable model that estimates its own log-likelihood by importance sampling (Burda et al.
    2015, eq. 8) where the one-Gaussian-posterior LikelihoodModel does not fit: two stochastic layers (vae2),
    a mixture prior (vade). ``latentlab eval RUN --nll`` calls it."""

    continuous: bool = False  # True: a density of grey levels; False: binary pixels

    def log_likelihood(self, x: torch.Tensor, k: int, generator: torch.Generator | None = None,
                       chunk: int | None = None) -> torch.Tensor:
        """log (1/k) sum_i w_i per image, (B,), in nats; every draw from ``generator``."""
        raise NotImplementedError


class SemiSupervised:
    """A model that learns from partly labelled data: a training label of -1 marks an unlabelled image
    (``TrainConfig.labels`` keeps the labels of only that many training images). It is also a classifier."""

    num_classes: int

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """The predicted class of each image, (B,) in 0..num_classes-1."""
        raise NotImplementedError

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """p(y = k | x) for the K classes: (B, C, H, W) -> (B, K), each row summing to 1."""
        raise NotImplementedError


class LatentGenerator(Sampler):
    """A generator network driven by codes (the GANs): the training pictures use its fixed code batch."""

    fixed_input: torch.Tensor  # (N, in_dim) codes drawn once at construction and saved with the weights
    grid_cols: int = 8  # the fixed code batch is drawn as a grid this wide
    critic: bool = False  # True when D outputs scores, not probabilities (WGAN-GP)

    def noise(self, n: int, y: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """The generator's input for n images (labels y for conditional models): (n, in_dim)."""
        raise NotImplementedError

    def generate(self, codes: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] from generator inputs: (B, in_dim) -> (B, C, H, W)."""
        raise NotImplementedError
