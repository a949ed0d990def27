"""Every bad input of issue 12, as one table: each ends with its exit code (2 for bad input), one message
that names the file or option and the fix, and no traceback. Then tabular data end to end.

The table (``CASES``) is plain data and functions, so that ``bench/faults.py`` runs the very same cases
against the installed CLI in subprocesses: ``make_world`` trains the two tiny runs the cases start
from, ``Case.words`` builds a case's files in its own folder and returns the command line.
"""
from __future__ import annotations

import gzip
import json
import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest

from latentlab.cli.main import main

TINY = ["--epochs", "1", "--batch-size", "64", "--latent-dim", "4", "--hidden", "32", "--no-progress"]
NO_HIDDEN = ("dcgan",)  # models without --hidden (all convolutions)
LATENTLAB = str(Path(sys.executable).with_name("latentlab"))


# --- what the cases start from --------------------------------------------------------------------

@dataclass
class World:
    """Two pristine runs (never changed: a case that damages one works on its own copy) and one folder per case."""

    image_run: Path  # a tiny vae on the digits
    table_run: Path  # a tiny ae on a (300, 6) table
    table: Path  # that table, rows in their own units
    tmp: Path = Path(".")  # the current case's own folder

    def copy(self, run: Path) -> Path:
        dest = self.tmp / run.name
        shutil.copytree(run, dest)
        return dest


def make_table(path: Path) -> Path:
    rows = np.random.default_rng(0).normal(size=(300, 6)) * [1, 10, 100, 0.1, 1, 5] + [0, 50, -3, 1000, 2, 0]
    np.savez(path, x=rows, y=np.arange(300) % 3)
    return path


def make_world(root: Path) -> World:
    """Train the two runs every case starts from (a few seconds on one core)."""
    root.mkdir(parents=True, exist_ok=True)
    table = make_table(root / "table.npz")
    for words in (["train", "vae", "--dataset", "digits", *TINY, "--out", str(root / "image-run")],
                  ["train", "ae", "--dataset", str(table), *TINY, "--out", str(root / "table-run")]):
        assert main(words) == 0, words
    return World(root / "image-run", root / "table-run", table)


# --- the cases ------------------------------------------------------------------------------------

@dataclass
class Case:
    name: str
    build: Callable[[World], list]  # makes the case's files in world.tmp; returns the command line (after `latentlab`)
    expect: str  # text the output must hold (the message names the problem and the fix)
    code: int = 2
    absent: str | None = None  # text the output must not hold (a misleading hint)
    known: str | None = None  # why it still fails, when the fix is outside this change (the test xfails) ...
    known_text: str | None = None  # ... as long as the output holds this text of the known fault (and nothing else is wrong)

    def words(self, world: World) -> list[str]:
        return [str(w) for w in self.build(world)]


def idx_file(shape: tuple[int, ...], payload: bytes = b"") -> bytes:
    magic = 0x0800 + len(shape)
    return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in shape) + payload


def mnist_folder(w: World, train_images: bytes) -> Path:
    """An MNIST folder whose training images file is ``train_images`` (the other three files are fine)."""
    d = w.tmp / "mnist"
    d.mkdir()
    (d / "train-images-idx3-ubyte").write_bytes(train_images)
    (d / "train-labels-idx1-ubyte").write_bytes(idx_file((10,), bytes(10)))
    (d / "t10k-images-idx3-ubyte").write_bytes(idx_file((10, 28, 28), bytes(7840)))
    (d / "t10k-labels-idx1-ubyte").write_bytes(idx_file((10,), bytes(10)))
    return d


def npz(w: World, name: str = "data.npz", **arrays) -> Path:
    np.savez(w.tmp / name, **arrays)
    return w.tmp / name


def npy(w: World, x: np.ndarray, name: str = "data.npy") -> Path:
    np.save(w.tmp / name, x)
    return w.tmp / name


def nan_table(w: World) -> Path:
    x = np.zeros((40, 5))
    x[13, 2] = np.nan
    return npy(w, x, "nan.npy")


