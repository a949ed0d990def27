"""Learning to simulate: train a shower model on an HDF5 file, and generate showers from a run.

    from latentlab.calo.generate import train_showers, generate, generate_to_file
    run = train_showers("showers.h5", model="calo-wgan", epochs=20, out="runs/calo")  # -> latentlab Run
    showers = generate(run.dir, energy=50.0, n=1000, seed=0)      # Showers in the training geometry, MeV cells
    generate_to_file(run.dir, "gen.h5", energy=(1, 100), n=10000)  # or spectrum="ref.h5": copy its energies

``train_showers`` splits the file into train / validation / held-out test showers, fits the
transform (``calo.data``), trains with the one loop (``latentlab.training.loop.train``; the
model's ``train_defaults`` and Config defaults apply), then generates one shower per held-out
energy and runs ``calo.validate`` against the held-out showers: the report lands in
RUN/validation/ and the headline numbers in RUN/eval_calo.json. The shower models are those
of ``latentlab.models.SHOWER_MODELS``. Every draw is seeded: ``generate(..., seed)`` makes
its own ``torch.Generator``.

A model generates showers in the geometry it was trained on (``model.geometry``, from its
config): CaloGAN showers are written in the CaloGAN layout, every other geometry (CaloChallenge
dataset 2, ...) in the CaloChallenge layout. An energy range is drawn uniformly for CaloGAN
and log-uniformly for CaloChallenge geometries, as their published showers are.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentlab.calo.data import to_dataset
from latentlab.calo.geometry import CaloGANGeometry, LayeredGeometry
from latentlab.calo.io import Showers, read_showers, write_showers
from latentlab.calo.modelbase import FITTED, CaloModel
from latentlab.errors import DataError, LatentlabError
from latentlab.models import SHOWER_MODELS
from latentlab.models.base import GenerativeModel


def _showers(data: str | Path | Showers, limit: int | None = None) -> Showers:
    return data if isinstance(data, Showers) else read_showers(data, limit=limit)


def train_showers(data: str | Path | Showers, model: str = "calo-wgan", *, test_fraction: float = 0.1,
                  validate_n: int | None = 10_000, limit: int | None = None, figures: bool = True,
                  **settings: Any):
    """Train ``model`` on showers (a CaloGAN/CaloChallenge .h5 path or Showers); returns the ``Run``.

    ``settings`` are those of ``latentlab.train`` (epochs, lr, batch_size, out, seed, val_fraction,
    ...) and of the model (latent_dim, hidden, n_critic, energy_weight, ...); what is not given
    takes the model's defaults (``latentlab.config.train_defaults`` and its Config). ``validate_n``
    held-out showers are compared with generated ones afterwards (0 or None: skip;
    ``figures=False``: numbers only).
    """
    from latentlab.config import train_defaults
    from latentlab.training.loop import train
    if model not in SHOWER_MODELS:
        raise LatentlabError(f"unknown shower model {model!r}; choose one of {', '.join(SHOWER_MODELS)}")
    fixed = set(FITTED) & set(settings)
    if fixed:
        raise LatentlabError(f"{', '.join(sorted(fixed))} are fitted from the data; drop them")
    showers = _showers(data, limit)
    defaults = train_defaults(SHOWER_MODELS[model])
    seed = int(settings.get("seed", defaults["seed"]))
    val_fraction = settings.get("val_fraction", defaults["val_fraction"])
    name = str(data) if not isinstance(data, Showers) else str(showers.meta.get("source", "showers"))
    dataset, stats, test_idx = to_dataset(showers, name, val_fraction, test_fraction, seed)
    if len(dataset.train) < 2:
        raise DataError(f"{name}: only {len(dataset.train)} showers left to train on; give more showers")
    run = train(model, data=dataset, **settings, **stats)
    if validate_n and len(test_idx):
        reference = showers.take(test_idx[:validate_n])
        reference.meta["source"] = f"{name} (held-out test showers)"
        generated = generate(run.model, reference.energy, seed=seed)
        generated.meta["generator"] = f"latentlab {model} ({run.dir})"
        result = validate_generated(reference, generated, run.dir / "validation", seed=seed, figures=figures)
        summary = {"calo_validation": {k: result[k] for k in ("n_reference", "mean_separation_power",
                                                              "separation_power")},
                   "classifier_auc": result["classifier"]["auc"], "fpd": result["fpd"]["value"],
                   "kpd": result["kpd"]["value"], "report": "validation/report.html"}
        (run.dir / "eval_calo.json").write_text(json.dumps(summary, indent=2) + "\n")
    return run


def validate_generated(reference: Showers, generated: Showers, out_dir: str | Path, **kwargs: Any) -> dict[str, Any]:
    from latentlab.calo.validate import validate
    return validate(reference, generated, out_dir, **kwargs)


def load_model(run: str | Path | CaloModel, device: str = "cpu", which: str = "last") -> CaloModel:
    """A trained shower model from its run folder (``which`` checkpoint: last or best), or the model itself."""
    if isinstance(run, GenerativeModel):
        model, where = run, "this model"
    else:
        from latentlab.training.run_folder import load
        model, where = load(run, which, device=device), str(run)
    if not isinstance(model, CaloModel):
        raise LatentlabError(f"{where} is a '{model.name}' model, not a shower model ({', '.join(SHOWER_MODELS)}); "
                             "train one with `latentlab calo train calo-wgan --data showers.h5`")
    return model


def default_distribution(geometry: LayeredGeometry) -> str:
    """How a geometry's published showers draw their energies: 'uniform' (CaloGAN) or 'log-uniform' (CaloChallenge)."""
    return "uniform" if isinstance(geometry, CaloGANGeometry) else "log-uniform"


