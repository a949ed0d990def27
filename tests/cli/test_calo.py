"""latentlab calo simulate|train MODEL|generate|validate|bench on small files; bad input exits with code 2."""
import json

import h5py
import numpy as np
import pytest

from latentlab.calo import read_calogan
from latentlab.cli.main import main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("calo_cli")
    assert main(["calo", "simulate", "--n", "150", "--energy-range", "5", "50", "--seed", "1",
                 "--out", str(root / "showers.h5")]) == 0
    assert main(["calo", "train", "calo-wgan", "--data", str(root / "showers.h5"), "--epochs", "1",
                 "--batch-size", "32", "--hidden", "16", "--latent-dim", "4", "--layers", "1",
                 "--validate-n", "30", "--test-fraction", "0.2", "--no-figures", "--no-progress", "--out", str(root / "run")]) == 0
    return root


def test_simulate_train_generate_validate(files, capsys):
    showers = read_calogan(files / "showers.h5")
    assert len(showers) == 150 and 5 <= showers.energy.min() and showers.energy.max() <= 50
    assert (files / "run" / "validation" / "table.md").exists()  # held-out showers against generated ones
    assert 0 <= json.loads((files / "run" / "eval_calo.json").read_text())["classifier_auc"] <= 1
    cfg = json.loads((files / "run" / "config.json").read_text())
    assert cfg["model"] == "calo-wgan" and cfg["model_config"]["hidden"] == 16
    # what was not given takes calo-wgan's own defaults (train_defaults and its Config)
    assert (cfg["train"]["lr"], cfg["train"]["beta1"], cfg["train"]["beta2"]) == (2e-4, 0.5, 0.9)
    assert cfg["model_config"]["n_critic"] == 3 and cfg["model_config"]["energy_weight"] == 5.0
    assert cfg["model_config"]["e_min"] >= 5 and cfg["model_config"]["e_max"] <= 50
    out = files / "gen.h5"
    assert main(["calo", "generate", str(files / "run"), "--energy", "20", "--n", "40", "--out", str(out)]) == 0
    gen = read_calogan(out)
    assert len(gen) == 40 and np.all(gen.energy == 20) and all((x >= 0).all() for x in gen.layers)
    spec = files / "gen_spectrum.h5"
    assert main(["calo", "generate", str(files / "run"), "--spectrum", str(files / "showers.h5"), "--out", str(spec)]) == 0
    assert np.allclose(read_calogan(spec).energy, showers.energy, rtol=1e-6)
    capsys.readouterr()
    assert main(["calo", "validate", "--reference", str(files / "showers.h5"), "--generated", str(spec),
                 "--out", str(files / "report"), "--limit", "40", "--no-figures"]) == 0
    assert "classifier AUC" in capsys.readouterr().out
    assert (files / "report" / "report.html").exists() and (files / "report" / "table.md").exists()


def test_energy_outside_training_range_warns_with_the_range(files, capsys):
    assert main(["calo", "generate", str(files / "run"), "--energy", "300", "--n", "2",
                 "--out", str(files / "far.h5")]) == 0
    out = capsys.readouterr().out
    assert "outside the range the model was trained on" in out and "GeV" in out


def test_bench_prints_the_timing_table(files, capsys, tmp_path):
    table = tmp_path / "timing.md"
    assert main(["calo", "bench", str(files / "run"), "--batch-sizes", "1", "4", "--min-seconds", "0", "--min-showers", "8",
                 "--out", str(table)]) == 0
    text = table.read_text()
    assert "| 1 |" in text and "| 4 |" in text and "1772" in text and "speed-up" in text
    assert "generator CPU" in capsys.readouterr().out


def test_train_options_per_model(capsys):
    for name, shown in (("calo-wgan", ["--n-critic", "--gp-weight", "(default: 0.0002)", "(default: 0.5)"]),
                        ("calo-vae", ["--sigma", "--beta ", "(default: 0.001)"])):
        with pytest.raises(SystemExit) as e:
            main(["calo", "train", name, "--help"])
        assert e.value.code == 0
        text = capsys.readouterr().out
        for option in ["--data", "--test-fraction", "--validate-n", "--limit", "--no-figures", "--epochs", "--lr",
                       "--beta1", "--seed", "--out", "--latent-dim", "--energy-weight", "--calibrate", *shown]:
            assert option in text, (name, option)
        for option in ["--dataset", "--data-dir", "--image-size", "--binarize", "--threshold", "--e-min", "--e-max",
                       "--log-scale", "--n-cells", "--response-slope", "--response-stochastic", "--set"]:
            assert option not in text, (name, option)


