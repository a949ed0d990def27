"""latentlab explore RUN --map | --grid | --interpolate A B | --arithmetic TO FROM: PNGs and clear refusals."""
import numpy as np
import pytest
from PIL import Image

import latentlab
from latentlab.cli.main import main

SMALL = dict(epochs=1, batch_size=64, hidden=32, binarize="dynamic", progress=False)


@pytest.fixture(scope="module")
def run2d(tmp_path_factory):
    return latentlab.train("vae", dataset="digits", out=str(tmp_path_factory.mktemp("cli") / "run"), latent_dim=2, **SMALL).dir


@pytest.mark.parametrize("args,name", [
    (["--map"], "explore-map.png"),
    (["--grid", "--n", "4"], "explore-grid.png"),
    (["--interpolate", "3", "42", "--steps", "5"], "explore-interpolate.png"),
    (["--interpolate", "1", "7", "--by", "class", "--method", "slerp"], "explore-interpolate.png"),
    (["--arithmetic", "7", "1", "--images", "2", "5"], "explore-arithmetic.png"),
    (["--interpolate", "1", "2", "--by", "seed", "--steps", "4"], "explore-interpolate.png"),
    (["--edit", "1", "7"], "explore-edit.png"),
])
def test_each_picture(run2d, args, name):
    path = run2d / name
    path.unlink(missing_ok=True)
    assert main(["explore", str(run2d), *args]) == 0
    assert Image.open(path).size[0] > 0


def test_output_option(run2d, tmp_path):
    out = tmp_path / "g.png"
    assert main(["explore", str(run2d), "--grid", "-o", str(out)]) == 0 and out.exists()


def test_interpolation_between_codes_chosen_by_hand(run2d, tmp_path, capsys):
    np.save(tmp_path / "z.npy", np.array([[-2, 0], [0, 0], [2, 1]], np.float32))
    out = tmp_path / "z.png"
    assert main(["explore", str(run2d), "--interpolate", "0", "2", "--codes", str(tmp_path / "z.npy"), "-o", str(out)]) == 0
    assert "from row 0 to row 2" in capsys.readouterr().out and out.exists()
    assert main(["explore", str(run2d), "--interpolate", "0", "3", "--codes", str(tmp_path / "z.npy")]) == 2
    assert "has rows 0..2" in capsys.readouterr().err


@pytest.mark.parametrize("args,message", [
    (["--grid", "--label", "3"], "not conditional"),
    (["--interpolate", "0", "99999"], "outside the test split"),
    (["--arithmetic", "7", "11"], "class 11"),
    (["--interpolate", "0", "1", "--steps", "1"], "at least 2 steps"),
    (["--map", "-o", "map.jpg"], "must end in .png"),
])
def test_bad_requests_exit_2(run2d, capsys, args, message):
    assert main(["explore", str(run2d), *args]) == 2
    assert message in capsys.readouterr().err


def test_unlabelled_data_map_is_uncoloured(tmp_path, capsys):
    from sklearn.datasets import load_digits
    images = (load_digits().images / 16.0).astype(np.float32)  # (N, 8, 8), no labels
    np.save(tmp_path / "x.npy", images)
    run = latentlab.train("vae", dataset=str(tmp_path / "x.npy"), out=str(tmp_path / "run"), latent_dim=3, **SMALL)
    assert main(["explore", str(run.dir), "--map"]) == 0
    assert "no labels" in capsys.readouterr().out and (run.dir / "explore-map.png").exists()
    assert main(["explore", str(run.dir), "--arithmetic", "7", "1"]) == 2
    assert "no labels" in capsys.readouterr().err


