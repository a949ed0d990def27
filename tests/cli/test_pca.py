"""latentlab pca: train-and-compare with --k, compare a RUN, its two pictures, and bad input."""
import json

import pytest

from latentlab.cli.main import main


def test_train_then_compare_and_compare_again(tmp_path, capsys):
    out = tmp_path / "lin"
    assert main(["pca", "--k", "2", "--epochs", "3", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "largest principal angle" in text and "PCA" in text
    result = json.loads((out / "eval_pca.json").read_text())
    assert result["k"] == 2 and len(result["angles_deg"]) == 2 and result["train_mse_pca"] <= result["train_mse_ae"]
    assert (out / "pca-components-k2.png").is_file() and (out / "pca-reconstructions-k2.png").is_file()
    (out / "pca-components-k2.png").unlink()
    assert main(["pca", str(out), "--images", "4"]) == 0
    printed = capsys.readouterr().out
    assert "k = 2" in printed and "pca-components-k2.png" in printed and (out / "pca-components-k2.png").is_file()
    assert "pca-components-k2.png" in (out / "report.html").read_text()


def test_bad_input_exits_2(tmp_path, capsys):
    assert main(["pca"]) == 2
    assert "give either a RUN" in capsys.readouterr().err
    assert main(["pca", "--k", "0"]) == 2
    assert main(["pca", "--k", "2", "--images", "0"]) == 2
    assert "--images must be at least 1" in capsys.readouterr().err
    assert main(["pca", str(tmp_path)]) == 2
    assert "not a latentlab run folder" in capsys.readouterr().err
