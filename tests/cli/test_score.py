"""latentlab score PATH --dataset D: samples from anywhere on latentlab's scale; bad input exits 2 with the fix."""
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from latentlab.cli.main import main
from latentlab.data import load_dataset
from latentlab.evaluation.classifier import SHIPPED

# CI sets LATENTLAB_TEST_MNIST; otherwise look for the project's ../shared beside the clone.
SHARED_MNIST = Path(os.environ.get("LATENTLAB_TEST_MNIST", Path(__file__).resolve().parents[2].parent / "shared/data/mnist"))


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", val_fraction=0.0)


def write_pngs(folder: Path, images: torch.Tensor, mode: str = "L") -> Path:
    folder.mkdir()
    for i, x in enumerate((images[:, 0].numpy() * 255).round().astype("uint8")):
        Image.fromarray(x).convert(mode).save(folder / f"{i:05d}.png")
    return folder


def test_real_test_images_score_at_the_floor_and_noise_far_from_it(digits, tmp_path, capsys):
    np.save(tmp_path / "real.npy", digits.test.x.numpy())  # (N, 1, 8, 8) float in [0, 1]
    assert main(["score", str(tmp_path / "real.npy"), "--dataset", "digits"]) == 0
    out = capsys.readouterr().out
    for word in ("FD", "floor", "precision", "recall", "density", "coverage", "recognisable", "ceiling", "classes",
                 SHIPPED["digits"], "shipped", "wrote"):
        assert word in out, word
    real = json.loads((tmp_path / "real.score.json").read_text())  # beside the input by default
    assert real["samples_fd"] <= real["samples_fd_floor"] and real["evaluator_sha256"] == SHIPPED["digits"]
    assert real["samples_recognisable"] > 0.85 and real["dataset"] == "digits"

    noise = (np.random.default_rng(0).random((400, 8, 8)) * 255).astype("uint8")  # (N, H, W) uint8
    np.save(tmp_path / "noise.npy", noise)
    assert main(["score", str(tmp_path / "noise.npy"), "--dataset", "digits", "--out", str(tmp_path / "n.json")]) == 0
    scored = json.loads((tmp_path / "n.json").read_text())
    assert scored["samples_fd"] > 20 * scored["samples_fd_floor"] and scored["samples_recognisable"] < 0.3
    assert "far from the data" in capsys.readouterr().out


def test_a_folder_of_pngs_and_an_npz_with_labels(digits, tmp_path, capsys):
    folder = write_pngs(tmp_path / "pngs", digits.test.x, mode="RGB")  # grey images saved as RGB, as PNG writers do
    assert main(["score", str(folder), "--dataset", "digits"]) == 0
    from_png = json.loads((tmp_path / "pngs.score.json").read_text())
    assert from_png["samples_fd"] < 0.01 and from_png["samples_n"] == len(digits.test)  # 8-bit rounding only
    np.savez(tmp_path / "labelled.npz", x=digits.test.x.numpy(), y=digits.test.y.numpy())
    assert main(["score", str(tmp_path / "labelled.npz"), "--dataset", "digits"]) == 0
    assert json.loads((tmp_path / "labelled.score.json").read_text())["samples_label_accuracy"] > 0.9


def bad_inputs(tmp_path: Path, digits) -> dict:
    """name -> (argv after `score`, words the message must hold)."""
    np.save(tmp_path / "big.npy", np.zeros((200, 1, 28, 28), dtype=np.uint8))
    np.save(tmp_path / "flat.npy", np.zeros((200, 64), dtype=np.float32))
    np.save(tmp_path / "range.npy", np.random.default_rng(0).random((200, 1, 8, 8)) * 2 - 1)
    np.save(tmp_path / "few.npy", digits.test.x[:50].numpy())
    np.save(tmp_path / "ok.npy", digits.test.x.numpy())
    (tmp_path / "empty").mkdir()
    (tmp_path / "samples.pt").write_bytes(b"not numpy")
    (tmp_path / "broken.npy").write_bytes(b"\x93NUMPY garbage")
    return {
        "wrong size": (["big.npy", "--dataset", "digits"], ["1x28x28", "resize them to 8x8"]),
        "wrong shape": (["flat.npy", "--dataset", "digits"], ["(200, 64)", "(N, 1, 8, 8)"]),
        "wrong range": (["range.npy", "--dataset", "digits"], ["[0, 1]", "(x + 1) / 2"]),
        "too few": (["few.npy", "--dataset", "digits"], ["50 images, too few", "at least 129"]),
        "empty folder": (["empty", "--dataset", "digits"], ["no PNG or JPEG images"]),
        "missing path": (["nowhere.npy", "--dataset", "digits"], ["no such file or folder", ".npy/.npz"]),
        "file type": (["samples.pt", "--dataset", "digits"], ["numpy.save"]),
        "damaged file": (["broken.npy", "--dataset", "digits"], ["cannot read this file"]),
        "unknown dataset": (["ok.npy", "--dataset", "nosuch"], ["unknown dataset 'nosuch'", "digits, mnist, fashion-mnist"]),
        "another dataset's images": (["ok.npy", "--dataset", "fashion-mnist"], ["1x8x8", "reads 1x28x28", "--dataset"]),
        "bad --out": (["ok.npy", "--dataset", "digits", "--out", "x.txt"], [".json"]),
    }


