"""Learning to simulate: the transform, the energies to generate, train_showers + generate, bad input."""

import numpy as np
import pytest
import torch

from latentlab.calo import read_calogan, simulate, write_calogan
from latentlab.calo.data import (check_energies, decode_cells, encode_cells, energy_condition, fit_stats, to_dataset)
from latentlab.calo.generate import energies, generate, generate_to_file, load_model, train_showers
from latentlab.errors import DataError, LatentlabError

TINY = dict(epochs=1, batch_size=32, latent_dim=4, hidden=16, layers=1, progress=False)


@pytest.fixture(scope="module")
def showers():
    return simulate("eplus", 200, energy=(2.0, 50.0), seed=5)


@pytest.fixture(scope="module")
def run(showers, tmp_path_factory):
    out = tmp_path_factory.mktemp("calo") / "vae"
    return train_showers(showers, "calo-vae", out=str(out), validate_n=0, **TINY)


def test_transform_round_trip_and_condition(showers):
    cells = torch.from_numpy(showers.voxels())
    stats = fit_stats(showers)
    v = encode_cells(cells, stats["log_scale"])
    assert float(v.min()) == 0.0 and float(v.max()) == pytest.approx(1.0)
    assert torch.allclose(decode_cells(v, stats["log_scale"]), cells, rtol=1e-4, atol=1e-3)
    assert (decode_cells(-v, 3.0) == 0).all()  # negative v never makes negative energy
    c = energy_condition(torch.tensor([stats["e_min"], stats["e_max"]]), stats["e_min"], stats["e_max"])
    assert torch.allclose(c.ravel(), torch.tensor([-1.0, 1.0]))
    # the fitted response is the simulator's ~0.17 sampling fraction, in MeV per GeV, with a ~10%/sqrt(E) resolution
    assert 150 < stats["response_slope"] < 190
    assert 0.03 < stats["response_stochastic"] < 0.3 and stats["response_constant"] >= 0
    data, _, test = to_dataset(showers, "x.h5", 0.1, 0.2, seed=0)
    assert data.train.x.shape[1:] == (1, 1, 504) and data.train.y.shape[1] == 1
    assert len(data.train) + len(data.val) + len(data.test) == len(showers) and len(test) == len(data.test) == 40


def test_energies_choices(tmp_path, showers):
    assert np.all(energies(50.0, 3) == 50.0)
    e = energies((1.0, 10.0), 100, seed=1)
    assert e.shape == (100,) and 1 <= e.min() and e.max() <= 10
    write_calogan(tmp_path / "ref.h5", showers)
    assert np.allclose(energies(spectrum=tmp_path / "ref.h5"), showers.energy, rtol=1e-6)
    with pytest.raises(LatentlabError, match="n"):
        energies(50.0)
    with pytest.raises(DataError, match="low <= high"):
        energies((10.0, 1.0), 5)
    with pytest.raises(LatentlabError, match="which incident energies"):
        energies(None, 5)


def test_check_energies_messages():
    with pytest.raises(DataError, match="finite and > 0"):
        check_energies(np.array([10.0, np.nan]), 1, 100)
    with pytest.raises(DataError, match="finite and > 0"):
        check_energies(np.array([-5.0]), 1, 100)
    with pytest.warns(UserWarning, match="1-100 GeV"):
        check_energies(np.array([500.0]), 1, 100)


def test_train_generate_and_validate(run, showers, tmp_path):
    assert not (run.dir / "eval_calo.json").exists()  # validate_n=0 skips the validation (the CLI test runs it)
    gen = generate(run.dir, 20.0, 25, seed=1)
    assert len(gen) == 25 and np.all(gen.energy == 20.0)
    assert all((x >= 0).all() for x in gen.layers)
    again = generate(run.dir, 20.0, 25, seed=1)
    assert np.array_equal(gen.voxels(), again.voxels())  # the seed fixes the showers
    assert not np.array_equal(gen.voxels(), generate(run.dir, 20.0, 25, seed=2).voxels())
    assert str(run.dir) in gen.meta["generator"] and "calo-vae" in gen.meta["generator"]
    path = generate_to_file(run.dir, tmp_path / "gen.h5", (5.0, 40.0), 30)
    back = read_calogan(path)
    assert len(back) == 30 and back.layers[0].shape == (30, 3, 96)
    model = load_model(run.dir)
    state = torch.get_rng_state()
    assert np.array_equal(generate(model, (5.0, 40.0), 20, seed=1).voxels(),
                          generate(model, (5.0, 40.0), 20, seed=1).voxels())
    assert torch.equal(torch.get_rng_state(), state)  # every draw comes from the seed, none from the global RNG
    assert "in memory" in generate(model, 20.0, 2).meta["generator"]
    with pytest.warns(UserWarning, match="outside the range the model was trained on"):
        generate(model, 500.0, 2)
    with pytest.raises(DataError, match="finite and > 0"):
        generate(model, np.array([10.0, -1.0]))


