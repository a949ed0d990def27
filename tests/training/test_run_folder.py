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


def test_load_attaches_nothing_to_the_model(run):
    model = latentlab.load(run.dir)
    assert "run_dir" not in vars(model)


# config.json as version 0.1 wrote it, before TrainConfig had beta1/beta2 (Adam's betas were then a class
# attribute of the model: (0.5, 0.999) for the GANs of the BCE losses, (0, 0.9) for WGAN-GP).
OLD_TRAIN = {"dataset": "digits", "data_dir": None, "image_size": None, "val_fraction": 0.1, "binarize": "none",
             "threshold": 0.5, "epochs": 2, "batch_size": 64, "lr": 0.0002, "optimizer": "adam", "momentum": 0.9,
             "weight_decay": 0.0, "seed": 0, "patience": 0, "device": "auto", "amp": True, "out": None, "progress": False}


@pytest.mark.parametrize("model, betas", [("gan", (0.5, 0.999)), ("wgan-gp", (0.0, 0.9)), ("vae", (0.9, 0.999))])
def test_an_old_config_json_takes_the_models_adam_betas(tmp_path, model, betas):
    (tmp_path / "config.json").write_text(json.dumps({
        "model": model, "train": OLD_TRAIN, "model_config": {},
        "data": {"name": "digits", "shape": [1, 8, 8], "num_classes": 10, "classes": None},
    }))
    info = latentlab.read_run(tmp_path)
    assert (info.train.beta1, info.train.beta2) == betas
    assert info.train.lr == 0.0002 and info.train.epochs == 2  # what the file says stays


def test_an_old_gan_run_resumes_with_its_betas(tmp_path):
    settings = dict(dataset="digits", epochs=1, batch_size=128, latent_dim=4, hidden=16, progress=False)
    old = latentlab.train("gan", out=str(tmp_path / "old"), **settings)
    cfg = json.loads((old.dir / "config.json").read_text())
    del cfg["train"]["beta1"], cfg["train"]["beta2"]  # as version 0.1 wrote it
    (old.dir / "config.json").write_text(json.dumps(cfg))
    resumed = latentlab.train("gan", resume=old.dir, epochs=2)
    assert (resumed.config.beta1, resumed.config.beta2) == (0.5, 0.999)
    opts = torch.load(old.dir / "train_state.pt", weights_only=True)["optimizers"]
    assert all(tuple(opts[g]["param_groups"][0]["betas"]) == (0.5, 0.999) for g in ("discriminator", "generator"))
    full = latentlab.train("gan", out=str(tmp_path / "full"), **{**settings, "epochs": 2})
    a, b = latentlab.load(full.dir).state_dict(), latentlab.load(resumed.dir).state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
