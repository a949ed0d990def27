"""The lectures as recipes, and settings files.

A recipe is a TOML file of this folder, one per experiment of the lecture notes; its name is
the file's name. ``latentlab recipes`` lists them, ``latentlab train --recipe NAME`` runs one:

    lecture   which lecture it reproduces (number, lecturer, title)
    about     which slide / section, and what the experiment shows
    model     a name of ``latentlab list``
    notes     where latentlab differs from the lecture, and the options it lacks to match it
    then      follow-up commands run on the trained run folder, as typed after ``latentlab``:
              {run} is the run folder; {settings} the run's settings as options (without out,
              seed and progress, which `latentlab anomaly` sets itself); {seed} the run's seed
              (a second run trained from the same seed: ``train MODEL {settings} --seed {seed} ...``)
    [settings]  any TrainConfig or model Config field (``latentlab train MODEL --help``)
    [report]    optional: the quantities the lecture prints, to be computed the same way
                (``kind``) and shown beside the lecture's own figures (``[report.lecture]``)

A settings file (``latentlab train MODEL --config FILE``) is TOML or JSON holding the same
settings, either flat (``epochs = 5``) or nested as a run folder's ``config.json`` is
(``train`` and ``model_config`` sections; its other sections are ignored). Unknown keys and
wrong types are errors that name the file and the key.
"""
from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from latentlab.config import TrainConfig, from_dict, split_settings, train_defaults
from latentlab.errors import ConfigError, LatentlabError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

KEYS = ("lecture", "about", "model", "notes", "then", "settings", "report")
REQUIRED = ("lecture", "about", "model", "settings")
REPORTS = ("mse-kl",)
# Settings `latentlab anomaly` sets itself (cli/anomaly.py OWN): left out of {settings}.
NOT_FORWARDED = ("out", "seed", "progress")


@dataclass(frozen=True)
class Recipe:
    """One experiment of a lecture: a model, its settings, and what to run after training."""

    name: str
    lecture: str
    about: str
    model: str
    settings: dict[str, Any]
    notes: str = ""
    then: tuple[str, ...] = ()
    report: dict[str, Any] | None = None
    path: str = ""

    def commands(self, run: str | Path, settings: dict[str, Any]) -> list[list[str]]:
        """The follow-up command lines (argument lists for ``latentlab``), {run} and {settings} filled in."""
        seed = settings.get("seed", TrainConfig.seed)
        out = []
        for line in self.then:
            words = []
            given = {w[2:].replace("-", "_") for w in line.split() if w.startswith("--")}  # the line's own options win
            for word in line.split():
                if word == "{settings}":
                    words += as_options({k: v for k, v in settings.items() if k not in NOT_FORWARDED and k not in given})
                else:
                    words.append(word.replace("{run}", str(run)).replace("{seed}", str(seed)))
            out.append(words)
        return out


def as_options(settings: dict[str, Any]) -> list[str]:
    """Settings as the command-line options that set them: {"latent_dim": 2, "amp": False} -> --latent-dim 2 --no-amp."""
    words = []
    for k, v in settings.items():
        flag = "--" + k.replace("_", "-")
        if isinstance(v, bool):
            words.append(flag if v else "--no-" + k.replace("_", "-"))
        elif v is not None:
            words += [flag, str(v)]
    return words


def check_settings(model_cls: type, settings: dict[str, Any], where: str) -> dict[str, Any]:
    """Settings for ``model_cls`` with every key known and every value of the right type and range;
    a ConfigError names ``where`` (the file) and the key."""
    try:
        train, model = split_settings(model_cls.Config, settings)
        from_dict(TrainConfig, {**train_defaults(model_cls), **train})
        from_dict(model_cls.Config, model, "model setting")
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from e
    return dict(settings)


