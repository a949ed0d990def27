"""latentlab.analysis.cluster: matching accuracy, the clustering methods, and clustering a run's latent space."""
import json

import numpy as np
import pytest
import torch

import latentlab
from latentlab import cluster
from latentlab.errors import LatentlabError


def blobs(n_per=60, k=3, seed=0):
    """k well separated Gaussian blobs in 4-D and their labels."""
    rng = np.random.default_rng(seed)
    centres = 10 * np.eye(k, 4)
    x = np.concatenate([c + rng.normal(size=(n_per, 4)) for c in centres])
    return x, np.repeat(np.arange(k), n_per)


def test_accuracy_is_invariant_to_renaming_clusters():
    y = np.array([0, 0, 1, 1, 2, 2])
    assert cluster.cluster_accuracy(y, np.array([2, 2, 0, 0, 1, 1])) == 1.0
    # best matching: cluster 0 -> label 0 (2 right), cluster 1 -> label 1 (1 right), cluster 2 -> label 2 (1 right)
    assert cluster.cluster_accuracy(y, np.array([0, 0, 1, 2, 2, 1])) == pytest.approx(4 / 6)
    # two clusters for three labels: at most two labels can be matched
    assert cluster.cluster_accuracy(y, np.array([0, 0, 0, 0, 1, 1])) == pytest.approx(4 / 6)


def test_scores_of_a_perfect_and_of_a_random_clustering():
    y = np.repeat(np.arange(5), 200)
    assert cluster.clustering_scores(y, (y + 1) % 5) == pytest.approx({"accuracy": 1.0, "nmi": 1.0, "ari": 1.0})
    rand = cluster.clustering_scores(y, np.random.default_rng(0).integers(0, 5, len(y)))
    assert rand["accuracy"] < 0.3 and rand["nmi"] < 0.05 and abs(rand["ari"]) < 0.05


@pytest.mark.parametrize("method", cluster.METHODS)
def test_every_method_finds_separated_blobs(method):
    if method == "umap-gmm":
        pytest.importorskip("umap", reason="umap-gmm needs the cluster extra (umap-learn)")
    x, y = blobs()
    labels = cluster.cluster(x, 3, method)
    assert labels.shape == (len(x),) and set(labels) == {0, 1, 2}
    assert cluster.cluster_accuracy(y, labels) == 1.0


def test_spectral_follows_two_rings_that_kmeans_cuts():
    rng = np.random.default_rng(0)
    angle = rng.uniform(0, 2 * np.pi, 400)
    radius = np.repeat([1.0, 4.0], 200) + rng.normal(0, 0.1, 400)
    x, y = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1), np.repeat([0, 1], 200)
    assert cluster.cluster_accuracy(y, cluster.cluster(x, 2, "spectral")) == 1.0
    assert cluster.cluster_accuracy(y, cluster.cluster(x, 2, "kmeans")) < 0.8


def test_bad_k_and_method_are_errors():
    x, _ = blobs(n_per=2)
    with pytest.raises(LatentlabError, match="more than the 6 points"):
        cluster.cluster(x, 7)
    with pytest.raises(LatentlabError, match="at least 2"):
        cluster.cluster(x, 1)
    with pytest.raises(LatentlabError, match="unknown clustering method"):
        cluster.cluster(x, 2, "dbscan")
    with pytest.raises(LatentlabError, match="at least 2 neighbours"):
        cluster.cluster(x, 2, "spectral", neighbors=1)


def test_umap_gmm_without_umap_learn_names_the_extra(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "umap", None)  # import umap now raises ImportError
    x, _ = blobs()
    with pytest.raises(LatentlabError, match=r"latentlab\[cluster\]"):
        cluster.cluster(x, 3, "umap-gmm")


