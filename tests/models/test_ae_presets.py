"""The autoencoder's architectures: the lecture presets, the linear AE, and their size checks."""
import numpy as np
import pytest
import torch

import latentlab
from latentlab.errors import ConfigError
from latentlab.models.ae import AE, AEConfig
from latentlab.nn.presets import LECTURE_ARCHS, code_shape


def build(shape=(1, 28, 28), **kw):
    cfg = AEConfig(**kw)
    cfg.validate()
    return AE(cfg, shape)


@pytest.mark.parametrize("arch, code, params", [("conv-lecture1", 49, 3410), ("conv-lecture2", 784, 5435),
                                                ("conv-lecture3", 1960, 33551)])
def test_lecture_presets_on_mnist_shapes(arch, code, params):
    model = build(arch=arch)
    x = torch.rand(3, 1, 28, 28)
    assert model.latent_dim == code and code_shape(arch, (1, 28, 28))[1:] == (7, 7)
    z = model.encode(x)
    assert z.shape == (3, code) and (z >= 0).all()  # ReLU codes, as in the notes
    out = model.reconstruct(x)
    assert out.shape == x.shape and ((out > 0) & (out < 1)).all()
    assert sum(p.numel() for p in model.parameters()) == params  # counted by hand from the Keras code


def test_lecture2_uses_transposed_convolutions_and_the_others_do_not():
    kinds = {arch: {type(m).__name__ for m in build(arch=arch).decoder.modules()} for arch in LECTURE_ARCHS}
    assert "ConvTranspose2d" in kinds["conv-lecture2"] and "Upsample" in kinds["conv-lecture2"]
    assert "ConvTranspose2d" not in kinds["conv-lecture1"] | kinds["conv-lecture3"]


def test_presets_adapt_to_multiples_of_four_and_refuse_other_sizes(tmp_path):
    assert build((3, 8, 12), arch="conv-lecture3").reconstruct(torch.rand(2, 3, 8, 12)).shape == (2, 3, 8, 12)
    with pytest.raises(ValueError, match="multiples of 4"):
        build((1, 10, 10), arch="conv-lecture1")
    path = tmp_path / "tens.npy"  # through the loop: the constructor's ValueError becomes a ConfigError
    np.save(path, np.random.default_rng(0).random((40, 10, 10)).astype(np.float32))
    with pytest.raises(ConfigError, match="multiples of 4"):
        latentlab.train("ae", arch="conv-lecture2", dataset=str(path), epochs=1, progress=False, out=str(tmp_path / "r"))


def test_preset_code_size_is_fixed():
    assert AEConfig(arch="conv-lecture2").latent_dim is None  # left out: the net decides
    assert build(arch="conv-lecture2", latent_dim=784).latent_dim == 784
    with pytest.raises(ValueError, match="leave latent_dim out"):
        build(arch="conv-lecture2", latent_dim=16)
    cfg = AEConfig()
    cfg.validate()
    assert cfg.latent_dim == 16  # the mlp/conv default


def test_linear_ae_has_no_activation_and_needs_mse():
    model = build((1, 8, 8), arch="linear", recon="mse", latent_dim=3)
    assert not [m for m in model.modules() if isinstance(m, (torch.nn.ReLU, torch.nn.Sigmoid))]
    x = torch.rand(4, 1, 8, 8)
    we, be = model.encoder.net[1].weight, model.encoder.net[1].bias
    wd, bd = model.decoder.linear.weight, model.decoder.linear.bias
    expected = (x.flatten(1) @ we.T + be) @ wd.T + bd  # x_hat = W_d (W_e x + b_e) + b_d, no squashing
    torch.testing.assert_close(model.reconstruct(x).flatten(1), expected)
    assert set(model.loss(x)) == {"loss", "sse", "mse"}
    with pytest.raises(ConfigError, match="--recon mse"):
        AEConfig(arch="linear").validate()


def test_preset_round_trip_and_training_step(tmp_path, tiny):
    tiny.pop("latent_dim")
    run = latentlab.train("ae", arch="conv-lecture2", out=str(tmp_path / "r"), **tiny)
    loaded = latentlab.load(run.dir)
    x = latentlab.load_dataset("digits").test.x[:8]
    with torch.no_grad():
        torch.testing.assert_close(loaded.reconstruct(x), run.model.reconstruct(x))
    assert loaded.latent_dim == 16 * 2 * 2 and latentlab.read_run(run.dir).model_cfg.latent_dim is None
    model = build((1, 8, 8), arch="conv-lecture1")
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    before = model.loss(x)["loss"].item()
    for _ in range(5):
        opt.zero_grad()
        model.loss(x)["loss"].backward()
        opt.step()
    assert model.loss(x)["loss"].item() < before
