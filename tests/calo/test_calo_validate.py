"""The validation report and the timing helper."""
import json

import pytest

from latentlab.calo import (CaloChallengeGeometry, Showers, simulate, time_simulator, timing_table, validate,
                            validate_files, write_calogan)
from latentlab.errors import DataError


def test_validate_writes_report(tmp_path):
    ref = write_calogan(tmp_path / "ref.h5", simulate("eplus", 300, seed=1))
    gen = write_calogan(tmp_path / "gen.h5", simulate("gamma", 300, seed=2))
    out = tmp_path / "report"
    result = validate_files(ref, gen, out, max_classifier=300)
    for name in ["validation.json", "table.csv", "table.md", "report.html", "average_images.png",
                 "response_vs_energy.png", "hist_energy.png", "hist_e_ratio.png"]:
        assert (out / name).is_file(), name
    saved = json.loads((out / "validation.json").read_text())
    assert saved["n_reference"] == 300 and 0.0 <= saved["classifier"]["auc"] <= 1.0
    assert set(saved) >= {"separation_power", "fpd", "kpd", "classifier", "figures"}
    assert saved["separation_power"]["depth"] > 0.01           # photons start later than positrons
    html = (out / "report.html").read_text()
    assert all(f'src="{name}"' in html for name in result["figures"])


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