def train(w: World, model: str, *words) -> list:
    """`latentlab train MODEL` with tiny settings, ``words`` last (so they win), into T/run unless they name an --out."""
    out = [] if "--out" in words else ["--out", w.tmp / "run"]
    tiny = [t for t in TINY if t not in ("--hidden", "32")] if model in NO_HIDDEN else TINY
    return ["train", model, *tiny, *out, *words]


def damaged(w: World, part: str, content: bytes | Callable[[bytes], bytes], legacy: bool = False) -> Path:
    """A copy of the image run with ``part`` replaced (``legacy``: without checkpoint.json, as version 0.1 wrote)."""
    run = w.copy(w.image_run)
    old = (run / part).read_bytes()
    (run / part).write_bytes(content(old) if callable(content) else content)
    if legacy:
        (run / "checkpoint.json").unlink()
    return run


def edited_config(w: World, edit: Callable[[dict], None]) -> Path:
    run = w.copy(w.image_run)
    cfg = json.loads((run / "config.json").read_text())
    edit(cfg)
    (run / "config.json").write_text(json.dumps(cfg))
    return run


def other_weights(w: World) -> Path:
    other = w.tmp / "other"
    assert main(["train", "vae", "--dataset", "digits", *TINY, "--latent-dim", "3", "--out", str(other)]) == 0
    return damaged(w, "model.safetensors", (other / "model.safetensors").read_bytes())


def calo_file(w: World, layer_0) -> Path:
    path = w.tmp / "showers.h5"
    with h5py.File(path, "w") as f:
        f["energy"] = np.full((8, 1), 10.0)
        f["layer_0"] = layer_0
        f["layer_1"] = np.zeros((8, 12, 12))
        f["layer_2"] = np.zeros((8, 12, 6))
    return path


def set_in(section: str, key: str, value) -> Callable[[dict], None]:
    return lambda cfg: cfg[section].__setitem__(key, value)


RESUME = ("--epochs", "2", "--no-progress")
PICKLE = pickle.dumps({"optimizers": {}, "rng": None, "loop": {}})

