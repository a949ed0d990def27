"""Feedback on long work: anomaly, cluster, pca, eval --samples and calo validate say each stage on stderr as it
starts (the results stay alone on stdout), and a picture of another request is never silently replaced."""
import pytest

import latentlab
from latentlab.calo import simulate, write_calogan
from latentlab.cli.main import main

TINY = dict(dataset="digits", epochs=1, batch_size=64, latent_dim=4, hidden=32, progress=False)
FLAGS = ["--epochs", "1", "--batch-size", "64", "--latent-dim", "4", "--hidden", "32"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return latentlab.train("ae", out=str(tmp_path_factory.mktemp("runs") / "ae"), **TINY).dir


def lines(text):
    return [line for line in text.splitlines() if line.startswith("latentlab: ")]


def test_cluster_says_each_stage_and_names_pictures_after_the_request(run, tmp_path, capsys):
    assert main(["cluster", str(run), "--method", "kmeans", "spectral", "--split", "test", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    said = lines(captured.err)
    assert said[0].startswith("latentlab: encoding 359 images (test split)")
    assert "latentlab: k-means of 359 codes into 10 clusters..." in said
    assert "latentlab: spectral clustering of 359 codes into 10 clusters, a 10-nearest-neighbour graph..." in said
    assert not lines(captured.out) and "accuracy" in captured.out  # results on stdout, stages on stderr
    assert str(tmp_path / "clusters-spectral-test-k10.png") in captured.out
    assert main(["cluster", str(run), "--k", "5", "--split", "test", "--out", str(tmp_path)]) == 0  # another request
    err = capsys.readouterr().err
    assert "replacing clusters.json, clusters-kmeans.npy" in err and "k 10" in err  # the data files say so
    assert (tmp_path / "clusters-kmeans-test-k10.png").is_file() and (tmp_path / "clusters-kmeans-test-k5.png").is_file()
    assert main(["cluster", str(run), "--k", "5", "--split", "test", "--out", str(tmp_path)]) == 0  # the same again
    assert f"replacing {tmp_path / 'clusters-kmeans-test-k5.png'}" in capsys.readouterr().err


def test_anomaly_says_each_stage_and_what_it_replaces(tmp_path, capsys):
    out = tmp_path / "an"
    assert main(["anomaly", "ae", "--dataset", "digits", "--normal-class", "0", "7", "--seeds", "0", "1",
                 "--out", str(out), *FLAGS]) == 0
    captured = capsys.readouterr()
    said = lines(captured.err)
    assert said[0] == "latentlab: loading digits..."
    assert "latentlab: training ae on class 7 (7), run 3 of 4: seed 0, 143 images, 1 epoch..." in said
    assert said.count("latentlab: scoring 359 test images (mse)...") == 4
    assert not lines(captured.out) and "**mean**" in captured.out
    assert main(["anomaly", "ae", "--dataset", "digits", "--normal-class", "3", "--out", str(out), *FLAGS]) == 0
    assert (f"replacing anomaly.md, anomaly.json, roc.png, scores.png in {out}, written by an earlier request "
            "(score mse, normal classes 0, 7)") in capsys.readouterr().err
    # the same class and seed again would train into a trained run folder: refused before any training
    assert main(["anomaly", "ae", "--dataset", "digits", "--normal-class", "1", "3", "--out", str(out), *FLAGS]) == 2
    err = capsys.readouterr().err
    assert "already holds the trained runs of an earlier request (class-3/seed-0)" in err and "training ae" not in err
    assert not (out / "class-1").exists()


def test_pca_says_each_stage(tmp_path, capsys):
    assert main(["pca", "--k", "2", "--epochs", "1", "--out", str(tmp_path / "lin")]) == 0
    captured = capsys.readouterr()
    said = lines(captured.err)
    assert said[0] == "latentlab: training a linear autoencoder with 2 latents on digits for 1 epoch..."
    assert said[1].startswith("latentlab: fitting PCA-2 to 1,2") and said[1].endswith(" training images of 64 pixels...")
    assert said[2] == "latentlab: reconstruction errors of the autoencoder and PCA-2 on the training and test splits..."
    assert "epoch 1:" in captured.out and "largest principal angle" in captured.out  # the training's own line, then the result


def test_denoise_names_the_picture_after_the_noise(run, capsys):
    assert main(["denoise", str(run), "--noise", "gaussian:0.4", "--n", "3"]) == 0
    assert "latentlab: corrupting (gaussian:0.4, seed 0) and reconstructing 359 test images..." in capsys.readouterr().err
    assert main(["denoise", str(run), "--noise", "mask:0.5", "--n", "3"]) == 0
    assert main(["denoise", str(run), "--noise", "mask:0.5", "--n", "3", "--seed", "2"]) == 0
    assert "replacing" not in capsys.readouterr().err
    for name in ("denoised-gaussian-0.4.png", "denoised-mask-0.5.png", "denoised-mask-0.5-seed2.png"):
        assert (run / name).is_file(), name
    assert main(["denoise", str(run), "--noise", "mask:0.5", "--n", "3"]) == 0
    assert f"replacing {run / 'denoised-mask-0.5.png'}" in capsys.readouterr().err


def test_eval_samples_says_each_stage_without_a_bar_in_a_log(run, tmp_path, capsys):
    assert main(["eval", str(run), "--samples", "200", "--evaluator-cache", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    said = lines(captured.err)
    for stage in ("latentlab: drawing 200 samples (seed 0)...", "latentlab: classifier features of 359 test images...",
                  "latentlab: classifier features of the 200 samples...",
                  "latentlab: Frechet distance, precision/recall and density/coverage (k = 3) of the samples...",
                  "latentlab: the floor: the same metrics for 200 training images..."):
        assert stage in said, stage
    assert "\r" not in captured.err  # stderr is not a terminal: no progress bar in the log
    assert "samples_fd" in captured.out and not lines(captured.out)


def test_calo_validate_says_each_stage_and_what_it_replaces(tmp_path, capsys):
    ref = write_calogan(tmp_path / "ref.h5", simulate("eplus", 120, seed=1))
    gen = write_calogan(tmp_path / "gen.h5", simulate("gamma", 120, seed=2))
    args = ["calo", "validate", "--reference", str(ref), "--generated", str(gen), "--out", str(tmp_path / "report"),
            "--no-figures"]
    assert main(args) == 0
    captured = capsys.readouterr()
    said = lines(captured.err)
    for stage in ("latentlab: observables of 120 reference and 120 generated showers...",
                  "latentlab: FPD and KPD of the high-level features...",
                  "latentlab: classifier AUC (CaloChallenge DNN on voxels and on high-level features, up to 120 showers of each kind)..."):
        assert stage in said, stage
    assert "classifier AUC" in captured.out
    assert main(args[:-1]) == 0  # with figures, into the same folder
    assert f"replacing the validation report already in {tmp_path / 'report'} ({ref} against {gen})" in capsys.readouterr().err
