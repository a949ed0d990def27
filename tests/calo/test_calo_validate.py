"""The validation report and the timing helper."""
import json

import numpy as np
import pytest

from latentlab.calo import (CaloChallengeGeometry, Showers, simulate, time_simulator, timing_table, validate,
                            validate_files, write_calogan)
from latentlab.calo.bench_sim import convention_batch_sizes
from latentlab.errors import ConfigError, DataError


def test_validate_writes_report(tmp_path):
    ref = write_calogan(tmp_path / "ref.h5", simulate("eplus", 300, seed=1))
    gen = write_calogan(tmp_path / "gen.h5", simulate("gamma", 300, seed=2))
    out = tmp_path / "report"
    result = validate_files(ref, gen, out, max_classifier=300)
    for name in ["validation.json", "table.csv", "table.md", "report.html", "average_images.png",
                 "response_vs_energy.png", "longitudinal_profile.png", "separation_per_layer.png", "hist_energy.png",
                 "hist_e_ratio.png"]:
        assert (out / name).is_file(), name
    saved = json.loads((out / "validation.json").read_text())
    assert saved["n_reference"] == 300 and 0.0 <= saved["classifier"]["auc"] <= 1.0
    assert set(saved) >= {"separation_power", "fpd", "kpd", "classifier", "figures", "hlf_separation_power",
                          "separation_summary", "response"}
    clf = saved["classifier"]
    assert clf["headline"] == "dnn_low_level" and clf["auc"] == clf["dnn_low_level"]["auc"]
    assert {"auc", "jsd"} <= set(clf["dnn_low_level"]) and {"auc", "jsd"} <= set(clf["dnn_high_level"])
    assert saved["separation_power"]["depth"] > 0.01           # photons start later than positrons
    assert len(saved["hlf_separation_power"]["width_x"]) == 3
    assert saved["response"]["stochastic_term"] == pytest.approx(0.108, abs=0.001)   # the CaloGAN stack's
    assert sum(row["n"] for row in saved["response"]["reference"]) == 300
    html = (out / "report.html").read_text()
    assert all(f'src="{name}"' in html for name in result["figures"])
    assert "classifier AUC, low level" in html and "classifier AUC, high level" in html


def test_validate_rejects_mixed_geometries(tmp_path):
    s = simulate("eplus", 30, seed=1)
    other = Showers.from_voxels(s.energy, s.voxels(), CaloChallengeGeometry((504,)))
    with pytest.raises(DataError, match="different geometries"):
        validate(s, other, tmp_path)


def test_time_simulator():
    result = time_simulator(batch_sizes=(1, 8), min_seconds=0.0, min_showers=8)
    assert set(result["simulator_ms"]) == {1, 8} and all(v["wall_ms"] > 0 for v in result["simulator_ms"].values())
    assert result["published_ms"]["geant4_cpu"] == 1772.0
    assert "| 1 |" in timing_table(result)


def _tiny_calochallenge(n, seed, spread=1.0):
    """Hand-made showers in 3 layers of 4 angular x 2 radial bins: more energy in the inner ring."""
    geo = CaloChallengeGeometry.regular(3, 4, 2)
    rng = np.random.default_rng(seed)
    energy = np.exp(rng.uniform(0.0, np.log(100.0), n))
    mean = np.array([1.0, 0.3 * spread] * 4 * 3)[None, :] * energy[:, None] * 20
    return Showers.from_voxels(energy, rng.gamma(2.0, mean / 2.0), geo)


def test_validate_calochallenge_geometry_with_a_floor(tmp_path):
    ref, gen, floor = _tiny_calochallenge(150, 1), _tiny_calochallenge(150, 2, spread=3.0), _tiny_calochallenge(150, 3)
    result = validate(ref, gen, tmp_path, classifier="dnn+hgb", floor=floor, max_layer_panels=2, log=None)
    for name in ["average_images.png", "radial_profiles.png", "longitudinal_profile.png", "response_vs_energy.png",
                 "separation_per_layer.png", "hist_centre_x.png"]:
        assert name in result["figures"] and (tmp_path / name).is_file(), name
    saved = json.loads((tmp_path / "validation.json").read_text())
    assert set(saved["classifier"]) >= {"dnn_low_level", "dnn_high_level", "hgb"}
    assert saved["classifier"]["dnn_high_level"]["auc"] > 0.9       # three times the outer-ring energy
    assert set(saved["floor"]["classifier"]) >= {"dnn_low_level", "dnn_high_level", "hgb"} and "fpd" in saved["floor"]
    assert saved["response"]["stochastic_term"] is None or saved["response"]["stochastic_term"] > 0
    assert set(saved["hlf_separation_power"]) >= {"energy", "centre_x", "centre_y", "width_x", "width_y", "sparsity"}
    assert saved["separation_summary"]["width_x"]["columns"] == 3
    assert "floor" in (tmp_path / "report.html").read_text()


def test_validate_rejects_unknown_classifier(tmp_path):
    s = _tiny_calochallenge(30, 1)
    with pytest.raises(ConfigError, match="unknown classifier"):
        validate(s, s, tmp_path, classifier="dnn+svm")


def test_timing_conventions():
    assert convention_batch_sizes("calochallenge") == (1, 100, 10_000)
    assert convention_batch_sizes("calogan") == (1, 10, 128, 1024)
    with pytest.raises(ConfigError, match="calochallenge"):
        convention_batch_sizes("geant4")
