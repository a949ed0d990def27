"""Flat, typed settings.

Two dataclasses describe a run: ``TrainConfig`` (data, optimiser, loop) and the
model's own ``Config`` (architecture and loss). Every field has a default and a
help text; the CLI options are generated from these fields, and the pair is saved
as ``config.json`` beside the weights. Unknown keys are an error, never ignored.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from latentlab.errors import ConfigError


def setting(default: Any, help: str, choices: tuple | None = None) -> Any:
    """A dataclass field with its help text (the 'comment per field')."""
    meta = {"help": help}
    if choices is not None:
        meta["choices"] = choices
    return field(default=default, metadata=meta)


OPTIMIZERS = ("adam", "rmsprop", "sgd")
LR_SCHEDULES = ("constant", "cosine", "linear")
BINARIZE = ("none", "static", "dynamic")


@dataclass
class TrainConfig:
    dataset: str = setting("digits", "named dataset (digits, mnist, fashion-mnist) or a path to .npy/.npz or an image folder")
    data_dir: str | None = setting(None, "folder holding the dataset's files (else LATENTLAB_DATA, the cache, /usr/share/datasets)")
    image_size: int | None = setting(None, "resize images of a folder dataset to this square size")
    val_fraction: float = setting(0.1, "fraction of the training split held out for validation")
    val_images: int = setting(1000, "held-out images scored by the validation after each epoch: the first N of the split, the "
                                    "same every epoch (0: all of them); `latentlab eval` always scores the whole test split")
    labels: int | None = setting(None, "semi-supervised (sgan): keep the labels of only this many training images, balanced over "
                                       "the classes and chosen by seed; the others train unlabelled (label -1); "
                                       "validation and test keep theirs (default: every label)")
    binarize: str = setting("none", "none: grey levels in [0,1]; static: threshold once; dynamic: Bernoulli resample every batch", BINARIZE)
    threshold: float = setting(0.5, "threshold for static binarization")
    epochs: int = setting(10, "passes over the training split")
    minutes: float = setting(0.0, "time budget: stop training after this many minutes of the loop (steps, validation, "
                                  "checkpoints, pictures; not the data loading), ending the epoch there with its validation "
                                  "and checkpoint; epochs still caps the run (0: no budget)")
    batch_size: int = setting(128, "images per optimiser step")
    lr: float = setting(1e-3, "learning rate of every optimiser")
    lr_schedule: str = setting("constant", "learning rate over the run: constant, or decayed from lr to lr_floor * lr by a "
                                           "half cosine or a straight line; the run's progress is the further of steps/"
                                           "(epochs x batches) and time spent/minutes", LR_SCHEDULES)
    lr_floor: float = setting(0.0, "where the cosine or linear schedule ends, as a fraction of lr")
    optimizer: str = setting("adam", "optimiser", OPTIMIZERS)
    momentum: float = setting(0.9, "SGD momentum; RMSprop momentum is 0")
    beta1: float = setting(0.9, "Adam beta1: decay rate of the running mean of gradients (GANs 0.5, WGAN-GP 0)")
    beta2: float = setting(0.999, "Adam beta2: decay rate of the running mean of squared gradients (WGAN-GP 0.9)")
    weight_decay: float = setting(0.0, "L2 weight decay")
    ema: float = setting(0.0, "decay of an exponential moving average of the weights, applied after every optimiser step; "
                              "validation, pictures and the saved weights are the average's (0 = off; e.g. 0.999 for GANs)")
    seed: int = setting(0, "seed for weights, splits, batch order and noise")
    patience: int = setting(0, "early stopping: stop after this many epochs without a better validation loss (0 = off)")
    log_every: int = setting(50, "steps between two points of the step/ scalars in RUN/tensorboard (0: none)")
    checkpoint_every: float = setting(10.0, "minutes between mid-epoch checkpoints, so a crash loses at most that much work; "
                                            "0 = only at epoch end")
    device: str = setting("auto", "auto picks CUDA when present", ("auto", "cpu", "cuda"))
    amp: bool = setting(True, "mixed precision (bfloat16 autocast) on CUDA; no effect on the CPU")
    out: str | None = setting(None, "run folder (default runs/<model>-<dataset>-<timestamp>)")
    progress: bool = setting(True, "show a progress bar")

    def validate(self) -> None:
        """Every number in its natural range, so that no value reaches torch, numpy or scikit-learn to fail there."""
        if self.epochs < 1:
            raise ConfigError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {self.batch_size}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"lr must be positive and finite, got {self.lr}")
        if not 0 <= self.val_fraction < 1:
            raise ConfigError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.val_images < 0:
            raise ConfigError(f"val_images must be >= 0 (0: validate on every held-out image), got {self.val_images}")
        if self.labels is not None and self.labels < 1:
            raise ConfigError(f"labels must be a positive number of labelled training images (at least one per class), "
                              f"got {self.labels}; leave it out to keep every label")
        if self.image_size is not None and self.image_size < 1:
            raise ConfigError(f"image_size must be a positive number of pixels, got {self.image_size}")
        if not 0 < self.threshold < 1:
            raise ConfigError(f"threshold (static binarization) must be strictly between 0 and 1, got {self.threshold}")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"{name} (Adam) must be in [0, 1), got {getattr(self, name)}")
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"momentum (SGD) must be in [0, 1), got {self.momentum}")
        if not 0 <= self.ema < 1:
            raise ConfigError(f"ema (the decay of the weights' moving average) must be in [0, 1) (0 = off), got {self.ema}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ConfigError(f"weight_decay must be >= 0 and finite (0 = none), got {self.weight_decay}")
        check_seed(self.seed)
        if self.patience < 0:
            raise ConfigError(f"patience must be >= 0 (0 turns early stopping off), got {self.patience}")
        if not (math.isfinite(self.checkpoint_every) and self.checkpoint_every >= 0):
            raise ConfigError(f"checkpoint_every must be minutes >= 0 (0: checkpoints only at epoch end), got {self.checkpoint_every}")
        if not (math.isfinite(self.minutes) and self.minutes >= 0):
            raise ConfigError(f"minutes (the time budget) must be >= 0 and finite (0: no budget), got {self.minutes}")
        if not 0 <= self.lr_floor <= 1:
            raise ConfigError(f"lr_floor must be a fraction of lr in [0, 1], got {self.lr_floor}")
        if self.patience and self.val_fraction == 0:
            raise ConfigError("early stopping (patience > 0) needs a validation split: set val_fraction > 0")
        check_choices(self)


SEED_MAX = 2**32 - 1  # seeds reach numpy and scikit-learn (the splits), which take 0 .. 2**32 - 1


def check_seed(seed: int, name: str = "seed") -> int:
    """A seed in [0, 2**32 - 1], the range every random generator latentlab seeds accepts (torch takes
    more, numpy and scikit-learn do not); otherwise a ConfigError naming ``name`` (e.g. "--seed")."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        raise ConfigError(f"{name} must be a whole number from 0 to {SEED_MAX} (2**32 - 1), got {seed!r}")
    return seed


