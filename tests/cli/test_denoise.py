"""latentlab denoise RUN: the three-row picture, MSE/PSNR, and bad noise specs (exit 2)."""
import json

import pytest
from PIL import Image

from latentlab.cli.main import main

FAST = ["--dataset", "digits", "--epochs", "1", "--batch-size", "64", "--latent-dim", "4", "--hidden", "32", "--no-progress"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    assert main(["train", "ae", *FAST, "--noise", "gaussian:0.4", "--out", str(root / "dae")]) == 0
    assert main(["train", "ae", *FAST, "--out", str(root / "plain")]) == 0
    return root


def test_denoise_writes_three_rows_and_scores(runs, capsys, tmp_path):
    out = tmp_path / "grid.png"
    assert main(["denoise", str(runs / "dae"), "--n", "5", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "corrupted gaussian:0.4" in text and "PSNR" in text
    scores = json.loads((runs / "dae" / "eval_denoise.json").read_text())["gaussian:0.4"]
    assert scores["images"] == 359 and scores["mse_corrupted"] > 0
    assert 10 < scores["psnr_corrupted"] < 20  # sigma 0.4, clipped
    with Image.open(out) as img:
        w, h = img.size
    assert w / h == pytest.approx((5 * 9 + 1) / (3 * 9 + 1), rel=0.01)  # 5 columns, 3 rows of 8x8 tiles


def test_plain_run_takes_an_explicit_noise(runs):
    assert main(["denoise", str(runs / "plain"), "--noise", "saltpepper:0.1", "--n", "3"]) == 0
    assert (runs / "plain" / "denoised-saltpepper-0.1.png").is_file()
    assert "saltpepper:0.1" in json.loads((runs / "plain" / "eval_denoise.json").read_text())


@pytest.mark.parametrize("args, message", [(["--noise", "gaussian:7"], "out of range"), (["--noise", "mask"], "must be a number"),
                                           (["--noise", "speckle:0.1"], "unknown kind"), ([], "trained without noise")])
def test_bad_input_exits_2(runs, capsys, args, message):
    assert main(["denoise", str(runs / "plain"), *args]) == 2
    assert message in capsys.readouterr().err


def test_train_with_a_bad_noise_exits_2(capsys, tmp_path):
    assert main(["train", "ae", *FAST, "--noise", "mask:1.5", "--out", str(tmp_path / "x")]) == 2
    assert "mask takes P in (0, 1)" in capsys.readouterr().err