CASES = [
    # --- sample and reconstruct: --n, outputs, seeds
    Case("sample --n far beyond memory", lambda w: ["sample", w.image_run, "--n", 10**13, "-o", w.tmp / "s.npy"],
         "of memory, but"),
    Case("sample -o in a missing folder", lambda w: ["sample", w.image_run, "-o", w.tmp / "missing" / "s.png"],
         "does not exist; create it first"),
    Case("sample -o in an unwritable place", lambda w: ["sample", w.image_run, "-o", "/proc/latentlab-sample.png"],
         "cannot write in /proc"),
    Case("sample -o a folder", lambda w: (w.tmp / "dir.png").mkdir() or ["sample", w.image_run, "-o", w.tmp / "dir.png"],
         "is a folder; give a file name in it"),
    Case("sample -o under a file", lambda w: (w.tmp / "f").write_text("x") and ["sample", w.image_run, "-o", w.tmp / "f" / "s.png"],
         "is a file, not a folder"),
    Case("sample --seed -1", lambda w: ["sample", w.image_run, "--seed", -1, "-o", w.tmp / "s.png"], "--seed must be a whole number from 0"),
    Case("sample --seed 2**64", lambda w: ["sample", w.image_run, "--seed", 2**64, "-o", w.tmp / "s.png"], "--seed must be a whole number"),
    Case("reconstruct -o in a missing folder", lambda w: ["reconstruct", w.image_run, "-o", w.tmp / "missing" / "r.png"],
         "does not exist; create it first"),
    # --- train: the run folder
    Case("train --out an existing file", lambda w: (w.tmp / "taken").write_text("x") and train(w, "vae", "--out", w.tmp / "taken"),
         "is a file, not a run folder"),
    Case("train --out under a file", lambda w: (w.tmp / "f").write_text("x") and train(w, "vae", "--out", w.tmp / "f" / "run"),
         "cannot write the run folder"),
    Case("train --out in /proc", lambda w: train(w, "vae", "--out", "/proc/latentlab-run"), "cannot write the run folder"),
    # --- train: values out of range that used to reach torch, numpy or scikit-learn
    Case("train --momentum -0.5", lambda w: train(w, "vae", "--optimizer", "sgd", "--momentum", "-0.5"), "momentum (SGD) must be in [0, 1)"),
    Case("train --momentum 1.5", lambda w: train(w, "vae", "--optimizer", "sgd", "--momentum", "1.5"), "momentum (SGD) must be in [0, 1)"),
    Case("train --weight-decay -1", lambda w: train(w, "vae", "--weight-decay", "-1"), "weight_decay must be >= 0"),
    Case("train --weight-decay inf", lambda w: train(w, "vae", "--weight-decay", "inf"), "weight_decay must be >= 0 and finite"),
    Case("train --seed -1", lambda w: train(w, "vae", "--seed", "-1"), "seed must be a whole number from 0 to 4294967295"),
    Case("train --seed 2**70", lambda w: train(w, "vae", "--seed", 2**70), "seed must be a whole number from 0 to 4294967295"),
    Case("train --lr inf", lambda w: train(w, "vae", "--lr", "inf"), "lr must be positive and finite"),
    Case("train --lr nan", lambda w: train(w, "vae", "--lr", "nan"), "lr must be positive and finite"),
    Case("train --threshold 1.5", lambda w: train(w, "vae", "--threshold", "1.5"), "threshold (static binarization) must be"),
    Case("train --image-size 0", lambda w: train(w, "vae", "--image-size", "0"), "image_size must be a positive number"),
    Case("train --image-size 100000", lambda w: train(w, "vae", "--image-size", "100000"), "choose a smaller image_size"),
    # --- data files
    Case("IDX dims that overflow", lambda w: train(w, "vae", "--dataset", "mnist", "--data-dir",
                                                     mnist_folder(w, idx_file((2**31, 2**31, 4)))),
         "declares dims (2147483648, 2147483648, 4)"),
    Case("IDX header beyond the file", lambda w: train(w, "vae", "--dataset", "mnist", "--data-dir",
                                                         mnist_folder(w, idx_file((60000, 28, 28), bytes(100)))),
         "`latentlab data fetch mnist`", absent="NAME"),
    Case("gzipped IDX header beyond the file", lambda w: train(w, "vae", "--dataset", "mnist", "--data-dir", mnist_folder(
        w, gzip.compress(idx_file((60000, 2**20, 2**20), bytes(100))))), "can hold; it is corrupt"),
    Case(".npz labels 10**9", lambda w: train(w, "vae", "--dataset", npz(w, x=np.zeros((30, 8, 8), np.uint8), y=np.full(30, 10**9))),
         "labels go up to 1000000000"),
    Case(".npz labels 2**63 + 5 (uint64)", lambda w: train(w, "vae", "--dataset", npz(
        w, x=np.zeros((30, 8, 8), np.uint8), y=np.full(30, 2**63 + 5, dtype=np.uint64))), "labels go up to 9223372036854775813"),
    Case(".npz labels beyond its classes", lambda w: train(w, "vae", "--dataset", npz(
        w, x=np.zeros((30, 8, 8), np.uint8), y=np.arange(30) % 5, classes=np.array(["a", "b"]))), "'classes' names 2 classes"),
    Case("calo file of strings", lambda w: ["calo", "train", "calo-vae", "--data", calo_file(w, np.full((8, 3, 96), b"a")),
                                            "--epochs", "1", "--out", w.tmp / "calo"], "holds byte strings (dtype |S1), not numbers"),
    Case("calo file of records", lambda w: ["calo", "train", "calo-vae", "--data", calo_file(
        w, np.zeros((8, 3, 96), dtype=[("a", "f4"), ("b", "i4")])), "--epochs", "1", "--out", w.tmp / "calo"],
         "holds records (a compound type)"),
    Case("calo generate of an image run", lambda w: ["calo", "generate", w.image_run, "--energy", "50", "--n", "4",
                                                     "--out", w.tmp / "g.h5"], "not a shower model"),
    # --- datasets too small for the pictures: training writes what it can and says what it skipped
    Case("a dataset of one image", lambda w: train(w, "vae", "--dataset", npy(w, np.random.default_rng(0).random((1, 8, 8)))),
         "pictures skipped: reconstructions.png (the test split is empty)", code=0),
    Case("a dataset of five images", lambda w: train(w, "ae", "--dataset", npy(w, np.random.default_rng(0).random((5, 8, 8)))),
         "latent.png (the test split has 1 image", code=0),
    # --- tabular data
    Case("tabular NaN", lambda w: train(w, "ae", "--dataset", nan_table(w)), "nan in row 13, column 2"),
    Case("tabular on a conv ae", lambda w: train(w, "ae", "--arch", "conv", "--dataset", w.table), "use --arch mlp"),
    Case("tabular on a conv vae", lambda w: train(w, "vae", "--arch", "conv", "--dataset", w.table), "use --arch mlp"),
    Case("tabular on a gan", lambda w: train(w, "gan", "--dataset", w.table), "train an ae or vae on it", absent="--arch conv"),
    Case("tabular on a dcgan (no --arch)", lambda w: train(w, "dcgan", "--dataset", w.table), "train an ae or vae on it",
         absent="use --arch"),
    Case("tabular --binarize static", lambda w: train(w, "vae", "--binarize", "static", "--dataset", w.table), "cannot be binarized"),
    Case("tabular run sampled to a .png", lambda w: ["sample", w.table_run, "-o", w.tmp / "s.png"], "write the rows with -o FILE.npy"),
    Case("tabular run reconstructed to a .png", lambda w: ["reconstruct", w.table_run, "-o", w.tmp / "r.png"], "must end in .npz"),
    # --- misleading messages
    Case("a dcgan on 3x3 images (no --arch)", lambda w: train(w, "dcgan", "--dataset", npy(w, np.zeros((20, 3, 3), np.uint8))),
         "4x4", absent="--arch"),
    Case("data fetch of an unknown name", lambda w: ["data", "fetch", "mnits"], "cannot download 'mnits'"),
    Case("data info of a missing path", lambda w: ["data", "info", w.tmp / "none.npy"], "no such file or folder"),
    # --- damaged run folders
    Case("model.safetensors empty", lambda w: ["sample", damaged(w, "model.safetensors", b"")], "does not match checkpoint.json"),
    Case("model.safetensors truncated", lambda w: ["sample", damaged(w, "model.safetensors", lambda b: b[: len(b) // 2])],
         "does not match checkpoint.json"),
    Case("model.safetensors random bytes", lambda w: ["sample", damaged(w, "model.safetensors", os.urandom(4096))],
         "does not match checkpoint.json"),
    Case("model.safetensors of another model", lambda w: ["sample", other_weights(w)], "does not match checkpoint.json"),
    Case("model.safetensors random, no manifest", lambda w: ["sample", damaged(w, "model.safetensors", os.urandom(4096), legacy=True)],
         "is damaged or not a safetensors file"),
    Case("model.safetensors huge header, no manifest", lambda w: ["sample", damaged(
        w, "model.safetensors", (2**62).to_bytes(8, "little") + b"{}", legacy=True)], "is damaged or not a safetensors file"),
    Case("train_state.pt empty", lambda w: ["train", "vae", "--resume", damaged(w, "train_state.pt", b""), *RESUME],
         "train_state.pt does not match checkpoint.json"),
    Case("train_state.pt truncated", lambda w: ["train", "vae", "--resume", damaged(w, "train_state.pt", lambda b: b[:100]), *RESUME],
         "train_state.pt does not match checkpoint.json"),
    Case("train_state.pt a pickle, no manifest", lambda w: ["train", "vae", "--resume", damaged(w, "train_state.pt", PICKLE, legacy=True),
                                                             *RESUME], "is damaged or not a latentlab training state", absent="weights_only"),
    Case("config.json latent size changed", lambda w: ["sample", edited_config(w, set_in("model_config", "latent_dim", 7))],
         "does not fit the model that config.json describes"),
    Case("config.json shape changed", lambda w: ["sample", edited_config(w, set_in("data", "shape", [1, 9, 9]))],
         "does not fit the model that config.json describes"),
    Case("config.json hidden size changed", lambda w: ["sample", edited_config(w, set_in("model_config", "hidden", 33))],
         "does not fit the model that config.json describes"),
    Case("config.json unknown top-level key", lambda w: ["sample", edited_config(w, lambda c: c.__setitem__("extra", 1))],
         "unknown top-level key(s) extra"),
    Case("config.json standardisation damaged", lambda w: ["sample", edited_config_of(w, w.table_run, set_in(
        "data", "standardization", {"mean": [0.0], "std": [0.0]}))], "the saved standardisation of the tabular data is damaged"),
]


def edited_config_of(w: World, run: Path, edit: Callable[[dict], None]) -> Path:
    run = w.copy(run)
    cfg = json.loads((run / "config.json").read_text())
    edit(cfg)
    (run / "config.json").write_text(json.dumps(cfg))
    return run


# --- running a case -------------------------------------------------------------------------------

@dataclass
class Outcome:
    code: int
    output: str  # stdout and stderr
    traceback: bool  # a traceback was printed (or, in-process, an exception escaped main)

    def problems(self, case: Case) -> list[str]:
        """What is wrong with this outcome of ``case`` (empty: it behaved as it must)."""
        found = []
        if self.traceback:
            found.append("a traceback")
        if self.code != case.code:
            found.append(f"exit code {self.code}, not {case.code}")
        if case.expect not in self.output:
            found.append(f"no {case.expect!r} in the message")
        if case.absent and case.absent in self.output:
            found.append(f"a misleading {case.absent!r} in the message")
        return found


def run_in_process(words: list[str], capsys) -> Outcome:
    capsys.readouterr()
    try:
        code = main(words)
        traceback = False
    except SystemExit as e:  # argparse's own errors: exit 2, usage and message, no traceback
        code, traceback = e.code, False
    except BaseException as e:  # noqa: BLE001 (what a user would have seen as a traceback)
        code, traceback = 1, True
        print(f"Traceback (escaped main): {type(e).__name__}: {e}", file=sys.stderr)
    out = capsys.readouterr()
    return Outcome(code, out.out + out.err, traceback or "Traceback" in out.err)


def run_in_subprocess(words: list[str], timeout: float = 300) -> Outcome:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([LATENTLAB, *words], capture_output=True, text=True, timeout=timeout, env=env)
    return Outcome(proc.returncode, proc.stdout + proc.stderr, "Traceback" in proc.stderr)


# --- the tests --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("world"))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_ends_with_one_clear_message(case, world, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    world.tmp = tmp_path
    outcome = run_in_process(case.words(world), capsys)
    problems = outcome.problems(case)
    if problems and case.known and case.known_text in outcome.output and not outcome.traceback and outcome.code == case.code:
        pytest.xfail(f"{case.known}: {problems}")  # the known fault, and only it
    assert not problems, (problems, outcome.output[-2000:])


REAL_PROCESS = ["sample --n far beyond memory", "train --out in /proc", "IDX dims that overflow", ".npz labels 10**9",
                "train_state.pt empty", "tabular NaN"]


@pytest.mark.parametrize("name", REAL_PROCESS)
def test_the_same_in_a_real_process(name, world, tmp_path):
    """Where a traceback could only show in a real process (the console script, its imports, its exit)."""
    case = next(c for c in CASES if c.name == name)
    world.tmp = tmp_path
    outcome = run_in_subprocess(case.words(world))
    assert not outcome.problems(case), (outcome.problems(case), outcome.output[-2000:])


def test_every_case_has_its_own_name():
    assert len({c.name for c in CASES}) == len(CASES)


# --- tabular data end to end ---------------------------------------------------------------------

@pytest.mark.parametrize("model, loss", [("ae", "recon"), ("vae", "likelihood")])
def test_a_table_trains_loads_samples_and_reconstructs(model, loss, tmp_path):
    import latentlab
    table = make_table(tmp_path / "table.npz")
    run = latentlab.train(model, dataset=str(table), epochs=2, batch_size=32, latent_dim=2, hidden=16, progress=False,
                          out=str(tmp_path / model))
    cfg = json.loads((run.dir / "config.json").read_text())
    assert cfg["data"]["shape"] == [1, 1, 6] and len(cfg["data"]["standardization"]["mean"]) == 6
    assert cfg["model_config"][loss] == {"recon": "mse", "likelihood": "gaussian"}[loss]  # forced and recorded
    assert "samples.png" not in {p.name for p in run.dir.iterdir()} and (run.dir / "latent.png").is_file()
    info = latentlab.read_run(run.dir)
    assert np.array_equal(info.standardization.mean, run_dataset_mean(run.dir))
    model_ = latentlab.load(run.dir)
    z = model_.sample(5)
    assert z.shape == (5, 1, 1, 6) and not z.requires_grad
    assert (z < 0).any()  # standardised units: not squashed into [0, 1] by a sigmoid
    # the CLI: rows in the data's own units
    assert main(["sample", str(run.dir), "--n", "7"]) == 0
    rows = np.load(run.dir / "sampled.npy")
    assert rows.shape == (7, 6) and abs(rows[:, 3].mean() - 1000) < 5  # feature 3 lives near 1000
    assert main(["reconstruct", str(run.dir), "--n", "4"]) == 0
    with np.load(run.dir / "reconstructed.npz") as r:
        assert r["x"].shape == r["reconstruction"].shape == (4, 6)
    assert main(["eval", str(run.dir)]) == 0


def run_dataset_mean(run_dir):
    from latentlab.training.run_folder import run_dataset
    data = run_dataset(run_dir)
    return data.standardization.mean


def test_the_anomaly_detector_scores_table_rows(tmp_path):
    from latentlab.analysis.anomaly import Detector, train_detector
    from latentlab.data import load_dataset
    rows = np.random.default_rng(0).normal(size=(240, 5))
    rows[200:] += 6.0  # the last 40 rows are far from the others
    np.save(tmp_path / "t.npy", rows)
    data = load_dataset(str(tmp_path / "t.npy"), val_fraction=0.0)
    normal = data.train.x[:100]
    det = train_detector("ae", normal, tmp_path / "det", epochs=3, batch_size=32, latent_dim=2, hidden=16, progress=False)
    assert isinstance(det, Detector)
    far = data.standardization.apply(rows[200:])
    assert np.median(det.score(far)) > np.quantile(det.score(normal), 0.9)


def test_nan_in_a_table_is_refused_naming_row_and_column(tmp_path, capsys):
    x = np.ones((30, 4))
    x[7, 3] = np.inf
    np.save(tmp_path / "t.npy", x)
    assert main(["train", "vae", "--dataset", str(tmp_path / "t.npy"), *TINY, "--out", str(tmp_path / "r")]) == 2
    assert "the first is inf in row 7, column 3 (counting from 0)" in capsys.readouterr().err


@pytest.mark.parametrize("model, arch", [("ae", "conv"), ("vae", "conv"), ("ae", "conv-lecture2")])
def test_conv_models_refuse_a_table_saying_use_arch_mlp(model, arch, tmp_path, capsys):
    table = make_table(tmp_path / "t.npz")
    assert main(["train", model, "--arch", arch, "--dataset", str(table), *TINY, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert f"has no image for --arch {arch} to convolve: use --arch mlp" in err and "Traceback" not in err