def energies(energy: float | tuple[float, float] | np.ndarray | None = None, n: int | None = None,
             spectrum: str | Path | Showers | None = None, seed: int = 0, distribution: str = "uniform") -> np.ndarray:
    """Incident energies (GeV): one value n times, drawn in (low, high) ('uniform' or 'log-uniform'), an array,
    or a file's energies."""
    if spectrum is not None:
        e = _showers(spectrum).energy
        return e if n is None else e[:n]
    if energy is None:
        raise LatentlabError("say which incident energies to generate: --energy 50, --energy-range 1 100 or "
                             "--spectrum ref.h5")
    if n is not None and n < 1:
        raise LatentlabError(f"n must be at least 1, got {n}")
    if isinstance(energy, np.ndarray) and energy.ndim > 0:
        return np.asarray(energy, dtype=np.float64).ravel()[:n]
    if isinstance(energy, (tuple, list)):
        if len(energy) != 2 or n is None:
            raise LatentlabError(f"an energy range is (low, high) with n showers, got {energy!r}")
        lo, hi = float(energy[0]), float(energy[1])
        if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo <= hi):
            raise DataError(f"energy range must satisfy 0 < low <= high (GeV), got {lo:g} {hi:g}")
        if distribution == "log-uniform":
            return np.exp(np.random.default_rng(seed).uniform(np.log(lo), np.log(hi), n))
        if distribution != "uniform":
            raise LatentlabError(f"energy distribution {distribution!r} is unknown; choose 'uniform' or 'log-uniform'")
        return np.random.default_rng(seed).uniform(lo, hi, n)
    if n is None:
        raise LatentlabError("give the number of showers (n) for a single energy")
    return np.full(n, float(energy))


def generate(run: str | Path | CaloModel, energy: float | tuple[float, float] | np.ndarray | None = None,
             n: int | None = None, *, spectrum: str | Path | Showers | None = None, seed: int = 0,
             batch_size: int = 1024, device: str = "cpu", which: str = "last",
             distribution: str | None = None) -> Showers:
    """Generated showers, in the geometry the model was trained on, from a trained run folder (or model):
    see ``energies`` for the choices (``distribution`` None: the geometry's, see the module doc).
    ``seed`` fixes the energies drawn from a range and every draw of the model.

    Energies outside the training range are generated with a warning that names the range.
    """
    model = load_model(run, device, which)
    geometry = model.geometry
    e = energies(energy, n, spectrum, seed, distribution or default_distribution(geometry))
    generator = torch.Generator(device=model.device).manual_seed(seed)
    cells = model.generate(e, batch_size=batch_size, generator=generator).numpy()  # (N, cells) MeV
    if cells.shape[1] != geometry.n_voxels:
        raise LatentlabError(f"this model makes {cells.shape[1]} cells but its geometry, {geometry.describe()}, has "
                             f"{geometry.n_voxels}; its config.json is inconsistent: train it again")
    source = str(run) if isinstance(run, (str, Path)) else "in memory"
    return Showers.from_voxels(e, cells, geometry, meta={"generator": f"latentlab {model.name} ({source})"})


