import json

import pytest

from latentlab.cli.main import main


def fake_run(root, name, model="vae", dataset="digits", **metrics):
    """A run folder as `latentlab train` + `latentlab eval --samples N` leave it (config.json, eval.json)."""
    run = root / name
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"model": model, "train": {"dataset": dataset}, "model_config": {}, "data": {}}))
    if metrics:
        (run / "eval.json").write_text(json.dumps(metrics))
    return run


def scored(fd, sha="a" * 64, n=10000, **more):
    return {"samples_n": n, "samples_fd": fd, "samples_fd_floor": 0.5, "samples_precision": 0.81, "samples_recall": 0.42,
            "samples_density": 0.9, "samples_coverage": 0.7, "samples_classes_covered": 9, "samples_classes": 10,
            "samples_class_kl": 0.123, "evaluator_sha256": sha, **more}


def test_one_row_per_run_with_the_sample_metrics(tmp_path, capsys):
    a = fake_run(tmp_path, "vae-mnist", **scored(12.3456))
    b = fake_run(tmp_path, "cgan-mnist", model="cgan", **scored(4.5, samples_label_accuracy=0.93))
    assert main(["compare", str(a), str(b)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["run", "model", "dataset", "N", "FD"]
    assert lines[1].split()[:6] == ["vae-mnist", "vae", "digits", "10000", "12.35", "0.50"]
    assert "9/10" in lines[1] and "0.123" in lines[1] and "aaaaaaaaaaaa" in lines[1]
    assert "0.930" in lines[2] and lines[1].split()[-2] == "-"  # label accuracy only for the conditional run
    assert not any(line.startswith("note:") for line in lines)


def test_markdown_table(tmp_path, capsys):
    run = fake_run(tmp_path, "r", **scored(1.0))
    assert main(["compare", str(run), "--markdown"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| run | model | dataset | N | FD |") and lines[1].startswith("|---|---|---|---:|")
    assert lines[2].startswith("| r | vae | digits | 10000 | 1.00 |")


def test_notes_say_what_is_missing_or_incomparable(tmp_path, capsys):
    a = fake_run(tmp_path, "a", **scored(1.0))
    b = fake_run(tmp_path, "b", **scored(2.0, sha="b" * 64, n=5000))
    c = fake_run(tmp_path, "c")  # trained, never scored
    assert main(["compare", str(a), str(b), str(c)]) == 0
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note:")]
    assert any("c: no sample metrics" in n and "--samples 10000" in n for n in notes)
    assert any("different evaluators" in n for n in notes)
    assert any("different numbers of samples" in n for n in notes)


@pytest.mark.parametrize("broken", ["missing", "damaged"])
def test_a_folder_that_is_not_a_run_exits_2(tmp_path, capsys, broken):
    run = tmp_path / "x"
    run.mkdir()
    if broken == "damaged":
        (run / "config.json").write_text("{")
    assert main(["compare", str(run)]) == 2
    err = capsys.readouterr().err
    assert ("not a latentlab run folder" if broken == "missing" else "damaged") in err
