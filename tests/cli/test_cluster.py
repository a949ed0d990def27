"""`latentlab cluster RUN`: clustering a run's latent space from the command line, and its bad input."""
import json

import numpy as np
import pytest

import latentlab
from latentlab.cli.main import main

TINY = dict(epochs=1, batch_size=64, latent_dim=4, hidden=32, progress=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A labelled digits run and a run on the same images saved without labels."""
    root = tmp_path_factory.mktemp("runs")
    latentlab.train("ae", dataset="digits", out=str(root / "labelled"), **TINY)
    np.save(root / "images.npy", latentlab.load_dataset("digits").train.x.numpy())
    latentlab.train("vae", dataset=str(root / "images.npy"), out=str(root / "unlabelled"), **TINY)
    return root


def test_scores_every_method(runs, tmp_path, capsys):
    assert main(["cluster", str(runs / "labelled"), "--method", "kmeans", "spectral", "--split", "test", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "kmeans" in printed and "spectral" in printed and "accuracy" in printed and "NMI" in printed
    saved = json.loads((tmp_path / "clusters.json").read_text())
    assert saved["k"] == 10 and 0 <= saved["spectral"]["ari"] <= 1


def test_unlabelled_run_clusters_and_says_metrics_need_labels(runs, tmp_path, capsys):
    assert main(["cluster", str(runs / "unlabelled"), "--k", "5", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "need labels" in printed and "cluster sizes" in printed
    assert len(set(np.load(tmp_path / "clusters-kmeans.npy"))) == 5
    assert json.loads((tmp_path / "clusters.json").read_text())["kmeans"] is None


def test_unlabelled_run_without_k_exits_2(runs, capsys):
    assert main(["cluster", str(runs / "unlabelled")]) == 2
    assert "give k" in capsys.readouterr().err


def test_k_larger_than_the_data_exits_2(runs, tmp_path, capsys):
    assert main(["cluster", str(runs / "labelled"), "--split", "val", "--k", "100000", "--out", str(tmp_path)]) == 2
    assert "more than the" in capsys.readouterr().err


def test_not_a_run_exits_2(tmp_path, capsys):
    assert main(["cluster", str(tmp_path)]) == 2
    assert "not a latentlab run folder" in capsys.readouterr().err
