"""Run folders: reload a model, the decoder alone, and refuse damaged folders."""
import json

import pytest
import torch
from safetensors import safe_open

import latentlab
from latentlab.errors import LatentlabError


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    settings = dict(dataset="digits", epochs=1, batch_size=64, latent_dim=4, hidden=32, progress=False)
    return latentlab.train("vae", out=str(tmp_path_factory.mktemp("r") / "vae"), **settings)


def test_load_gives_the_same_model(run):
    model = latentlab.load(run.dir)
    x = latentlab.load_dataset("digits").test.x[:5]
    with torch.no_grad():
        assert torch.allclose(model.encode(x)[0], run.model.encode(x)[0])
    assert model.sample(3).shape == (3, 1, 8, 8)


def test_decoder_alone_generates(run):
    decoder = latentlab.load_decoder(run.dir)
    with torch.no_grad():
        logits = decoder(torch.zeros(2, 4))
        full = run.model.decoder(torch.zeros(2, 4))
    assert torch.equal(logits, full) and logits.shape == (2, 1, 8, 8)


def test_weights_carry_metadata(run):
    with safe_open(str(run.dir / "model.safetensors"), framework="pt") as f:
        meta = f.metadata()
    assert meta["model"] == "vae" and json.loads(meta["config"])["latent_dim"] == 4


def test_unknown_key_in_config_json_is_an_error(run, tmp_path):
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    cfg = json.loads((run.dir / "config.json").read_text())
    cfg["model_config"]["latent_size"] = 3
    (damaged / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(LatentlabError, match="unknown model setting.*latent_size"):
        latentlab.load(damaged)


def test_not_a_run_folder(tmp_path):
    with pytest.raises(LatentlabError, match="not a latentlab run folder"):
        latentlab.load(tmp_path)