def generate_to_file(run: str | Path | CaloModel, out: str | Path, energy: Any = None, n: int | None = None,
                     **kwargs: Any) -> Path:
    """``generate`` and write an HDF5 file in the geometry's layout (CaloGAN or CaloChallenge); returns its path."""
    return write_showers(out, generate(run, energy, n, **kwargs))


# The geometries the demo (and `latentlab calo simulate`) can simulate.
SIMULATED_GEOMETRIES = ("calogan", "calochallenge-ds2", "calochallenge-ds3")


def demo(out: str | Path = "calo-demo", geometry: str = "calochallenge-ds2", n: int = 2000, n_reference: int = 500,
         epochs: int = 10, model: str = "calo-vae", seed: int = 0, figures: bool = True,
         log: Any = None, **settings: Any) -> dict[str, Any]:
    """Simulate -> train -> generate -> validate on a small sample, in ``out``; returns the summary.

    ``out`` gets train.h5 (``n`` simulated showers) and reference.h5 (``n_reference`` more, another
    seed, drawn over the training showers' energy span), run/ (the trained ``model``), generated.h5
    (one shower per reference energy), validation/ (the report: report.html, table.md,
    validation.json) and summary.json (the headline numbers and the seconds each step took).
    ``settings`` go to ``train_showers``.
    """
    import time

    from latentlab.calo.geometry import from_spec
    from latentlab.calo.simulate import simulate
    from latentlab.calo.validate import validate_files
    from latentlab.errors import ConfigError
    log = log or (lambda line: None)
    if geometry not in SIMULATED_GEOMETRIES:
        raise ConfigError(f"unknown geometry {geometry!r}; the demo simulates {', '.join(SIMULATED_GEOMETRIES)}")
    for name, value in (("n", n), ("n_reference", n_reference)):
        if not isinstance(value, (int, np.integer)) or value < 2:
            raise ConfigError(f"{name} must be at least 2 showers (a few hundred make a meaningful report), "
                              f"got {value!r}")
    if epochs < 1:
        raise ConfigError(f"epochs must be at least 1, got {epochs}")
    if model not in SHOWER_MODELS:
        raise ConfigError(f"unknown shower model {model!r}; choose one of {', '.join(SHOWER_MODELS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    geo = from_spec(geometry)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    paths = {"train": out / "train.h5", "reference": out / "reference.h5"}
    log(f"simulating {n} + {n_reference} showers in the {geometry} geometry (Grindhammer-Peters, not Geant4)...")
    particle = "eplus" if geometry == "calogan" else "eminus"
    train_set = simulate(particle, n, seed=seed, geometry=geo)
    write_showers(paths["train"], train_set)
    span = (float(train_set.energy.min()), float(train_set.energy.max()))  # the reference stays in the trained range
    write_showers(paths["reference"], simulate(particle, n_reference, span, seed=seed + 1, geometry=geo))
    seconds["simulate"] = time.perf_counter() - start
    log(f"training {model} for {epochs} epochs on {paths['train']}...")
    start = time.perf_counter()
    run = train_showers(paths["train"], model, test_fraction=0.0, validate_n=0, epochs=epochs, seed=seed,
                        out=str(out / "run"), **{"progress": False, **settings})
    seconds["train"] = time.perf_counter() - start
    log("generating one shower per reference energy...")
    start = time.perf_counter()
    generated = generate_to_file(run.dir, out / "generated.h5", spectrum=paths["reference"], seed=seed)
    seconds["generate"] = time.perf_counter() - start
    start = time.perf_counter()
    result = validate_files(paths["reference"], generated, out / "validation", seed=seed, figures=figures)
    seconds["validate"] = time.perf_counter() - start
    summary = {"geometry": geometry, "model": model, "n_train": n, "n_reference": n_reference, "epochs": epochs,
               "run": str(run.dir), "reference": str(paths["reference"]), "generated": str(generated),
               "report": str(out / "validation" / "report.html"),
               "classifier_auc": result["classifier"]["auc"],
               "mean_separation_power": result["mean_separation_power"],
               "fpd": result["fpd"]["value"], "kpd": result["kpd"]["value"],
               "worst_separation_power": dict(sorted(result["separation_power"].items(), key=lambda kv: -kv[1])[:3]),
               "seconds": {k: round(v, 2) for k, v in seconds.items()}}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
