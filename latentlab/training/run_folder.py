"""The run folder: everything a trained model leaves behind, and how to reload it.

    config.json          every setting, the data's shape and classes (tabular data: the per-feature mean
                         and std it was standardised with), library versions, the resumes
    checkpoint.json      the manifest of the last complete checkpoint: where training stood (epoch,
                         batch, step) and the sha256 and size of each part below
    model.safetensors    weights at the last checkpoint (metadata: model name, config, epoch, step); with
                         --ema, the moving average of the weights (what users sample from)
    best.safetensors     weights of the best validation epoch (with --ema, the average's)
    train_state.pt       optimiser states, RNG states, the loop's place: what --resume needs; with --ema,
                         also the trained weights themselves ("weights")
    metrics.jsonl        one JSON line per epoch
    .lock                locked (flock) by the one process writing the folder; holds its pid
    *.png, report.html   pictures (see latentlab.viz.plots)

Nothing here is unpickled: weights are safetensors, settings JSON, and the
training state is read with ``torch.load(weights_only=True)``. Every file is
written to a temporary name and renamed, so a crash never leaves half a file,
and takes the user's umask (a shared results folder stays readable by the group).

A checkpoint is one unit, committed by its manifest (``write_checkpoint``):

    1. each part is written as PART.next          the previous checkpoint is untouched
    2. checkpoint.json is written (and renamed)   the commit: from here on the new one counts
    3. each PART.next is renamed onto PART

A crash (a second Ctrl-C, kill -9, a full disk) before 2 leaves the previous checkpoint whole (the
.next files are stale and the next writer removes them); a crash during 3 leaves some parts still
under .next, where ``find_checkpoint`` finds them by their hash. Weights of one checkpoint are never
read beside the optimiser state of another. Run folders written before checkpoint.json existed
(version 0.1: model.safetensors + train_state.pt alone) still load and resume, unverified.
"""
from __future__ import annotations

import dataclasses
import errno
import hashlib
import io
import json
import os
import platform
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from latentlab.files import atomic_write, note, umask, write_json  # noqa: F401  (re-exported)
from latentlab.config import TrainConfig, from_dict, train_defaults
from latentlab.errors import ConfigError, LatentlabError, RunFolderError
from latentlab.models import get_model_class
from latentlab.models.base import GenerativeModel, LatentGenerator, SemiSupervised

CONFIG, WEIGHTS, BEST, STATE, METRICS = "config.json", "model.safetensors", "best.safetensors", "train_state.pt", "metrics.jsonl"
MANIFEST, LOCK = "checkpoint.json", ".lock"
PARTS = (WEIGHTS, STATE, BEST)  # the parts a checkpoint may have (best only once a validation epoch was the best)
STAGED = ".next"  # suffix of a part written for a checkpoint not yet committed
FORMAT = 1  # of checkpoint.json
DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
# Top-level keys of config.json ("resumed": one entry per --resume, with the settings it changed).
CONFIG_KEYS = {"model", "train", "model_config", "data", "versions", "created", "resumed"}


def versions() -> dict[str, str]:
    import numpy, safetensors, sklearn  # noqa: E401  (recorded, not used)
    from latentlab import __version__
    return {"latentlab": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "scikit-learn": sklearn.__version__, "safetensors": safetensors.__version__, "python": platform.python_version()}


def default_run_dir(model: str, dataset: str) -> Path:
    data = Path(dataset).stem if os.sep in dataset or "." in dataset else dataset
    return Path("runs") / f"{model}-{data}-{time.strftime('%Y%m%d-%H%M%S')}"


# --- writing files ------------------------------------------------------------------------------

