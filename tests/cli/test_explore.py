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
])
def test_each_picture(run2d, args, name):
    path = run2d / name
    path.unlink(missing_ok=True)
    assert main(["explore", str(run2d), *args]) == 0
    assert Image.open(path).size[0] > 0


def test_output_option(run2d, tmp_path):
    out = tmp_path / "g.png"
    assert main(["explore", str(run2d), "--grid", "-o", str(out)]) == 0 and out.exists()


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
