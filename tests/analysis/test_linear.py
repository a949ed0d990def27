"""Linear autoencoder against PCA: the error gap, the principal angles and the bound that ties them."""
import math

import numpy as np
import pytest
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA

import latentlab
from latentlab.errors import LatentlabError
from latentlab.analysis.linear import angle_bound, compare_pca, fit_pca, pca_pictures, procrustes_basis, train_linear_ae

# What "within 2% of PCA-3 on digits" guarantees: sin^2 theta_max <= 0.02 E_pca / (lambda_3 - lambda_4) -> 33 degrees.
K = 3
BOUND_AT_2_PERCENT_DEG = 33.0


@pytest.fixture(scope="module")
def linear_run(tmp_path_factory):
    # SGD with momentum: in these ~500 steps Adam (steps capped near lr) is still far from the subspace (+8% at lr 0.01).
    return train_linear_ae(K, dataset="digits", epochs=12, batch_size=32, optimizer="sgd", lr=0.01, progress=False,
                           out=str(tmp_path_factory.mktemp("lin") / "run"))


def test_linear_ae_matches_pca_on_digits(linear_run):
    c = compare_pca(linear_run.dir)
    assert c.k == K and c.train_mse_pca <= c.train_mse_ae * (1 + 1e-6)  # PCA is optimal on its own data
    assert c.excess < 0.02  # within 2% of PCA-3
    assert c.test_mse_ae < 1.02 * c.test_mse_pca * 1.01
    # The theorem: the measured angle never exceeds the bound the excess error implies...
    assert c.max_angle_deg <= c.angle_bound_deg + 1e-6
    # ...and 2% on digits with k = 3 pins the subspace down to 33 degrees; in practice it is far closer.
    assert angle_bound(0.02 * c.train_mse_pca * 64, c.eigengap) < BOUND_AT_2_PERCENT_DEG
    assert c.angle_bound_deg < BOUND_AT_2_PERCENT_DEG and c.max_angle_deg < 10
    assert len(c.angles_deg) == K


def test_angle_bound_holds_for_any_subspace():
    """E_P - E_pca >= (lambda_k - lambda_{k+1}) sin^2 theta_max for the projection onto any k-dim subspace."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 12)) * np.linspace(3, 0.5, 12)  # distinct variances
    pca = PCA(6).fit(x)
    lam = pca.explained_variance_ * (len(x) - 1) / len(x)
    xc = x - x.mean(0)
    for k in (1, 3, 5):
        top = pca.components_[:k].T
        e_pca = ((xc - xc @ top @ top.T) ** 2).sum(1).mean()
        for _ in range(20):
            basis = np.linalg.qr(top + rng.normal(scale=rng.uniform(0.05, 2), size=top.shape))[0]
            e_u = ((xc - xc @ basis @ basis.T) ** 2).sum(1).mean()
            theta = math.degrees(subspace_angles(basis, top).max())
            assert theta <= angle_bound(e_u - e_pca, lam[k - 1] - lam[k]) + 1e-6


def test_compare_pca_on_a_nonlinear_ae_compares_errors_only(tmp_path, tiny):
    run = latentlab.train("ae", out=str(tmp_path / "r"), **tiny)
    c = compare_pca(run.model, latentlab.load_dataset("digits"))
    assert c.k == 4 and c.angles_deg is None and c.train_mse_pca > 0
    with pytest.raises(LatentlabError, match="needs the data"):
        compare_pca(run.model)


def test_procrustes_recovers_the_target_basis_from_any_basis_of_its_span():
    rng = np.random.default_rng(0)
    target = np.linalg.qr(rng.normal(size=(20, 4)))[0]  # (D, k) orthonormal
    columns = target @ rng.normal(size=(4, 4))  # another basis of the same span: mixed, scaled, not orthogonal
    np.testing.assert_allclose(procrustes_basis(columns, target), target, atol=1e-10)
    other = np.linalg.qr(rng.normal(size=(20, 4)))[0]  # another subspace: orthonormal, but not the target
    rotated = procrustes_basis(other, target)
    np.testing.assert_allclose(rotated.T @ rotated, np.eye(4), atol=1e-10)
    assert np.abs(rotated - target).max() > 0.1


def test_pca_pictures_of_the_linear_ae_and_of_another(linear_run, tmp_path):
    data = latentlab.load_dataset("digits")
    pca = fit_pca(data, K)
    made = pca_pictures(linear_run.model, data, tmp_path, pca, n=5)
    assert [p.name for p in made] == [f"pca-components-k{K}.png", f"pca-reconstructions-k{K}.png"]
    assert all(p.is_file() for p in made)
    c = compare_pca(linear_run.model, data, log=None, pca=pca)
    assert c.to_dict() == compare_pca(linear_run.model, data, log=None).to_dict()  # a PCA fitted once serves both
    run = latentlab.train("ae", out=str(tmp_path / "r"), dataset="digits", epochs=1, batch_size=64, latent_dim=2,
                          hidden=16, progress=False)
    assert len(pca_pictures(run.model, data, tmp_path / "mlp")) == 2  # PCA's components alone, and reconstructions