def test_bad_input_exits_2(files, tmp_path, capsys):
    broken = tmp_path / "broken.h5"
    with h5py.File(broken, "w") as f:
        f["energy"] = np.ones((3, 1))
        f["layer_0"] = np.ones((3, 3, 96))
    assert main(["calo", "train", "calo-wgan", "--data", str(broken), "--no-progress"]) == 2
    assert "missing dataset(s) 'layer_1', 'layer_2'" in capsys.readouterr().err
    wrong = tmp_path / "wrong.h5"
    with h5py.File(wrong, "w") as f:
        f["energy"] = np.ones((3, 1))
        f["layer_0"] = np.ones((3, 96, 3))
        f["layer_1"] = np.ones((3, 12, 12))
        f["layer_2"] = np.ones((3, 12, 6))
    assert main(["calo", "validate", "--reference", str(wrong), "--generated", str(wrong), "--out", str(tmp_path)]) == 2
    assert "transposed" in capsys.readouterr().err
    for args in (["--energy", "-5", "--n", "3"], ["--energy", "nan", "--n", "3"], ["--energy", "10"]):
        assert main(["calo", "generate", str(files / "run"), *args, "--out", str(tmp_path / "g.h5")]) == 2
    assert main(["calo", "generate", str(tmp_path), "--energy", "10", "--n", "2", "--out", str(tmp_path / "g.h5")]) == 2
    assert main(["calo", "simulate", "--n", "0", "--out", str(tmp_path / "s.h5")]) == 2
    assert main(["calo", "train", "calo-vae", "--data", str(files / "showers.h5"), "--epochs", "0"]) == 2
    err = capsys.readouterr().err
    assert "finite and > 0" in err and "--n" in err and "not a latentlab run folder" in err and "epochs" in err
    for argv in (["calo", "train", "calo-wgan", "--data", str(files / "showers.h5"), "--bogus", "1"],
                 ["calo", "train", "calo-wgan", "--data", str(files / "showers.h5"), "--e-max", "5"],
                 ["calo", "train", "wgan-gp", "--data", str(files / "showers.h5")]):
        with pytest.raises(SystemExit) as e:  # argparse: unknown option, a fitted setting, not a shower model
            main(argv)
        assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--bogus" in err and "--e-max" in err and "invalid choice: 'wgan-gp'" in err


def test_generate_from_an_image_run_exits_2(tmp_path, capsys):
    import latentlab
    run = latentlab.train("ae", dataset="digits", epochs=1, progress=False, out=str(tmp_path / "ae"))
    assert main(["calo", "generate", str(run.dir), "--energy", "10", "--n", "2", "--out", str(tmp_path / "g.h5")]) == 2
    err = capsys.readouterr().err
    assert "'ae' model, not a shower model" in err and "Traceback" not in err
    assert not (tmp_path / "g.h5").exists()


def test_ds2_simulate_train_generate(tmp_path, capsys):
    from latentlab.calo import CaloChallengeGeometry, read_showers
    data = tmp_path / "ds2.h5"
    assert main(["calo", "simulate", "--geometry", "calochallenge-ds2", "--n", "40", "--energy-range", "1", "30",
                 "--out", str(data)]) == 0
    with h5py.File(data) as f:
        assert f["showers"].shape == (40, 6480) and f["incident_energies"].shape == (40, 1)
    showers = read_showers(data)
    assert showers.geometry == CaloChallengeGeometry.dataset(2) and showers.meta["layout"] == "calochallenge"
    assert main(["calo", "train", "calo-vae", "--data", str(data), "--epochs", "1", "--batch-size", "16",
                 "--hidden", "16", "--latent-dim", "4", "--layers", "1", "--validate-n", "0", "--no-progress",
                 "--out", str(tmp_path / "run")]) == 0
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["model_config"]["n_cells"] == 6480 and cfg["model_config"]["geometry"] == "calochallenge-ds2"
    gen = tmp_path / "gen.h5"
    assert main(["calo", "generate", str(tmp_path / "run"), "--energy", "10", "--n", "5", "--out", str(gen)]) == 0
    with h5py.File(gen) as f:
        assert f["showers"].shape == (5, 6480) and np.allclose(f["incident_energies"][:], 10_000.0)
    assert main(["calo", "simulate", "--geometry", "atlas", "--n", "5", "--out", str(tmp_path / "x.h5")]) == 2
    assert "unknown geometry 'atlas'" in capsys.readouterr().err