def _write(fd: int, data: bytes) -> None:
    """Every byte of ``data`` to ``fd``: the one place checkpoint bytes are written (tests make it fail)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_bytes(path: Path, data: bytes, fsync: bool = False) -> None:
    """``data`` as the file ``path``, atomically; ``fsync``: on the disk before the rename."""
    def write(tmp: str) -> None:
        fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC)
        try:
            _write(fd, data)
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
    atomic_write(path, write)


def _fsync_dir(folder: Path) -> None:
    """Make the renames in ``folder`` durable (where the file system allows opening a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def weights_bytes(model: GenerativeModel, **meta: Any) -> bytes:
    """The model's weights as a safetensors file; metadata: model name, config, and ``meta`` (e.g. step)."""
    from safetensors.torch import save
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return save(tensors, metadata={"model": model.name, "config": json.dumps(dataclasses.asdict(model.cfg)),
                                   **{k: str(v) for k, v in meta.items()}})


def state_bytes(state: dict) -> bytes:
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def save_weights(model: GenerativeModel, path: Path) -> None:
    write_bytes(path, weights_bytes(model))


def save_state(path: Path, state: dict) -> None:
    write_bytes(path, state_bytes(state))


def is_disk_full(e: BaseException) -> bool:
    return isinstance(e, OSError) and e.errno in DISK_FULL


# --- the checkpoint unit ------------------------------------------------------------------------

@dataclass
class Checkpoint:
    """The last complete checkpoint of a run folder: where training stood, and the file holding each part."""

    dir: Path
    epoch: int | None  # epochs finished (None: a checkpoint of version 0.1 whose state was not read)
    batch: int  # batches of the next epoch done (0: written at the end of an epoch)
    step: int | None  # optimiser steps done
    files: dict[str, Path]  # part name -> file (the part's own name, or PART.next during an unfinished commit)
    verified: bool  # False: no checkpoint.json (version 0.1), the parts are taken as they are
    damaged: list[str] = dataclasses.field(default_factory=list)  # optional parts that do not match the manifest

    def describe(self) -> str:
        """E.g. "epoch 2, step 34" (at the end of epoch 2), "epoch 3 at batch 8, step 42" (mid-epoch)."""
        if self.epoch is None:
            return "its last checkpoint"
        where = f"epoch {self.epoch + 1} at batch {self.batch}" if self.batch else f"epoch {self.epoch}"
        return f"{where}, step {self.step}"


def _staged(path: Path) -> Path:
    return path.with_name(path.name + STAGED)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _entry(data: bytes) -> dict:
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def _matches(path: Path, entry: dict) -> bool:
    return path.is_file() and path.stat().st_size == entry["bytes"] and sha256_file(path) == entry["sha256"]


def read_manifest(run_dir: str | Path) -> dict | None:
    """checkpoint.json, or None when the folder has none (no checkpoint yet, or version 0.1)."""
    path = Path(run_dir) / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
        if not (isinstance(manifest, dict) and isinstance(manifest["parts"], dict) and manifest["format"] == FORMAT
                and all(isinstance(manifest[k], int) for k in ("epoch", "batch", "step"))
                and all({"sha256", "bytes"} <= set(e) for e in manifest["parts"].values())):
            raise ValueError("not a latentlab checkpoint manifest")
    except (OSError, KeyError, TypeError, ValueError) as e:  # JSONDecodeError is a ValueError
        raise RunFolderError(f"{path} is damaged ({type(e).__name__}: {e}); the checkpoint it describes cannot be verified. "
                             f"Restore it from a copy, or start over with another --out") from e
    return manifest


def write_checkpoint(run_dir: str | Path, weights: bytes, state: bytes, epoch: int, batch: int, step: int,
                     best: bool = False) -> Checkpoint:
    """Commit one checkpoint (see the module doc): the parts under .next, then the manifest, then the renames.
    ``best``: the weights are also the new best.safetensors. Until the manifest is renamed into place the
    previous checkpoint is the complete one; if writing a part fails, the .next files written are removed."""
    run_dir = Path(run_dir)
    new = {WEIGHTS: weights, STATE: state, **({BEST: weights} if best else {})}
    old = read_manifest(run_dir)
    parts = {name: _entry(data) for name, data in new.items() if name != BEST}
    if best:
        parts[BEST] = parts[WEIGHTS]  # the same bytes: hashed once
    if not best and old is not None and BEST in old["parts"]:  # the best weights of an earlier epoch stay a part
        parts[BEST] = old["parts"][BEST]
    elif not best and old is None and (run_dir / BEST).is_file():  # those of a run folder of version 0.1
        parts[BEST] = {"sha256": sha256_file(run_dir / BEST), "bytes": (run_dir / BEST).stat().st_size}
    manifest = {"format": FORMAT, "epoch": epoch, "batch": batch, "step": step,
                "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "parts": parts}
    committed = False
    try:
        for name, data in new.items():
            write_bytes(_staged(run_dir / name), data, fsync=True)
        write_bytes(run_dir / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode(), fsync=True)
        committed = True
    finally:
        if not committed and not _committed(run_dir, manifest):  # the previous checkpoint stays the complete one
            for name in new:
                _staged(run_dir / name).unlink(missing_ok=True)
    for name in new:
        os.replace(_staged(run_dir / name), run_dir / name)
    _fsync_dir(run_dir)
    return Checkpoint(run_dir, epoch, batch, step, {name: run_dir / name for name in parts}, True)


def _committed(run_dir: Path, manifest: dict) -> bool:
    """Whether ``manifest`` is the one in place (an interrupt can land just after its rename)."""
    try:
        return read_manifest(run_dir) == manifest
    except LatentlabError:
        return False


def find_checkpoint(run_dir: str | Path, parts: tuple[str, ...] = (WEIGHTS, STATE), purpose: str = "resume",
                    optional: tuple[str, ...] = ()) -> Checkpoint | None:
    """The last complete checkpoint, its ``parts`` verified against checkpoint.json (sha256); None when the
    folder has none yet. A part that matches neither PART nor PART.next is a RunFolderError that says
    what is intact and what to do (``purpose``: "resume" or "load"), unless it is ``optional``: then it is
    listed in ``Checkpoint.damaged``."""
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    if manifest is None:  # no checkpoint yet, or a run folder of version 0.1
        if not (run_dir / STATE).is_file() and not (run_dir / WEIGHTS).is_file():
            return None
        files = {name: run_dir / name for name in PARTS if (run_dir / name).is_file()}
        if STATE in parts and STATE in files:
            loop = load_state(files[STATE])["loop"]
            return Checkpoint(run_dir, loop.get("epoch"), loop.get("batch", 0), loop.get("step"), files, False)
        return Checkpoint(run_dir, None, 0, None, files, False)
    found: dict[str, Path] = {}
    bad: list[str] = []
    for name in parts:
        entry = manifest["parts"].get(name)
        if entry is None:
            continue  # e.g. no best epoch yet
        path = next((p for p in (run_dir / name, _staged(run_dir / name)) if _matches(p, entry)), None)
        if path is None:
            bad.append(name)
        else:
            found[name] = path
    checkpoint = Checkpoint(run_dir, manifest["epoch"], manifest["batch"], manifest["step"], found, True,
                            [n for n in bad if n in optional])
    bad = [n for n in bad if n not in optional]
    if bad:
        raise RunFolderError(mismatch_message(checkpoint, manifest, bad, purpose))
    return checkpoint


def mismatch_message(checkpoint: Checkpoint, manifest: dict, bad: list[str], purpose: str) -> str:
    run_dir = checkpoint.dir
    intact = [n for n in manifest["parts"] if n not in bad and any(_matches(p, manifest["parts"][n])
                                                                    for p in (run_dir / n, _staged(run_dir / n)))]
    text = (f"{run_dir}: {' and '.join(bad)} {'does' if len(bad) == 1 else 'do'} not match {MANIFEST}, the manifest of the "
            f"checkpoint at {checkpoint.describe()}: missing, changed or damaged after training wrote it (a checkpoint is "
            f"only used whole, never weights of one beside the training state of another). "
            f"Intact: {', '.join(intact) if intact else 'no part'}. ")
    if purpose == "resume" and BEST in intact:
        fix = (f"There is no complete checkpoint to resume from: restore {' and '.join(bad)} from a copy, or start over "
               f"with another --out; the best weights ({BEST}) still load (--which best).")
    elif purpose == "resume":
        fix = f"There is no complete checkpoint to resume from: restore {' and '.join(bad)} from a copy, or start over with another --out."
    else:
        fix = f"Restore {' and '.join(bad)} from a copy" + (", or use the best weights (--which best)." if BEST in intact and BEST not in bad else ".")
    return text + fix


def finish_checkpoint(checkpoint: Checkpoint | None, run_dir: str | Path) -> list[str]:
    """For the process that writes the folder (holding its lock): complete a commit that was cut short
    (rename the verified PART.next files onto PART), and remove what an uncommitted one left (stale .next
    files and temporary files). Returns notes for the user, one per thing done."""
    run_dir = Path(run_dir)
    notes = []
    if checkpoint is not None and any(p.name.endswith(STAGED) for p in checkpoint.files.values()):
        for name, path in checkpoint.files.items():
            if path.name.endswith(STAGED):
                os.replace(path, run_dir / name)
                checkpoint.files[name] = run_dir / name
        notes.append(f"completed the checkpoint at {checkpoint.describe()}, whose writing was cut short after it was committed")
    if checkpoint is not None and checkpoint.damaged:  # an optional part (best.safetensors): no longer part of the checkpoint
        manifest = read_manifest(run_dir)
        for name in checkpoint.damaged:
            manifest["parts"].pop(name, None)
        write_bytes(run_dir / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode(), fsync=True)
        notes.append(f"{', '.join(checkpoint.damaged)} did not match {MANIFEST} (changed or damaged) and is no longer used; "
                     f"the next best epoch writes it again")
    names = (*PARTS, MANIFEST, CONFIG, METRICS)
    stale = [p for name in names for p in run_dir.glob(f"{name}{STAGED}")]
    temporary = [p for name in names for p in run_dir.glob(f".{name}.*.tmp")]
    for p in stale + temporary:
        p.unlink(missing_ok=True)
    if stale:
        kept = f"the complete one at {checkpoint.describe()} is used" if checkpoint is not None else "there is no earlier one"
        notes.append(f"a checkpoint was being written when training stopped; it was incomplete and is discarded ({kept})")
    _fsync_dir(run_dir)
    return notes


def has_checkpoint(run_dir: str | Path) -> bool:
    run_dir = Path(run_dir)
    return (run_dir / MANIFEST).is_file() or (run_dir / STATE).is_file()


def last_checkpoint(run_dir: str | Path) -> str | None:
    """"epoch E, step S" of the last complete checkpoint (from its manifest, nothing hashed), None without one."""
    try:
        manifest = read_manifest(run_dir)
        if manifest is not None:
            return Checkpoint(Path(run_dir), manifest["epoch"], manifest["batch"], manifest["step"], {}, True).describe()
        found = find_checkpoint(run_dir, (STATE,))
        return found.describe() if found is not None else None
    except LatentlabError:
        return "its last checkpoint"


# --- the lock -----------------------------------------------------------------------------------

_HELD: dict[str, int] = {}  # run folders this process holds locked -> how many times (lock_run nests)


@contextmanager
def lock_run(run_dir: str | Path) -> Iterator[Path]:
    """Hold the run folder for writing: an exclusive OS lock (flock) on RUN/.lock, which holds this process's
    pid. The system releases it when the process ends, however it ends. A second writer gets a RunFolderError
    naming the process that holds it. Nests within one process. Creates the folder if needed.

        with lock_run(run_dir):
            ...  # write the run folder
    """
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        fd = None if os.path.realpath(run_dir) in _HELD else os.open(run_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:  # not a folder, no permission, a read-only or pseudo file system (/proc), ...
        if is_disk_full(e):
            raise
        raise RunFolderError(f"cannot write the run folder {run_dir} ({e.strerror}: {e.filename}): choose another --out") from None
    key = os.path.realpath(run_dir)
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield run_dir / LOCK
        finally:
            _HELD[key] -= 1
        return
    path = run_dir / LOCK
    try:
        import fcntl
    except ImportError:  # no flock (Windows): no lock
        os.close(fd)
        yield path
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            holder = _holder(path)
            raise RunFolderError(
                f"{run_dir} is in use: another latentlab process ({holder}) is writing it and holds {path}. "
                f"Wait for it to finish or stop it, then try again; or choose another --out") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        _HELD[key] = 1
        try:
            yield path
        finally:
            del _HELD[key]
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock


def _holder(path: Path) -> str:
    try:
        pid = path.read_text().strip()
    except OSError:
        pid = ""
    return f"pid {pid}" if pid.isdigit() else "pid unknown"


# --- reading ------------------------------------------------------------------------------------

def load_state(path: Path) -> dict:
    """train_state.pt, read without unpickling anything (``weights_only``); a damaged file is a RunFolderError."""
    path = Path(path)
    try:
        with warnings.catch_warnings():  # torch warns about a pickle's protocol before refusing it: the error says enough
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 (torch raises many types; its text may even suggest weights_only=False)
        raise RunFolderError(f"{path} is damaged or not a latentlab training state ({type(e).__name__}), so the run cannot "
                             f"be resumed from it: restore it from a copy, or start over with another --out") from None
    if not isinstance(state, dict) or not {"optimizers", "rng", "loop"} <= set(state):
        raise RunFolderError(f"{path} is not a latentlab training state (it lacks the optimizer states, RNG states or the "
                             f"loop's place): restore it from a copy, or start over with another --out")
    return state


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """A safetensors file as tensors; a damaged file is a RunFolderError."""
    from safetensors.torch import load_file
    try:
        return load_file(path)
    except Exception as e:  # noqa: BLE001 (SafetensorError, OSError, ...)
        raise RunFolderError(f"{path} is damaged or not a safetensors file ({str(e).splitlines()[0] if str(e) else type(e).__name__}): "
                             f"restore it from a copy, or retrain") from None


def fit_weights(model: torch.nn.Module, tensors: dict[str, torch.Tensor], path: Path, strict: bool = True) -> None:
    """Load ``tensors`` (read from ``path``) into ``model``; weights that do not fit are a RunFolderError."""
    try:
        model.load_state_dict(tensors, strict=strict)
    except RuntimeError as e:
        reason = " ".join(line.strip() for line in str(e).splitlines()[1:3]) or str(e)
        raise RunFolderError(f"{path} does not fit the model that {CONFIG} describes ({reason}): the weights come from "
                             f"another model, or {CONFIG} was changed after training; restore them from the original run") from None


@dataclass
class RunInfo:
    """The parsed config.json of a run folder."""

    dir: Path
    model_name: str
    train: TrainConfig
    model_cfg: Any
    shape: tuple[int, int, int]
    num_classes: int | None
    classes: list[str] | None
    # Tabular data: the per-feature constants the rows were standardised with (``apply`` rows in the
    # data's units before scoring them; ``invert`` the model's samples and reconstructions). None for images.
    standardization: Any = None


def read_run(run_dir: str | Path) -> RunInfo:
    """Parse RUN/config.json. A TrainConfig field the file lacks (it was written before the field existed,
    e.g. beta1/beta2) takes the model's default, the value such a run was trained with."""
    run_dir = Path(run_dir)
    path = run_dir / CONFIG
    if not path.is_file():
        raise LatentlabError(f"{run_dir} is not a latentlab run folder: {CONFIG} is missing (train one with `latentlab train`)")
    try:
        cfg = json.loads(path.read_text())
        unknown = sorted(set(cfg) - CONFIG_KEYS)
        if unknown:
            raise LatentlabError(f"{path} has unknown top-level key(s) {', '.join(unknown)} (valid: {', '.join(sorted(CONFIG_KEYS))}): "
                                 f"it was edited or is not a latentlab config; restore it from the original run")
        cls = get_model_class(cfg["model"])
        train = from_dict(TrainConfig, {**train_defaults(cls), **cfg["train"]})
        standardization = None
        if cfg["data"].get("standardization") is not None:
            from latentlab.data.tabular import Standardization
            standardization = Standardization.from_dict(cfg["data"]["standardization"], str(path))
        return RunInfo(run_dir, cfg["model"], train, from_dict(cls.Config, cfg["model_config"], "model setting"),
                       tuple(cfg["data"]["shape"]), cfg["data"]["num_classes"], cfg["data"]["classes"], standardization)
    except (KeyError, TypeError, AttributeError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise LatentlabError(f"{path} is damaged ({type(e).__name__}: {e}); retrain, or restore it from the original run") from e


def build_model(info: RunInfo) -> GenerativeModel:
    return get_model_class(info.model_name)(info.model_cfg, info.shape, info.num_classes)


def weights_file(run_dir: str | Path, which: str = "last") -> Path:
    """The file holding the weights of the last checkpoint (``which="last"``) or of the best epoch ("best"),
    verified against checkpoint.json."""
    part = {"last": WEIGHTS, "best": BEST}[which]
    checkpoint = find_checkpoint(run_dir, (part,), purpose="load")
    if checkpoint is None or part not in checkpoint.files:
        raise LatentlabError(f"{Path(run_dir) / part} is missing: the run has no {which} checkpoint yet")
    return checkpoint.files[part]


def load(run_dir: str | Path, which: str = "last", device: str = "cpu") -> GenerativeModel:
    """Rebuild a trained model from its run folder (``which``: "last" or "best" epoch)."""
    info = read_run(run_dir)
    path = weights_file(info.dir, which)
    model = build_model(info)
    fit_weights(model, read_weights(path), path)
    return model.to(device).eval()


def load_decoder(run_dir: str | Path, device: str = "cpu") -> torch.nn.Module:
    """Only the decoder (or generator) of a run, read without loading the encoder's weights."""
    from safetensors import safe_open
    info = read_run(run_dir)
    path = weights_file(info.dir)
    model = build_model(info)
    part = "generator" if isinstance(model, LatentGenerator) else "decoder"
    try:
        with safe_open(str(path), framework="pt") as f:
            state = {k[len(part) + 1:]: f.get_tensor(k) for k in f.keys() if k.startswith(part + ".")}
    except Exception as e:  # noqa: BLE001 (SafetensorError, OSError, ...)
        raise RunFolderError(f"{path} is damaged or not a safetensors file ({str(e).splitlines()[0] if str(e) else type(e).__name__}): "
                             f"restore it from a copy, or retrain") from None
    module = getattr(model, part)
    fit_weights(module, state, path)
    return module.to(device).eval()


def read_metrics(run_dir: str | Path) -> list[dict]:
    """metrics.jsonl as rows. A last line cut short (the process died while appending it) is left out."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return []
    text = path.read_text()
    lines = text.split("\n")
    rows = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:  # no newline after it: an append cut short
                break
            raise RunFolderError(f"{path} line {i + 1} is damaged: restore the file from a copy, or delete the line") from None
    return rows


def write_metrics(run_dir: str | Path, rows: list[dict]) -> None:
    atomic_write(Path(run_dir) / METRICS, lambda tmp: Path(tmp).write_text("".join(json.dumps(r) + "\n" for r in rows)))


def run_dataset(run_dir: str | Path, data_dir: str | None = None):
    """The dataset a run was trained on, split exactly as in training; tabular rows standardised with the
    constants saved in the run (not fitted again), so that every command sees the model's scale."""
    from latentlab.data import load_dataset
    info = read_run(run_dir)
    t = info.train
    return load_dataset(t.dataset, data_dir or t.data_dir, t.val_fraction, t.seed, t.image_size, t.binarize, t.threshold,
                        standardization=info.standardization)


def data_record(data) -> dict:
    """The "data" section of config.json: name, shape, classes, split sizes (and a tabular dataset's standardisation)."""
    record = {"name": data.name, "shape": list(data.shape), "num_classes": data.num_classes, "classes": data.classes,
              "sizes": {"train": len(data.train), "val": len(data.val), "test": len(data.test)}}
    if getattr(data, "standardization", None) is not None:
        record["standardization"] = data.standardization.to_dict()
    if getattr(data, "labelled", None) is not None:  # semi-supervised: the training images whose labels were kept
        record["labelled"] = data.labelled.tolist()
    return record


def check_model_fits_data(cls: type[GenerativeModel], data) -> None:
    """Tabular data (rows of features, ``latentlab.data.tabular``) trains the autoencoders (ae, and the VAE
    family) only: the other models make images in [0, 1]. Training labels kept for only some images (the
    others -1, ``labels``) train only a semi-supervised model. A ConfigError says what to train instead."""
    if getattr(data, "labelled", None) is not None and not issubclass(cls, SemiSupervised):
        raise ConfigError(f"labels={len(data.labelled)} hides the labels of all but {len(data.labelled)} training images (-1), "
                          f"which only a semi-supervised model trains on, not '{cls.name}': train sgan "
                          f"(`latentlab train sgan --labels {len(data.labelled)}`), or leave labels (--labels) out")
    if getattr(data, "standardization", None) is None:
        return
    from latentlab.models.ae import AE
    from latentlab.models.vae import VariationalModel
    if not issubclass(cls, (AE, VariationalModel)):
        raise ConfigError(f"{data.name} is tabular data (rows of {data.shape[-1]} features), and the '{cls.name}' model makes "
                          f"images: train an ae or vae on it (`latentlab train ae --dataset FILE --arch mlp`), "
                          f"or `latentlab anomaly ae --dataset FILE` to score its rows")


def check_output_file(path: str | Path, option: str = "-o/--output") -> Path:
    """The folder of an output file must exist and be writable, and the path must not be a folder:
    a LatentlabError naming ``option`` otherwise, before any work is done."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise LatentlabError(f"{option} {path} is a folder; give a file name in it, e.g. {path / ('out' + (path.suffix or '.png'))}")
    if folder.exists() and not folder.is_dir():
        raise LatentlabError(f"{option} {path}: {folder} is a file, not a folder; write the output elsewhere")
    if not folder.is_dir():
        raise LatentlabError(f"{option} {path}: the folder {folder} does not exist; create it first (mkdir -p {folder}) "
                             f"or write elsewhere")
    try:  # the one sure test, for root, read-only mounts and /proc alike: create a file there
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as e:
        raise LatentlabError(f"{option} {path}: cannot write in {folder} ({e.strerror}); choose a folder you can write to") from None
    return path
