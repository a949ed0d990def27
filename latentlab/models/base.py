"""What every latentlab model is, as far as the training loop is concerned.

A model owns its losses. It names its optimiser groups (``optimizer_groups``),
the order in which they step (``schedule``: one entry per batch, cycled), and
returns the named loss terms for one group on one batch (``loss``). The loop
minimises ``terms["loss"]`` for that group with the other parameters frozen and
logs every other term. A VAE has one group; a GAN has a discriminator and a
generator group and a schedule such as ``["discriminator"] * k + ["generator"]``.
"""
from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from latentlab.errors import LatentlabError


class GenerativeModel(nn.Module):
    name: ClassVar[str] = ""  # registry name, e.g. "vae"
    Config: ClassVar[type]  # the model's flat dataclass of settings
    can_sample: ClassVar[bool] = False  # sample(n) draws new images
    can_encode: ClassVar[bool] = False  # encode(x) / decode(z) / reconstruct(x)
    conditional: ClassVar[bool] = False  # sample(n, y=...) takes labels
    adam_betas: ClassVar[tuple[float, float]] = (0.9, 0.999)  # GANs use DCGAN's (0.5, 0.999)
    eval_hint: ClassVar[str | None] = None  # set when `latentlab eval` cannot serve this model: what to run instead
    default_lr: ClassVar[float | None] = None  # learning rate when none is given (GANs: 2e-4), else TrainConfig's

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

    def fit_end(self, x_train: torch.Tensor) -> None:
        """Called once after training with the training images (e.g. fit a latent Gaussian)."""

    def epoch_end(self, run_dir: str, epoch: int) -> None:
        """Called after every epoch by rank 0 (e.g. save a sample grid for an animation)."""

    # --- what users call ----------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def sample(self, n: int, y: torch.Tensor | int | None = None) -> torch.Tensor:
        raise LatentlabError(f"model '{self.name}' cannot sample new images")

    def encode(self, x: torch.Tensor) -> Any:
        raise LatentlabError(f"model '{self.name}' has no encoder")

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        raise LatentlabError(f"model '{self.name}' cannot reconstruct images")

    def latent(self, x: torch.Tensor) -> torch.Tensor:
        """A deterministic latent code per image (the mean for a VAE), for plots and clustering."""
        raise LatentlabError(f"model '{self.name}' has no encoder")

    def check_labels(self, y: torch.Tensor | int | None, n: int) -> torch.Tensor | None:
        """Validate labels for conditional sampling; returns (n,) long tensor or None."""
        if y is None:
            if self.conditional:
                raise LatentlabError(f"model '{self.name}' is conditional: give a label (--label 0..{self.num_classes - 1})")
            return None
        if not self.conditional:
            raise LatentlabError(f"model '{self.name}' is not conditional: drop --label, or train a conditional model")
        y = torch.as_tensor(y, dtype=torch.long, device=self.device)
        if y.dim() == 0:
            y = y.expand(n)
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise LatentlabError(f"label {int(y.max() if y.max() >= self.num_classes else y.min())} is outside the trained classes 0..{self.num_classes - 1}")
        return y