@pytest.mark.parametrize("case", ["wrong size", "wrong shape", "wrong range", "too few", "empty folder", "missing path",
                                  "file type", "damaged file", "unknown dataset", "another dataset's images", "bad --out"])
def test_bad_input_exits_2_with_the_fix(case, digits, tmp_path, monkeypatch, capsys):
    argv, words = bad_inputs(tmp_path, digits)[case]
    monkeypatch.chdir(tmp_path)
    assert main(["score", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("latentlab: error:") and "Traceback" not in err
    for word in words:
        assert word in err, (case, word, err)


def test_an_unlabelled_dataset_has_no_evaluator(tmp_path, capsys):
    np.save(tmp_path / "data.npy", np.random.default_rng(0).random((300, 8, 8)).astype(np.float32))  # images, no labels
    np.save(tmp_path / "samples.npy", np.random.default_rng(1).random((200, 8, 8)).astype(np.float32))
    assert main(["score", str(tmp_path / "samples.npy"), "--dataset", str(tmp_path / "data.npy"),
                 "--evaluator-cache", str(tmp_path / "cache")]) == 2
    assert "no labels" in capsys.readouterr().err


def test_mnist_without_its_data_names_the_fix(tmp_path, monkeypatch, capsys):
    """The shipped MNIST evaluator loads anywhere, but the test split (the reference) must be on disk."""
    monkeypatch.setattr("latentlab.data.locate.DEBIAN_ROOT", tmp_path / "none")
    monkeypatch.delenv("LATENTLAB_DATA", raising=False)
    np.save(tmp_path / "s.npy", np.zeros((200, 28, 28), dtype=np.uint8))
    assert main(["score", str(tmp_path / "s.npy"), "--dataset", "mnist", "--data-dir", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "dataset 'mnist' not found" in err and "latentlab data fetch mnist" in err and "Traceback" not in err


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="no MNIST copy (set LATENTLAB_TEST_MNIST)")
def test_mnist_test_images_as_pngs_score_at_the_floor(tmp_path, capsys):
    mnist = load_dataset("mnist", data_dir=str(SHARED_MNIST), val_fraction=0.0, download=False)
    # a random subset: the first half of MNIST's test split (Census employees' digits) is cleaner than the second
    pick = torch.randperm(len(mnist.test), generator=torch.Generator().manual_seed(0))[:1000]
    folder = write_pngs(tmp_path / "mnist", mnist.test.x[pick])
    assert main(["score", str(folder), "--dataset", "mnist", "--data-dir", str(SHARED_MNIST)]) == 0
    m = json.loads((tmp_path / "mnist.score.json").read_text())
    assert m["evaluator"] == "shipped" and m["evaluator_sha256"] == SHIPPED["mnist"]
    assert m["samples_fd"] < 1.5 * m["samples_fd_floor"] and m["samples_recognisable"] > 0.95
    assert m["samples_recognisable_ceiling"] > 0.95 and m["samples_classes_covered"] == 10


def test_a_dataset_without_a_shipped_evaluator_gets_a_local_one_and_says_so(digits, tmp_path, capsys):
    """A labelled .npz dataset: its evaluator is trained once (seconds here) and every result says `local`."""
    np.savez(tmp_path / "mydigits.npz", x=digits.train.x.numpy(), y=digits.train.y.numpy())
    np.save(tmp_path / "samples.npy", digits.test.x.numpy())
    argv = ["score", str(tmp_path / "samples.npy"), "--dataset", str(tmp_path / "mydigits.npz"),
            "--evaluator-cache", str(tmp_path / "cache")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "local mydigits evaluator" in out and "comparable only with results that name the same hash" in out
    m = json.loads((tmp_path / "samples.score.json").read_text())
    assert m["evaluator"] == "local" and m["evaluator_sha256"] not in SHIPPED.values()
    assert (tmp_path / "cache" / "mydigits-1x8x8-v1.safetensors").is_file()


def test_compare_flags_runs_scored_by_a_local_evaluator(tmp_path, capsys):
    for name, source in (("a", "shipped"), ("b", "local")):
        run = tmp_path / name
        run.mkdir()
        (run / "config.json").write_text(json.dumps({"model": "vae", "train": {"dataset": "digits"}}))
        (run / "eval.json").write_text(json.dumps({"samples_n": 300, "samples_fd": 5.0, "samples_recognisable": 0.9,
                                                   "evaluator": source, "evaluator_sha256": source[0] * 64}))
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "recognisable" in out.splitlines()[0] and "0.900" in out
    assert any(line.startswith("note: digits: b scored by an evaluator trained on this machine") for line in out.splitlines())
