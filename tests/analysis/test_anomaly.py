"""latentlab.analysis.anomaly: the detector API and the one-class protocol, on the bundled digits."""
import json

import numpy as np
import pytest
import torch

import latentlab
from latentlab import anomaly
from latentlab.errors import LatentlabError

SMALL = dict(epochs=2, batch_size=64, latent_dim=4, hidden=32, progress=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny AE and VAE trained on digits, and the digits test images."""
    root = tmp_path_factory.mktemp("runs")
    ae = latentlab.train("ae", dataset="digits", out=str(root / "ae"), **SMALL).model
    vae = latentlab.train("vae", dataset="digits", out=str(root / "vae"), **SMALL).model
    data = latentlab.load_dataset("digits")
    return ae, vae, data


def test_scores_are_one_per_image_and_higher_for_inverted_digits(runs):
    ae, _, data = runs
    det = anomaly.Detector(ae, score="mse")
    x = data.test.x[:50]
    s_digits, s_inverted = det.score(x), det.score(1 - x)
    assert s_digits.shape == (50,) and s_inverted.shape == (50,)
    assert (s_inverted > s_digits).mean() > 0.9


def test_mse_is_the_mean_squared_error_of_the_reconstruction(runs):
    ae, _, data = runs
    x = data.test.x[:8]
    expected = (x - ae.reconstruct(x)).pow(2).flatten(1).mean(1).detach().numpy()
    np.testing.assert_allclose(anomaly.Detector(ae, score="mse").score(x), expected, rtol=1e-5)


def test_fit_sets_threshold_from_contamination_and_predict_flags_above_it(runs):
    ae, _, data = runs
    det = anomaly.Detector(ae, score="bce", contamination=0.2).fit(data.train.x)
    assert det.decision_scores_.shape == (len(data.train.x),)
    assert det.labels_.mean() == pytest.approx(0.2, abs=0.01)
    x = torch.cat([data.test.x[:20], 1 - data.test.x[20:40]])  # digits, then inverted digits
    flags = det.predict(x)
    np.testing.assert_array_equal(flags, (det.decision_function(x) > det.threshold_).astype(int))
    assert flags[20:].mean() > flags[:20].mean()


def test_predict_before_fit_is_an_error(runs):
    with pytest.raises(LatentlabError, match="fit"):
        anomaly.Detector(runs[0]).predict(runs[2].test.x[:4])


def test_vae_scores_with_the_negative_elbo_reproducibly(runs):
    _, vae, data = runs
    det = anomaly.Detector(vae, draws=5)
    assert det.kind == "elbo"
    x = data.test.x[:16]
    state = torch.get_rng_state()
    np.testing.assert_array_equal(det.score(x), det.score(x))  # seeded draws
    assert torch.equal(torch.get_rng_state(), state)  # drawn from the detector's own generator
    assert not np.array_equal(anomaly.Detector(vae, draws=5, seed=1).score(x), det.score(x))
    assert (det.score(x) > 0).all()  # nats of binary cross-entropy plus a KL


def test_bad_settings_are_errors(runs):
    ae, _, _ = runs
    with pytest.raises(LatentlabError, match="needs a VAE"):
        anomaly.Detector(ae, score="elbo")
    with pytest.raises(LatentlabError, match="contamination"):
        anomaly.Detector(ae, contamination=0.7)
    with pytest.raises(LatentlabError, match="unknown anomaly score"):
        anomaly.Detector(ae, score="l1")


def test_knn_is_the_mean_distance_to_the_nearest_normal_codes_leaving_each_normal_image_out(runs):
    from sklearn.neighbors import NearestNeighbors
    ae, _, data = runs
    normal, x = data.train.x[:200], torch.cat([data.test.x[:20], 1 - data.test.x[:20]])
    det = anomaly.Detector(ae, score="knn", neighbors=3).fit(normal)
    codes_n, codes_x = ae.latent(normal).detach().numpy(), ae.latent(x).detach().numpy()
    index = NearestNeighbors().fit(codes_n)
    np.testing.assert_allclose(det.score(x), index.kneighbors(codes_x, 3)[0].mean(1), rtol=1e-5)
    loo = index.kneighbors(codes_n, 4)[0][:, 1:].mean(1)  # each normal image's own code left out
    np.testing.assert_allclose(det.decision_scores_, loo, rtol=1e-5)
    assert (det.decision_scores_ > 0).all()
    assert (det.score(x)[20:] > det.score(x)[:20]).mean() > 0.8  # inverted digits lie far from the normal codes


def test_mse_plus_knn_sums_the_parts_standardised_on_the_normal_images(runs):
    ae, _, data = runs
    normal, x = data.train.x[:200], data.test.x[:30]
    both = anomaly.Detector(ae, score="mse+knn").fit(normal)
    knn = anomaly.Detector(ae, score="knn").fit(normal)
    mse_n, mse_x = anomaly.Detector(ae, score="mse").score(normal), anomaly.Detector(ae, score="mse").score(x)
    expected = ((mse_x - mse_n.mean()) / mse_n.std()
                + (knn.score(x) - knn.decision_scores_.mean()) / knn.decision_scores_.std())
    np.testing.assert_allclose(both.score(x), expected, rtol=1e-5)
    assert both.decision_scores_.mean() == pytest.approx(0, abs=1e-9)  # standardised on these very images
    assert both.labels_.mean() == pytest.approx(0.1, abs=0.01)


def test_wmse_weights_each_pixel_by_the_spread_of_the_normal_residuals(runs):
    ae, _, data = runs
    normal, x = data.train.x[:200], torch.cat([data.test.x[:20], 1 - data.test.x[:20]])
    det = anomaly.Detector(ae, score="wmse").fit(normal)
    with torch.no_grad():
        r_n, r_x = normal - ae.reconstruct(normal), x - ae.reconstruct(x)  # (N, C, H, W)
    sd = r_n.std(0) + anomaly.RESIDUAL_FLOOR  # (C, H, W)
    np.testing.assert_allclose(det.score(x), (r_x / sd).pow(2).flatten(1).mean(1).numpy(), rtol=1e-4)
    np.testing.assert_allclose(det.decision_scores_, (r_n / sd).pow(2).flatten(1).mean(1).numpy(), rtol=1e-4)
    assert (det.score(x)[20:] > det.score(x)[:20]).mean() > 0.8  # inverted digits reconstruct badly
    both = anomaly.Detector(ae, score="wmse+knn").fit(normal)
    knn = anomaly.Detector(ae, score="knn").fit(normal)
    w_n, w_x = det.decision_scores_, det.score(x)
    expected = (w_x - w_n.mean()) / w_n.std() + (knn.score(x) - knn.decision_scores_.mean()) / knn.decision_scores_.std()
    np.testing.assert_allclose(both.score(x), expected, rtol=1e-4)
    with pytest.raises(LatentlabError, match=r"call fit\(normal_images\) first"):
        anomaly.Detector(ae, score="wmse").score(x)
    with pytest.raises(LatentlabError, match="at least 2 images"):
        anomaly.Detector(ae, score="wmse").fit(normal[:1])


def test_knn_scores_need_fit_and_enough_normal_images(runs):
    ae, _, data = runs
    with pytest.raises(LatentlabError, match=r"call fit\(normal_images\) first"):
        anomaly.Detector(ae, score="knn").score(data.test.x[:4])
    with pytest.raises(LatentlabError, match="more than neighbors = 5"):
        anomaly.Detector(ae, score="mse+knn").fit(data.train.x[:5])
    with pytest.raises(LatentlabError, match="neighbors must be at least 1"):
        anomaly.Detector(ae, score="knn", neighbors=0)


def test_models_without_an_encoder_of_images_alone_cannot_score():
    from latentlab.models.cvae import CVAE
    from latentlab.models.gan import GAN
    with pytest.raises(LatentlabError, match="no encoder"):
        anomaly.resolve_score(GAN, "auto")
    with pytest.raises(LatentlabError, match="together with its label"):
        anomaly.resolve_score(CVAE, "auto")


def test_check_classes():
    assert anomaly.check_classes(None, ["a", "b", "c"]) == [0, 1, 2]
    assert anomaly.check_classes([2, 2, 0], ["a", "b", "c"]) == [2, 0]
    with pytest.raises(LatentlabError, match="outside the dataset's classes 0..2"):
        anomaly.check_classes([3], ["a", "b", "c"])
    with pytest.raises(LatentlabError, match="no labels"):
        anomaly.check_classes(None, None)


def test_one_class_protocol_writes_table_json_and_plots(tmp_path):
    result = anomaly.one_class("ae", "digits", tmp_path, normal=[1], seeds=[0, 1], epochs=1, batch_size=64,
                               latent_dim=4, hidden=32)
    assert set(result.auc) == {1} and len(result.auc[1]) == 2
    assert all(0 <= a <= 1 for v in result.auc.values() for a in v)
    saved = json.loads((tmp_path / "anomaly.json").read_text())
    assert saved["mean_auc"] == pytest.approx(result.mean_auc)
    assert "**mean**" in (tmp_path / "anomaly.md").read_text()
    for name in ("roc.png", "scores.png", "class-1/seed-1/run/model.safetensors"):
        assert (tmp_path / name).is_file()
    # the detector of class 1 was trained on class-1 images only
    sizes = json.loads((tmp_path / "class-1/seed-0/run/config.json").read_text())["data"]["sizes"]
    assert sizes["train"] + sizes["val"] == int((latentlab.load_dataset("digits", val_fraction=0).train.y == 1).sum())


# --- a trained run, scored without training ------------------------------------------------------------
@pytest.fixture(scope="module")
def protocol_run(tmp_path_factory):
    """A run of the one-class protocol (normal class 3) and the protocol's own result."""
    out = tmp_path_factory.mktemp("protocol")
    result = anomaly.one_class("ae", "digits", out, normal=[3], seeds=[0], log=None, **SMALL)
    return out / "class-3" / "seed-0" / "run", result


def test_the_protocol_records_the_dataset_and_the_normal_class(protocol_run):
    run, _ = protocol_run
    assert json.loads((run / "normal.json").read_text()) == {"dataset": "digits", "normal_class": 3,
                                                             "images": int((latentlab.load_dataset("digits", val_fraction=0).train.y == 3).sum())}
    assert json.loads((run / "config.json").read_text())["train"]["dataset"] == "digits"  # its commands load it again


def test_score_run_ranks_the_test_images_and_reproduces_the_protocols_auc(protocol_run, tmp_path):
    run, protocol = protocol_run
    result, data = anomaly.score_run(run, log=None)
    assert result.normal_class == 3 and result.normal_from == "normal.json" and result.score == "mse"
    assert len(result.scores) == len(data.test) == len(protocol.scores[3])
    np.testing.assert_allclose(result.scores, protocol.scores[3], rtol=1e-6)  # the same model on the same test split
    assert result.auc == pytest.approx(protocol.auc[3][0])
    most, least = result.most(5), result.least(5)
    assert result.scores[most[0]] == result.scores.max() and result.scores[least[0]] == result.scores.min()
    assert (np.diff(result.scores[most]) <= 0).all() and (np.diff(result.scores[least]) >= 0).all()
    assert result.scores[most[-1]] >= np.sort(result.scores)[-5]  # nothing outside the five scores higher
    made = anomaly.write_run_scores(result, data, tmp_path, n=6)
    assert {p.name for p in made} == {"anomaly-most.png", "anomaly-least.png", "anomaly-scores.json", "anomaly-scores.npy"}
    saved = json.loads((tmp_path / "anomaly-scores.json").read_text())
    assert [r["index"] for r in saved["most_anomalous"]] == result.most(6).tolist()
    assert saved["most_anomalous"][0]["score"] == pytest.approx(result.scores.max()) and saved["auc"] == result.auc
    assert saved["least_anomalous"][0]["score"] == pytest.approx(result.scores.min())
    np.testing.assert_array_equal(np.load(tmp_path / "anomaly-scores.npy"), result.scores)


def test_score_run_finds_the_normal_class_of_older_runs_by_the_folder_layout(protocol_run, tmp_path):
    import shutil
    run, _ = protocol_run
    old = tmp_path / "out" / "class-3" / "seed-0" / "run"
    shutil.copytree(run, old)
    (old / "normal.json").unlink()
    assert anomaly.recorded_normal_class(old) == (3, "the folder layout")
    result, _ = anomaly.score_run(old, normal_class=5, log=None)  # the option wins
    assert result.normal_class == 5 and result.normal_from == "--normal-class"


def test_score_run_of_a_run_trained_on_every_class(tmp_path):
    run = latentlab.train("ae", dataset="digits", out=str(tmp_path / "r"), **SMALL)
    result, _ = anomaly.score_run(run.dir, log=None)
    assert result.normal_class is None and result.auc is None and result.labels is not None
    with pytest.raises(LatentlabError, match="outside the dataset's classes 0..9"):
        anomaly.score_run(run.dir, normal_class=10, log=None)
    with pytest.raises(LatentlabError, match="needs a VAE"):
        anomaly.score_run(run.dir, score="elbo", log=None)


def test_score_run_with_knn_indexes_the_normal_class_training_images(protocol_run):
    run, _ = protocol_run
    lines = []
    result, data = anomaly.score_run(run, score="mse+knn", log=lines.append)
    assert result.score == "mse+knn" and result.normal_class == 3 and 0.5 < result.auc <= 1
    n3 = sum(int((p.y == 3).sum()) for p in (data.train, data.val))
    assert any(f"class 3's {n3:,} training images" in line for line in lines)