def test_calibration_draws_totals_from_the_fitted_response(run):
    model = load_model(run.dir)
    e = torch.full((400,), 20.0)
    totals = model.generate(e, generator=torch.Generator().manual_seed(0)).sum(1) / model.expected_deposit(e)
    assert totals.mean() == pytest.approx(1.0, abs=0.03)
    expected_spread = (model.cfg.response_stochastic ** 2 / 20 + model.cfg.response_constant ** 2) ** 0.5
    assert totals.std() == pytest.approx(expected_spread, rel=0.25)
    model.cfg.calibrate = False  # the network's own totals
    assert not torch.allclose(model.generate(e[:5]).sum(1) / model.expected_deposit(e[:5]), torch.ones(5), atol=0.03)


def test_model_defaults_apply(run):
    assert run.config.lr == 1e-3 and (run.config.beta1, run.config.beta2) == (0.9, 0.999)  # calo-vae's train_defaults


def test_an_image_model_is_refused_cleanly():
    from latentlab.models.vae import VAE, VAEConfig
    image_model = VAE(VAEConfig(), (1, 8, 8))
    for call in (lambda: load_model(image_model), lambda: generate(image_model, 10.0, 2)):
        with pytest.raises(LatentlabError, match="'vae' model, not a shower model"):
            call()


def test_bad_input(tmp_path, showers):
    with pytest.raises(LatentlabError, match="unknown shower model"):
        train_showers(showers, "vae")
    with pytest.raises(LatentlabError, match="fitted from the data"):
        train_showers(showers, "calo-vae", log_scale=3.0)
    with pytest.raises(DataError, match="no such file"):
        train_showers(tmp_path / "missing.h5", "calo-vae")
    with pytest.raises(DataError, match="need at least 2 showers"):
        train_showers(showers.take(slice(0, 1)), "calo-vae", **TINY)
    from latentlab.calo.bench_sim import time_generator
    with pytest.raises(LatentlabError, match="not a latentlab run folder"):
        time_generator(tmp_path)


def test_ds2_train_and_generate_in_its_geometry_and_layout(tmp_path):
    from latentlab.calo import CaloChallengeGeometry, read_showers
    ds2 = CaloChallengeGeometry.dataset(2)
    showers = simulate("eminus", 60, energy=(2.0, 40.0), geometry=ds2, seed=4)
    run = train_showers(showers, "calo-vae", out=str(tmp_path / "ds2"), validate_n=0, **TINY)
    model = load_model(run.dir)
    assert model.cfg.n_cells == 6480 and model.cfg.geometry == "calochallenge-ds2" and model.geometry == ds2
    gen = generate(run.dir, (3.0, 30.0), 40, seed=1)
    assert gen.geometry == ds2 and gen.layers[0].shape == (40, 16, 9)
    assert np.mean(gen.energy < np.sqrt(3.0 * 30.0)) == pytest.approx(0.5, abs=0.2)  # log-uniform: half below 9.5 GeV
    trained = showers.take(np.flatnonzero((showers.energy >= model.cfg.e_min) & (showers.energy <= model.cfg.e_max)))
    path = generate_to_file(run.dir, tmp_path / "gen.h5", spectrum=trained, n=10)  # the CaloChallenge layout
    back = read_showers(path)
    assert back.geometry == ds2 and len(back) == 10
    np.testing.assert_allclose(back.energy, trained.energy[:10], rtol=1e-6)
