"""`latentlab anomaly MODEL`: the one-class protocol from the command line; `latentlab anomaly RUN`: scoring a trained run; bad input."""
import json

import numpy as np
import pytest

import latentlab
from latentlab.cli.main import main

TINY = ["--epochs", "1", "--batch-size", "64", "--latent-dim", "4", "--hidden", "32"]


def test_one_class_table_and_files(tmp_path, capsys):
    out = tmp_path / "an"
    assert main(["anomaly", "ae", "--dataset", "digits", "--normal-class", "0", "7", "--seeds", "0", "--out", str(out), *TINY]) == 0
    printed = capsys.readouterr().out
    assert "| 7 (7) |" in printed and "**mean**" in printed
    assert set(json.loads((out / "anomaly.json").read_text())["auc"]) == {"0", "7"}
    assert (out / "roc.png").is_file() and (out / "scores.png").is_file()


def test_vae_uses_the_elbo_score(tmp_path, capsys):
    out = tmp_path / "an"
    assert main(["anomaly", "vae", "--dataset", "digits", "--normal-class", "3", "--draws", "2", "--out", str(out), *TINY]) == 0
    assert json.loads((out / "anomaly.json").read_text())["score"] == "elbo"


def test_class_outside_the_dataset_exits_2(tmp_path, capsys):
    assert main(["anomaly", "ae", "--dataset", "digits", "--normal-class", "10", "--out", str(tmp_path / "an"), *TINY]) == 2
    assert "class 10 is outside the dataset's classes 0..9" in capsys.readouterr().err
    assert not (tmp_path / "an").exists()


def test_elbo_score_for_an_ae_exits_2(tmp_path, capsys):
    assert main(["anomaly", "ae", "--dataset", "digits", "--normal-class", "1", "--score", "elbo", "--out", str(tmp_path / "an"), *TINY]) == 2
    assert "needs a VAE" in capsys.readouterr().err
    assert not (tmp_path / "an").exists()  # refused before training


def test_unlabelled_dataset_scores_and_says_metrics_need_labels(tmp_path, capsys):
    np.save(tmp_path / "images.npy", latentlab.load_dataset("digits").train.x.numpy())
    out = tmp_path / "an"
    assert main(["anomaly", "ae", "--dataset", str(tmp_path / "images.npy"), "--out", str(out), *TINY]) == 0
    printed = capsys.readouterr().out
    assert "ROC-AUC needs labels" in printed
    assert json.loads((out / "anomaly.json").read_text())["auc"] is None
    # asking for a class of unlabelled data is an error
    assert main(["anomaly", "ae", "--dataset", str(tmp_path / "images.npy"), "--normal-class", "0", "--out", str(out), *TINY]) == 2
    assert "no labels" in capsys.readouterr().err


# --- latentlab anomaly RUN: no training ------------------------------------------------------------------
def test_scoring_a_protocol_run_knows_its_normal_class(tmp_path, capsys):
    out = tmp_path / "an"
    assert main(["anomaly", "ae", "--dataset", "digits", "--normal-class", "7", "--out", str(out), *TINY]) == 0
    auc = json.loads((out / "anomaly.json").read_text())["auc"]["7"][0]
    capsys.readouterr()
    run = out / "class-7" / "seed-0" / "run"
    assert main(["anomaly", str(run), "--n", "8"]) == 0
    printed = capsys.readouterr().out
    assert f"ROC-AUC {auc:.4f}: normal class 7 (7) (from normal.json)" in printed
    for name in ("anomaly-most.png", "anomaly-least.png", "anomaly-scores.json", "anomaly-scores.npy"):
        assert (run / name).is_file()


def test_scoring_a_trained_run_writes_the_grids_most_anomalous_first(tmp_path, capsys):
    run = latentlab.train("ae", dataset="digits", out=str(tmp_path / "run"), epochs=1, batch_size=64, latent_dim=4,
                          hidden=32, progress=False).dir
    assert main(["anomaly", str(run), "--n", "5", "--out", str(tmp_path / "scores")]) == 0
    printed = capsys.readouterr().out
    assert "no normal class known" in printed and "most anomalous: #" in printed
    saved = json.loads((tmp_path / "scores" / "anomaly-scores.json").read_text())
    scores = np.load(tmp_path / "scores" / "anomaly-scores.npy")
    most = [r["score"] for r in saved["most_anomalous"]]
    assert len(most) == 5 and most[0] == max(scores) and most == sorted(most, reverse=True)
    assert saved["least_anomalous"][0]["score"] == min(scores) and saved["auc"] is None
    assert (tmp_path / "scores" / "anomaly-most.png").is_file() and (tmp_path / "scores" / "anomaly-least.png").is_file()
    assert main(["anomaly", str(run), "--normal-class", "3", "--out", str(tmp_path / "scores")]) == 0
    assert "ROC-AUC" in capsys.readouterr().out and json.loads((tmp_path / "scores" / "anomaly-scores.json").read_text())["auc"]


@pytest.mark.parametrize("make, args, message", [
    ("ae", ["--normal-class", "12"], "class 12 is outside the dataset's classes 0..9"),
    ("ae", ["--n", "0"], "--n must be at least 1"),
    ("ae", ["--score", "elbo"], "needs a VAE"),
    ("gan", [], "has no encoder, so it cannot score images"),
    ("empty", [], "is not a latentlab run folder"),
    ("none", [], "is neither a model that scores images"),
])
def test_scoring_refusals_exit_2(tmp_path, capsys, make, args, message):
    target = tmp_path / "run"
    if make in ("ae", "gan"):
        latentlab.train(make, dataset="digits", out=str(target), epochs=1, batch_size=64, latent_dim=4, hidden=32,
                        progress=False)
    elif make == "empty":
        target.mkdir()
    assert main(["anomaly", str(target), *args]) == 2
    assert message in capsys.readouterr().err


def test_a_model_without_an_encoder_is_named_as_such(capsys):
    assert main(["anomaly", "gan"]) == 2
    assert "cannot score images" in capsys.readouterr().err