def train_defaults(cls: type) -> dict[str, Any]:
    """TrainConfig's field defaults with a model class's own overrides (``cls.train_defaults``, e.g.
    lr 2e-4 and Adam betas (0.5, 0.999) for the GANs): what a run of ``cls`` uses for every unset field."""
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(cls.train_defaults) - set(defaults))
    if unknown:
        raise ConfigError(f"{cls.__name__}.train_defaults names {', '.join(unknown)}, which are not TrainConfig fields")
    return {**defaults, **cls.train_defaults}


def check_choices(cfg: Any) -> None:
    """Raise ConfigError for a field whose value is not among its declared choices."""
    for f in dataclasses.fields(cfg):
        choices = f.metadata.get("choices")
        value = getattr(cfg, f.name)
        if choices and value not in choices:
            raise ConfigError(f"{f.name} must be one of {', '.join(map(str, choices))}; got {value!r}")


def field_type(cls: type, f: dataclasses.Field) -> tuple[type, bool]:
    """(base type, optional?) of a field, resolving `int | None` style hints."""
    hint = typing.get_type_hints(cls)[f.name]
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        return next(a for a in args if a is not type(None)), True
    return hint, False


def coerce(cls: type, name: str, value: Any) -> Any:
    """Check (and, for JSON ints given to float fields, widen) one value."""
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    base, optional = field_type(cls, f)
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{name} cannot be empty (None); give a {base.__name__}")
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if base is bool and not isinstance(value, bool) or base is not bool and isinstance(value, bool):
        raise ConfigError(f"{name} must be a {base.__name__}, got {value!r}")
    if not isinstance(value, base):
        raise ConfigError(f"{name} must be a {base.__name__}, got {type(value).__name__} {value!r}")
    return value


def from_dict(cls: type, values: dict[str, Any], what: str = "setting") -> Any:
    """Build a config dataclass; unknown keys are an error listing the valid ones."""
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(f"unknown {what}(s) {', '.join(unknown)}; valid: {', '.join(names)}")
    cfg = cls(**{k: coerce(cls, k, v) for k, v in values.items()})
    if hasattr(cfg, "validate"):
        cfg.validate()
    else:
        check_choices(cfg)
    return cfg


def split_settings(model_config: type, settings: dict[str, Any]) -> tuple[dict, dict]:
    """Split flat keyword settings into (train, model) dicts; unknown keys are an error."""
    train_names = {f.name for f in dataclasses.fields(TrainConfig)}
    model_names = {f.name for f in dataclasses.fields(model_config)}
    unknown = sorted(set(settings) - train_names - model_names)
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(train_names | model_names))}")
    train = {k: v for k, v in settings.items() if k in train_names}
    model = {k: v for k, v in settings.items() if k in model_names}
    return train, model
