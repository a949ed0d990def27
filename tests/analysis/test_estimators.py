"""AutoEncoderOD and VAEOD: scikit-learn's own estimator checks, PyOD's conventions, Pipeline and GridSearchCV."""
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import make_scorer, roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from latentlab.analysis.estimators import AutoEncoderOD, VAEOD

# Tiny settings: the checks fit a few hundred times (each fit some 10 ms).
TINY = dict(epochs=2, hidden=8, batch_size=16)

# The checks scikit-learn runs on every outlier detector that these detectors fail on purpose: they follow
# PyOD's conventions (predict and fit_predict give 1 = outlier, 0 = inlier; decision_function is higher for
# outliers), while scikit-learn's detectors give -1 = outlier, +1 = inlier and a decision_function that is
# negative for outliers. Every other check (47 in scikit-learn 1.9) passes.
PYOD_CONVENTION = {
    "check_outliers_fit_predict": "predict/fit_predict follow PyOD: 1 = outlier, 0 = inlier (scikit-learn expects -1 / 1)",
    "check_outliers_train": "predict follows PyOD (0 / 1, not -1 / 1) and decision_function is higher for outliers "
                            "(scikit-learn's is negative for them, with score_samples and offset_)",
}


def expected_failed_checks(estimator):
    return PYOD_CONVENTION


@parametrize_with_checks([AutoEncoderOD(**TINY), VAEOD(**TINY, draws=3)], expected_failed_checks=expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def blobs(n=200, d=5, outliers=10, seed=0):
    """Inliers N(0, I) in d dimensions and a few far points; labels 1 for the outliers."""
    rng = np.random.default_rng(seed)
    x = np.vstack([rng.normal(size=(n, d)), rng.normal(6, 1, size=(outliers, d))])
    return x, np.r_[np.zeros(n, int), np.ones(outliers, int)]


@pytest.mark.parametrize("cls", [AutoEncoderOD, VAEOD])
def test_pyod_attributes_and_conventions(cls):
    x, y = blobs()
    det = cls(epochs=20, hidden=16, latent_dim=2, contamination=0.05, random_state=0).fit(x)
    assert det.decision_scores_.shape == (len(x),) and det.labels_.shape == (len(x),)
    assert set(np.unique(det.labels_)) <= {0, 1}
    assert det.labels_.mean() == pytest.approx(0.05, abs=0.01)  # the threshold is the (1 - contamination) quantile
    assert np.array_equal(det.predict(x), det.labels_)
    assert np.array_equal(det.fit_predict(x), det.labels_)  # OutlierMixin's fit_predict, PyOD's labels
    assert roc_auc_score(y, det.decision_function(x)) > 0.95  # the far points score high
    for method in ("linear", "unify"):
        p = det.predict_proba(x, method=method)
        assert p.shape == (len(x), 2) and np.allclose(p.sum(1), 1) and p.min() >= 0 and p.max() <= 1
        assert roc_auc_score(y, p[:, 1]) > 0.95
    lin = det.predict_proba(x)[:, 1]  # linear: 0 at the lowest training score, 1 at the highest
    assert lin.min() == pytest.approx(0) and lin.max() == pytest.approx(1)
    with pytest.raises(ValueError, match="method"):
        det.predict_proba(x, method="softmax")


def test_same_random_state_same_scores_and_pickle():
    x, _ = blobs(n=60)
    a = VAEOD(**TINY, random_state=3).fit(x)
    b = VAEOD(**TINY, random_state=3).fit(x)
    assert np.array_equal(a.decision_function(x), b.decision_function(x))
    c = pickle.loads(pickle.dumps(a))
    assert np.array_equal(c.decision_function(x), a.decision_function(x))
    assert not np.array_equal(VAEOD(**TINY, random_state=4).fit(x).decision_scores_, a.decision_scores_)


def test_get_set_params_and_clone():
    det = AutoEncoderOD(epochs=3, latent_dim=2)
    assert det.get_params()["epochs"] == 3 and det.get_params()["latent_dim"] == 2
    assert det.set_params(hidden=5).hidden == 5
    twin = clone(det)
    assert twin.get_params() == det.get_params() and twin is not det


@pytest.mark.parametrize("shape", [(40, 8, 8), (40, 1, 8, 8)])
@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_images(shape, arch):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 0.2, size=shape)
    det = AutoEncoderOD(**TINY, arch=arch, random_state=0).fit(x)
    assert det.decision_function(x).shape == (40,)
    bright = np.full((1, *shape[1:]), 1.0)  # far from every training image
    assert det.decision_function(bright)[0] > det.decision_scores_.max()
    with pytest.raises(ValueError, match="fitted on"):
        det.decision_function(rng.uniform(size=(3, *shape[1:-1], 4)))  # same first axes, other width
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        AutoEncoderOD(**TINY).fit(255 * x)


def test_bad_settings_are_value_errors():
    x, _ = blobs(n=30)
    with pytest.raises(ValueError, match="contamination"):
        AutoEncoderOD(contamination=0.7).fit(x)
    with pytest.raises(ValueError, match="epochs"):
        AutoEncoderOD(epochs=0).fit(x)
    with pytest.raises(ValueError, match="draws"):
        VAEOD(draws=0).fit(x)
    with pytest.raises(ValueError, match="images"):
        AutoEncoderOD(arch="conv").fit(x)


def test_pipeline_and_grid_search():
    x, y = blobs(n=120, outliers=8)
    pipe = make_pipeline(MinMaxScaler(), AutoEncoderOD(**TINY, random_state=0))
    pipe.fit(x)
    assert pipe.decision_function(x).shape == (len(x),) and set(np.unique(pipe.predict(x))) <= {0, 1}
    # unsupervised fit, judged by ROC-AUC of the scores on labelled data (y only reaches the scorer)
    auc = make_scorer(roc_auc_score, response_method="decision_function")
    grid = GridSearchCV(pipe, {"autoencoderod__latent_dim": [1, 2], "autoencoderod__epochs": [1, 5]}, scoring=auc,
                        cv=StratifiedKFold(2, shuffle=True, random_state=0))  # outliers in both folds
    grid.fit(x, y)
    assert set(grid.best_params_) == {"autoencoderod__latent_dim", "autoencoderod__epochs"}
    scores = grid.cv_results_["mean_test_score"]
    assert len(scores) == 4 and np.isfinite(scores).all() and grid.best_score_ > 0.9