def test_serve_prints_the_url_answers_and_stops_on_ctrl_c(run2d):
    """latentlab explore RUN --serve: 127.0.0.1 and a free port, printed; Ctrl-C stops it with one line and exit 0."""
    import json
    import signal
    import subprocess
    import sys
    import urllib.error
    import urllib.request
    command = [sys.executable, "-m", "latentlab", "explore", str(run2d), "--serve", "--port", "0", "--points", "100"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("latentlab explorer: http://127.0.0.1:"), line + proc.stderr.read()
        url = line.split()[2]
        info = json.load(urllib.request.urlopen(url + "api/info", timeout=30))
        assert info["kind"] == "encoder" and info["latent_dim"] == 2 and info["map_points"] == 100
        bad = urllib.request.Request(url + "api/decode", data=b'{"xy": [1, "x"]}', headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(bad, timeout=30)
        assert e.value.code == 400 and "finite number" in json.load(e.value)["error"]
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and err.strip().splitlines() == [f"latentlab: stopped the explorer at {url}"]


@pytest.mark.parametrize("args,message", [
    (["--serve", "--port", "70000"], "--port must be in 0..65535"),
    (["--serve", "-o", "x.png"], "--serve writes none"),
    (["--serve", "--label", "3"], "label menu"),
    (["--map", "--port", "8000"], "--port goes with --serve"),
])
def test_serve_refusals_exit_2(run2d, capsys, args, message):
    assert main(["explore", str(run2d), *args]) == 2
    assert message in capsys.readouterr().err


# --- the attribute vector of an encoder, and a GAN's latent ------------------------------------------
def test_edit_writes_a_column_per_strength(run2d, capsys):
    path = run2d / "explore-edit.png"
    path.unlink(missing_ok=True)
    assert main(["explore", str(run2d), "--edit", "1", "7", "--strength", "0,1,2", "--images", "2", "5"]) == 0
    out = capsys.readouterr().out
    assert "columns: strength 0, 1, 2" in out and "rows: 2 test images" in out and "minus that of class 1" in out
    assert Image.open(path).size[0] > 0


@pytest.mark.parametrize("args,message", [
    (["--edit", "1", "11"], "class 11"),
    (["--edit", "1", "7", "--per-class", "4"], "--per-class and --pool choose a GAN's samples"),
    (["--arithmetic", "7", "1", "--strength", "1"], "--strength goes with --edit"),
    (["--map", "--codes", "z.npy"], "--codes holds the latent vectors"),
])
def test_edit_refusals_exit_2(run2d, capsys, args, message):
    assert main(["explore", str(run2d), *args]) == 2
    assert message in capsys.readouterr().err


def test_a_bad_strength_is_an_argparse_error(run2d, capsys):
    with pytest.raises(SystemExit) as e:
        main(["explore", str(run2d), "--edit", "1", "7", "--strength", "0,x"])
    assert e.value.code == 2 and "comma" in capsys.readouterr().err


GAN = dict(epochs=1, batch_size=64, latent_dim=8, hidden=32, layers=1, progress=False)


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    return latentlab.train("gan", dataset="digits", out=str(tmp_path_factory.mktemp("gan") / "run"), **GAN).dir


@pytest.fixture(scope="module")
def gan_classes(gan_run):
    """The two classes the shipped digits evaluator finds most often among the tiny GAN's samples."""
    import torch
    from latentlab.analysis import explore
    from latentlab.training.run_folder import load
    evaluator = explore.evaluator_of_run(gan_run)
    found = explore.sample_concepts(load(gan_run), evaluator.predict, evaluator.classes, pool=2000,
                                    generator=torch.Generator().manual_seed(0)).found
    assert len(found) >= 2, found
    top = sorted(found, key=lambda k: -found[k])[:2]
    return top, [k for k in range(10) if k not in found]


def test_gan_interpolation_between_seeds_and_given_codes(gan_run, tmp_path, capsys):
    path = gan_run / "explore-interpolate.png"
    path.unlink(missing_ok=True)
    assert main(["explore", str(gan_run), "--interpolate", "3", "42", "--steps", "5"]) == 0
    assert "from the prior draw of seed 3" in capsys.readouterr().out and path.exists()
    np.save(tmp_path / "z.npy", np.random.default_rng(0).normal(size=(3, 8)).astype(np.float32))
    out = tmp_path / "codes.png"
    assert main(["explore", str(gan_run), "--interpolate", "0", "2", "--codes", str(tmp_path / "z.npy"),
                 "--method", "slerp", "-o", str(out)]) == 0
    assert Image.open(out).size[0] > 0


def test_gan_arithmetic_and_edit_on_the_evaluators_classes(gan_run, gan_classes, capsys):
    (to, frm), _ = gan_classes
    assert main(["explore", str(gan_run), "--arithmetic", str(to), str(frm), "--per-class", "4"]) == 0
    out = capsys.readouterr().out
    assert "of 2,000 samples the evaluation classifier puts in each class" in out and "shipped digits evaluator" in out
    assert "the evaluation classifier puts" in out and (gan_run / "explore-arithmetic.png").exists()
    assert main(["explore", str(gan_run), "--edit", str(frm), str(to), "--strength", "0,1", "--pool", "500"]) == 0
    out = capsys.readouterr().out
    assert "columns: strength 0, 1" in out and "500 draws" in out and (gan_run / "explore-edit.png").exists()
    assert main(["explore", str(gan_run), "--interpolate", str(frm), str(to), "--by", "class", "--steps", "4"]) == 0


def test_gan_refusals_exit_2(gan_run, gan_classes, capsys):
    (to, frm), missing = gan_classes
    bad = [(["--edit", str(frm), "11"], "class 11 is not among"),
           (["--arithmetic", str(to), str(frm), "--images", "3"], "--images chooses test images"),
           (["--map"], "has no encoder"),
           (["--interpolate", "0", "1", "--by", "image"], "no encoder to interpolate between test images"),
           (["--edit", str(frm), str(to), "--per-class", "0"], "--per-class must be at least 1")]
    if missing:
        bad.append((["--edit", str(frm), str(missing[0])], f"none of the 2,000 samples was classified {missing[0]}"))
    for args, message in bad:
        assert main(["explore", str(gan_run), *args]) == 2, args
        assert message in capsys.readouterr().err, args


def test_conditional_gan_groups_by_its_labels(tmp_path, capsys):
    run = latentlab.train("cgan", dataset="digits", out=str(tmp_path / "run"), arch="mlp", **GAN)
    assert main(["explore", str(run.dir), "--arithmetic", "7", "1", "--per-class", "3"]) == 0
    assert "3 generator inputs drawn with each label" in capsys.readouterr().out
    assert main(["explore", str(run.dir), "--interpolate", "3", "4", "--label", "5"]) == 0
    assert main(["explore", str(run.dir), "--interpolate", "3", "4"]) == 2  # a conditional GAN needs the label
    assert "give a label" in capsys.readouterr().err
    assert main(["explore", str(run.dir), "--arithmetic", "7", "1", "--pool", "100"]) == 2
    assert "--pool is for GANs without labels" in capsys.readouterr().err


def test_gan_arithmetic_without_labels_to_train_an_evaluator_exits_2(tmp_path, capsys):
    from sklearn.datasets import load_digits
    np.save(tmp_path / "x.npy", (load_digits().images / 16.0).astype(np.float32))  # images, no labels
    run = latentlab.train("gan", dataset=str(tmp_path / "x.npy"), out=str(tmp_path / "run"), **GAN)
    assert main(["explore", str(run.dir), "--arithmetic", "7", "1"]) == 2
    assert "has no labels to train one on" in capsys.readouterr().err
    assert main(["explore", str(run.dir), "--interpolate", "0", "1"]) == 0  # interpolation needs no classes
