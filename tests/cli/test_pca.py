"""latentlab pca: train-and-compare with --k, compare a RUN, and bad input."""
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
    assert main(["pca", str(out)]) == 0
    assert "k = 2" in capsys.readouterr().out


def test_bad_input_exits_2(tmp_path, capsys):
    assert main(["pca"]) == 2
    assert "give either a RUN" in capsys.readouterr().err
    assert main(["pca", "--k", "0"]) == 2
    assert main(["pca", str(tmp_path)]) == 2
    assert "not a latentlab run folder" in capsys.readouterr().err
