"""`latentlab anomaly`: the one-class protocol from the command line, and its bad input."""
import json

import numpy as np

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
