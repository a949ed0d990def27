"""The model registry: every module in this package that defines a
``GenerativeModel`` subclass with ``@register`` becomes a model of the CLI and API."""
from __future__ import annotations

import importlib
import pkgutil

from latentlab.errors import LatentlabError
from latentlab.models.base import GenerativeModel

MODELS: dict[str, type[GenerativeModel]] = {}


def register(cls: type[GenerativeModel]) -> type[GenerativeModel]:
    """Class decorator: make a model available by its ``name``."""
    if cls.name in MODELS:
        raise RuntimeError(f"two models are named {cls.name!r}")
    MODELS[cls.name] = cls
    return cls


def get_model_class(name: str) -> type[GenerativeModel]:
    if name not in MODELS:
        raise LatentlabError(f"unknown model {name!r}; choose from {', '.join(sorted(MODELS))}")
    return MODELS[name]


for _info in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_info.name}")