def read_settings_file(path: str | Path, model_cls: type) -> dict[str, Any]:
    """The settings of a TOML or JSON file for a model class (see the module doc).

    A run folder's config.json (nested ``train`` / ``model_config``) must be of the same model;
    its ``out`` is dropped, since it names the folder of the run it came from."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"settings file {path} does not exist")
    raw = parse_file(path)
    nested = isinstance(raw.get("train"), dict) or isinstance(raw.get("model_config"), dict)
    if nested:
        model = raw.get("model")
        if isinstance(model, str) and model != model_cls.name:
            raise ConfigError(f"{path} holds the settings of a '{model}' run; train '{model}' with it "
                              f"(latentlab train {model} --config {path}), or write a settings file for '{model_cls.name}'")
        train = {k: v for k, v in (raw.get("train") or {}).items() if k != "out"}
        settings = {**train, **(raw.get("model_config") or {})}
    else:
        settings = raw
    return check_settings(model_cls, settings, str(path))


def parse_file(path: Path) -> dict[str, Any]:
    """A TOML (.toml) or JSON (any other name) file as a dict; a syntax error names the file and the place."""
    text = path.read_bytes()
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(text.decode("utf-8"))
        else:
            data = json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as e:
        kind = "TOML" if path.suffix.lower() == ".toml" else "JSON"
        raise ConfigError(f"{path} is not valid {kind}: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a table of settings (name = value), not a {type(data).__name__}")
    return data


# --- the shipped recipes ---------------------------------------------------------------------
def _files() -> dict[str, Any]:
    return {f.name[:-len(".toml")]: f for f in resources.files(__name__).iterdir() if f.name.endswith(".toml")}


def names() -> list[str]:
    """The names of the shipped recipes, in the order of their lectures."""
    return [r.name for r in all_recipes()]


def all_recipes() -> list[Recipe]:
    """Every shipped recipe, ordered by lecture then name."""
    return sorted((load(name) for name in _files()), key=lambda r: (r.lecture, r.name))


def load(name: str) -> Recipe:
    """The recipe ``name`` (a shipped recipe, or a path to a .toml file of the same form), validated."""
    from latentlab.models import MODELS
    files = _files()
    if name in files:
        text, where = files[name].read_text(encoding="utf-8"), f"recipe {name}"
    elif name.endswith(".toml") and Path(name).is_file():
        text, where = Path(name).read_text(encoding="utf-8"), name
    else:
        raise LatentlabError(f"unknown recipe {name!r}; `latentlab recipes` lists them: {', '.join(sorted(files))}")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{where} is not valid TOML: {e}") from e
    unknown = sorted(set(raw) - set(KEYS))
    missing = [k for k in REQUIRED if k not in raw]
    if unknown or missing:
        raise ConfigError(f"{where}: " + "; ".join(
            ([f"unknown key(s) {', '.join(unknown)} (valid: {', '.join(KEYS)})"] if unknown else []) +
            ([f"missing {', '.join(missing)}"] if missing else [])))
    if raw["model"] not in MODELS:
        raise ConfigError(f"{where}: unknown model {raw['model']!r}; choose from {', '.join(sorted(MODELS))}")
    then = raw.get("then", [])
    if not (isinstance(then, list) and all(isinstance(t, str) for t in then)):
        raise ConfigError(f"{where}: then must be a list of command lines (strings)")
    report = raw.get("report")
    if report is not None and report.get("kind") not in REPORTS:
        raise ConfigError(f"{where}: report kind must be one of {', '.join(REPORTS)}, got {report.get('kind')!r}")
    settings = check_settings(MODELS[raw["model"]], raw["settings"], where)
    return Recipe(name=Path(name).stem, lecture=raw["lecture"], about=raw["about"], model=raw["model"],
                  settings=settings, notes=raw.get("notes", "").strip(), then=tuple(then), report=report, path=where)


# --- the lecture's own figures -----------------------------------------------------------------
def mse_kl_terms(rec: float, kl: float, pixels: int, sigma: float) -> dict[str, float]:
    """The Keras lecture's quantities from latentlab's Gaussian-likelihood VAE terms (nats per image).

    latentlab's reconstruction term is the Gaussian NLL
        rec = SSE / (2 sigma^2) + D log(sigma sqrt(2 pi)),   SSE = sum_i (x_i - x_hat_i)^2 over D pixels,
    so SSE = 2 sigma^2 (rec - D log(sigma sqrt(2 pi))); the lecture's loss is 784 x MSE + KL = SSE + KL
    and its metric the MSE per pixel, SSE / D. With sigma = 1/sqrt(2), rec = SSE + (D/2) log(pi): the
    training objective is the lecture's loss plus a constant (392 log pi = 448.7 nats on MNIST)."""
    sse = 2 * sigma**2 * (rec - pixels * math.log(sigma * math.sqrt(2 * math.pi)))
    return {"loss": sse + kl, "mse": sse / pixels}


def lecture_report(recipe: Recipe, run_dir: str | Path, data_dir: str | None = None) -> list[dict[str, Any]]:
    """Rows (split, latentlab's loss and MSE, the lecture's) of a finished run of a recipe with a report:
    the training figures of the last epoch (the running mean over its batches, as Keras prints them) and
    the test split's (a sampled z per image, as Keras's evaluate), both in the lecture's units."""
    from latentlab.training.loop import evaluate
    from latentlab.training.run_folder import load as load_run, read_metrics, read_run, run_dataset
    info = read_run(run_dir)
    cfg = info.model_cfg
    if recipe.report is None or recipe.report["kind"] != "mse-kl":
        return []
    if getattr(cfg, "likelihood", None) != "gaussian":
        raise LatentlabError(f"the lecture's 784 x MSE + KL needs the gaussian likelihood; this run used {cfg.likelihood!r}")
    pixels = math.prod(info.shape)
    lecture = recipe.report.get("lecture", {})
    rows = []
    metrics = read_metrics(run_dir)
    if metrics:
        last = metrics[-1]
        rows.append({"split": f"train (epoch {last['epoch']})",
                     **mse_kl_terms(last["train_rec"], last["train_kl"], pixels, cfg.sigma),
                     "lecture_loss": lecture.get("train_loss"), "lecture_mse": lecture.get("train_mse")})
    data = run_dataset(run_dir, data_dir)
    if len(data.test):
        t = info.train
        terms = evaluate(load_run(run_dir), data.test, 500, t.binarize == "dynamic", t.seed)
        rows.append({"split": "test", **mse_kl_terms(terms["rec"], terms["kl"], pixels, cfg.sigma),
                     "lecture_loss": lecture.get("test_loss"), "lecture_mse": lecture.get("test_mse")})
    return rows


def format_report(rows: list[dict[str, Any]]) -> str:
    """The report rows as a Markdown table: latentlab's figures beside the lecture's."""
    lines = ["| split | loss (SSE + KL: 784 x MSE + KL on MNIST) | MSE per pixel | lecture loss | lecture MSE |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        lec_loss = "" if r["lecture_loss"] is None else f"{r['lecture_loss']:.2f}"
        lec_mse = "" if r["lecture_mse"] is None else f"{r['lecture_mse']:.4f}"
        lines.append(f"| {r['split']} | {r['loss']:.2f} | {r['mse']:.4f} | {lec_loss} | {lec_mse} |")
    return "\n".join(lines)
