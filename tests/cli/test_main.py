"""The CLI end to end on the bundled digits, and its answers to bad input."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from latentlab.cli.main import main

FAST = ["--dataset", "digits", "--epochs", "1", "--batch-size", "64", "--latent-dim", "4", "--hidden", "32", "--no-progress"]


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the installed console script the way a user does."""
    exe = Path(sys.executable).with_name("latentlab")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "vae"
    assert main(["train", "vae", *FAST, "--out", str(out)]) == 0
    return out


def test_train_writes_run_folder(vae_run, capsys):
    for name in ("config.json", "model.safetensors", "metrics.jsonl", "samples.png", "report.html"):
        assert (vae_run / name).exists(), name


def test_sample_reconstruct_eval(vae_run, tmp_path, capsys):
    assert main(["sample", str(vae_run), "--n", "9", "-o", str(tmp_path / "s.npy")]) == 0
    arr = np.load(tmp_path / "s.npy")
    assert arr.shape == (9, 1, 8, 8) and arr.min() >= 0 and arr.max() <= 1
    assert main(["reconstruct", str(vae_run), "-o", str(tmp_path / "r.png")]) == 0
    assert (tmp_path / "r.png").stat().st_size > 0
    assert main(["eval", str(vae_run)]) == 0
    results = json.loads((vae_run / "eval.json").read_text())
    assert results["test_loss"] > 0 and "test_kl" in results


def test_list_names_models_and_datasets(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "vae" in out and "ae" in out and "digits" in out and "fashion-mnist" in out


def test_list_gives_every_model_a_one_line_summary_naming_it(capsys):
    from latentlab.models import MODELS
    assert main(["list"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")}
    for name in MODELS:  # the summary is the class docstring's first line: a sentence, not a stray clause
        summary = lines[name].split(None, 1)[1]
        assert summary.rstrip().endswith((".", ")")), (name, summary)
    assert "Conditional VAE" in lines["cvae"]


def test_unknown_model_lists_choices_exit_2():
    r = cli("train", "vea")
    assert r.returncode == 2 and "invalid choice: 'vea'" in r.stderr and "vae" in r.stderr


def test_unknown_option_exit_2():
    r = cli("train", "vae", "--latent-size", "3")
    assert r.returncode == 2 and "unrecognized arguments: --latent-size" in r.stderr


@pytest.mark.parametrize("args, message", [
    (["--dataset", "mnits"], "unknown dataset"),
    (["--arch", "conv", "--dataset", "digits", "--epochs", "0"], "epochs must be at least 1"),
    (["--device", "cuda"], "no CUDA GPU"),
])
def test_bad_input_clear_message_no_traceback(args, message, tmp_path):
    if "--device" in args and __import__("torch").cuda.is_available():
        pytest.skip("CUDA is present")
    r = cli("train", "vae", *args, "--out", str(tmp_path / "x"))
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr


def test_sample_from_missing_run_exit_2(tmp_path):
    r = cli("sample", str(tmp_path))
    assert r.returncode == 2 and "not a latentlab run folder" in r.stderr


def test_ctrl_c_saves_and_resume_finishes(tmp_path):
    out = tmp_path / "run"
    exe = Path(sys.executable).with_name("latentlab")
    args = [str(exe), "train", "vae", "--dataset", "digits", "--epochs", "200", "--batch-size", "16", "--no-progress", "--out", str(out)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not ((out / "metrics.jsonl").exists() and (out / "metrics.jsonl").read_text()):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "checkpoint saved" in err and "--resume" in err
    epochs_done = len((out / "metrics.jsonl").read_text().splitlines())
    assert epochs_done < 200
    r = cli("train", "vae", "--resume", str(out), "--epochs", str(epochs_done + 1), "--no-progress")
    assert r.returncode == 0, r.stderr
    assert len((out / "metrics.jsonl").read_text().splitlines()) == epochs_done + 1


@pytest.mark.parametrize("command", [["train", "wgan-gp"], ["anomaly", "ae"]])
def test_help_shows_each_models_own_training_defaults(command, capsys):
    from latentlab.config import train_defaults
    from latentlab.models import get_model_class
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps the help lines
    defaults = train_defaults(get_model_class(command[1]))
    for name in ("lr", "beta1", "beta2"):
        help = text.rsplit(f"--{name} FLOAT", 1)[1].split("--", 1)[0]  # the option's help (after the usage line)
        assert f"(default: {defaults[name]})" in help, name


def test_list_names_tabular_files(capsys):
    assert main(["list"]) == 0
    assert "an (N, D) table of features" in capsys.readouterr().out


def test_reconstruct_takes_the_data_dir_its_not_found_message_suggests():
    from latentlab.cli.main import build_parser
    from latentlab.data import locate
    assert "--data-dir DIR" in locate.not_found_message("mnist")  # the advice, which reconstruct can now follow
    args = build_parser("reconstruct").parse_args(["reconstruct", "RUN", "--data-dir", "d"])
    assert args.data_dir == "d"