def test_picture_names_carry_only_the_neighbours_that_differ_from_the_method_default():
    assert cluster.picture_name("umap-gmm", "all", 10) == "clusters-umap-gmm-all-k10.png"
    assert cluster.picture_name("umap-gmm", "all", 10, neighbors=20) == "clusters-umap-gmm-all-k10.png"
    assert cluster.picture_name("umap-gmm", "all", 10, neighbors=10) == "clusters-umap-gmm-all-k10-n10.png"
    assert cluster.picture_name("spectral", "test", 5, neighbors=10) == "clusters-spectral-test-k5.png"
    assert cluster.picture_name("kmeans", "test", 5, neighbors=30) == "clusters-kmeans-test-k5.png"


@pytest.fixture(scope="module")
def ae_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "ae"
    latentlab.train("ae", dataset="digits", epochs=2, batch_size=64, latent_dim=4, hidden=32, progress=False, out=str(out))
    return out


def test_latent_codes_need_an_encoder_of_images_alone():
    from latentlab.models.cvae import CVAE, CVAEConfig
    from latentlab.models.gan import GAN, GANConfig
    x = torch.rand(4, 1, 8, 8)
    with pytest.raises(LatentlabError, match="no encoder"):
        cluster.latent_codes(GAN(GANConfig(), (1, 8, 8)), x)
    with pytest.raises(LatentlabError, match="keeps the class in its label"):
        cluster.latent_codes(CVAE(CVAEConfig(latent_dim=2, hidden=16), (1, 8, 8), num_classes=10), x)


def test_latent_codes_are_the_model_latents(ae_run):
    model = latentlab.load(ae_run)
    x = latentlab.load_dataset("digits").test.x[:10]
    codes = cluster.latent_codes(model, x, batch_size=3)
    assert codes.shape == (10, 4)
    np.testing.assert_allclose(codes, model.latent(x).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_cluster_run_scores_all_images_and_writes_plots(ae_run, tmp_path):
    results = cluster.cluster_run(ae_run, methods=["kmeans", "gmm"], split="all", out=tmp_path)
    assert [r.method for r in results] == ["kmeans", "gmm"]
    for r in results:
        assert len(r.labels) == 1797 and r.k == 10  # every digits image: train, validation and test
        assert r.scores["accuracy"] > 0.2  # above chance (0.1) even for a 2-epoch AE
    saved = json.loads((tmp_path / "clusters.json").read_text())
    assert saved["points"] == 1797 and saved["kmeans"]["nmi"] == pytest.approx(results[0].scores["nmi"])
    for name in ("clusters-kmeans-all-k10.png", "clusters-gmm-all-k10.png", "clusters-labels-all.png", "clusters-gmm.npy"):
        assert (tmp_path / name).is_file()


def test_split_images_all_concatenates_the_splits():
    data = latentlab.load_dataset("digits")
    x, y = cluster.split_images(data, "all")
    assert len(x) == len(y) == len(data.train) + len(data.val) + len(data.test)
    assert torch.equal(x[: len(data.train)], data.train.x)


def test_method_model_uses_the_clusters_vade_learned(tmp_path, ae_run):
    run = latentlab.train("vade", dataset="digits", epochs=2, pretrain=1, hidden="32,32", latent_dim=4,
                          batch_size=64, progress=False, out=str(tmp_path / "vade"))
    (result,) = cluster.cluster_run(run.dir, methods=["model"], split="test", out=tmp_path / "out", log=None)
    expected = run.model.cluster(cluster.split_images(run_dataset_of(run.dir), "test")[0])
    assert np.array_equal(result.labels, expected.numpy())
    assert set(result.scores) >= {"accuracy", "nmi", "ari"}
    with pytest.raises(LatentlabError, match="drop --k"):
        cluster.cluster_run(run.dir, k=3, methods=["model"], split="test", out=tmp_path / "out", log=None)
    with pytest.raises(LatentlabError, match="vade"):
        cluster.cluster_run(ae_run, methods=["model"], split="test", out=tmp_path / "out2", log=None)


def run_dataset_of(run_dir):
    from latentlab.training.run_folder import run_dataset
    return run_dataset(run_dir)
