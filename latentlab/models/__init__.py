"""The model registry: an explicit table of name -> class, imported only when asked for.

``MODELS`` holds the image models (``latentlab train NAME``, ``latentlab list``);
``SHOWER_MODELS`` the calorimeter-shower models, trained with ``latentlab calo train MODEL``
(their maths lives in ``latentlab.calo``). ``get_model_class`` finds either, so
``latentlab.load`` reads every run folder. A new model is one file here and one line below.
"""
from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from latentlab.errors import LatentlabError


class Registry(Mapping):
    """name -> model class, each imported on first use (no import side effects at start-up)."""

    def __init__(self, paths: dict[str, str]):
        self.paths = dict(paths)  # name -> "module:Class"
        self._loaded: dict[str, type] = {}

    def __getitem__(self, name: str) -> type:
        if name not in self._loaded:
            module, cls = self.paths[name].split(":")
            self._loaded[name] = getattr(importlib.import_module(module), cls)
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.paths)

    def __len__(self) -> int:
        return len(self.paths)


MODELS = Registry({
    "ae": "latentlab.models.ae:AE",
    "vae": "latentlab.models.vae:VAE",
    "cvae": "latentlab.models.cvae:CVAE",
    "gan": "latentlab.models.gan:GAN",
    "dcgan": "latentlab.models.dcgan:DCGAN",
    "cgan": "latentlab.models.cgan:CGAN",
    "acgan": "latentlab.models.acgan:ACGAN",
    "infogan": "latentlab.models.infogan:InfoGAN",
    "aae": "latentlab.models.aae:AAE",
    "bigan": "latentlab.models.bigan:BiGAN",
    "gaussian": "latentlab.models.density:Gaussian",
    "kde": "latentlab.models.density:KDE",
    "vade": "latentlab.models.vade:VaDE",
    "vae2": "latentlab.models.vae2:TwoLayerVAE",
    "sgan": "latentlab.models.sgan:SGAN",
    "wgan-gp": "latentlab.models.wgan_gp:WGANGP",
    "pixelcnn": "latentlab.models.pixelcnn:PixelCNN",
    "ddpm": "latentlab.models.ddpm:DDPM",
})
SHOWER_MODELS = Registry({
    "calo-wgan": "latentlab.calo.wgan:CaloWGAN",
    "calo-vae": "latentlab.calo.vae:CaloVAE",
    "calo-flow": "latentlab.calo.flow:CaloFlow",
})


def get_model_class(name: str) -> type:
    for registry in (MODELS, SHOWER_MODELS):
        if name in registry:
            return registry[name]
    raise LatentlabError(f"unknown model {name!r}; choose from {', '.join(sorted(MODELS))} "
                         f"(shower models: {', '.join(SHOWER_MODELS)}, with `latentlab calo train MODEL`)")
