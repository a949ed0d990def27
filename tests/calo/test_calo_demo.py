"""`latentlab calo demo`: the whole chain (simulate, train, generate, validate) on a tiny sample; bad input exits 2."""
import json

from latentlab.cli.main import main


def test_demo_writes_the_files_and_the_report(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["calo", "demo", "--geometry", "calogan", "--out", str(out), "--n", "60", "--n-reference", "40",
                 "--epochs", "1", "--no-figures"]) == 0
    for name in ("train.h5", "reference.h5", "generated.h5", "summary.json", "run/config.json",
                 "validation/report.html", "validation/table.md", "validation/validation.json"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["geometry"] == "calogan" and summary["model"] == "calo-vae" and summary["n_reference"] == 40
    assert 0 <= summary["classifier_auc"] <= 1
    assert set(summary["seconds"]) == {"simulate", "train", "generate", "validate"}
    text = capsys.readouterr().out
    assert "classifier AUC" in text and f"report: {out / 'validation' / 'report.html'}" in text
    assert "warning" not in text  # the reference showers stay inside the energies the model was trained on


def test_demo_bad_input_exits_2(tmp_path, capsys):
    for args, message in ((["--geometry", "atlas"], "unknown geometry 'atlas'"),
                          (["--n", "1"], "n must be at least 2"),
                          (["--n-reference", "0"], "n_reference must be at least 2"),
                          (["--epochs", "0"], "epochs must be at least 1"),
                          (["--model", "vae"], "unknown shower model 'vae'")):
        assert main(["calo", "demo", "--out", str(tmp_path / "d"), *args]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    assert not (tmp_path / "d" / "train.h5").exists()  # nothing was simulated
