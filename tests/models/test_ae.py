"""The autoencoder: build, shapes, save/load, a training step, denoising, and its priors."""
import pytest
import torch

import latentlab
from latentlab.errors import ConfigError
from latentlab.models.ae import AE, AEConfig


def build(shape=(1, 8, 8), **kw):
    cfg = AEConfig(**{"hidden": 32, **kw})
    cfg.validate()
    return AE(cfg, shape)


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_shapes_and_one_training_step(arch):
    model = build(arch=arch, latent_dim=5)
    x = torch.rand(6, 1, 8, 8)
    assert model.encode(x).shape == (6, 5) and model.reconstruct(x).shape == x.shape
    assert set(model.loss(x)) == {"loss", "bce", "sse", "mse"}
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    before = model.loss(x)["loss"].item()
    for _ in range(3):
        opt.zero_grad()
        model.loss(x)["loss"].backward()
        opt.step()
    assert model.loss(x)["loss"].item() < before


def test_round_trip_and_both_prior_pictures(tmp_path, tiny):
    run = latentlab.train("ae", out=str(tmp_path / "r"), **tiny)
    assert (run.dir / "samples.png").is_file() and (run.dir / "samples_standard_prior.png").is_file()
    assert "samples_standard_prior.png" in (run.dir / "report.html").read_text()
    loaded = latentlab.load(run.dir)
    torch.testing.assert_close(loaded.latent_mean, run.model.latent_mean)
    x = latentlab.load_dataset("digits").test.x[:5]
    with torch.no_grad():
        torch.testing.assert_close(loaded.reconstruct(x), run.model.reconstruct(x))


def test_priors():
    model = build(latent_dim=3).eval()
    codes = torch.randn(500, 3, generator=torch.Generator().manual_seed(0)) * torch.tensor([5.0, 0.1, 1.0]) + 7
    model.encoder.forward = lambda x: codes[: len(x)]  # fit_end sees these as the training codes
    model.fit_end(torch.zeros(500, 1, 8, 8))
    torch.testing.assert_close(model.latent_mean, codes.mean(0), atol=1e-4, rtol=0)
    seen = []
    model.decoder.forward = lambda z: seen.append(z) or torch.zeros(len(z), 1, 8, 8)
    gen = torch.Generator().manual_seed(0)
    for prior in ("fitted", "standard", "uniform"):
        assert model.sample(2000, prior=prior, generator=gen).shape == (2000, 1, 8, 8)
    fitted, standard, uniform = seen
    assert fitted.mean(0).sub(7).abs().max() < 0.3 and fitted.std(0)[0] == pytest.approx(5, rel=0.1)
    assert standard.mean().abs() < 0.1 and standard.std().item() == pytest.approx(1, rel=0.1)
    assert uniform.min() >= 0 and uniform.max() < 1
    with pytest.raises(ValueError, match="prior must be one of"):
        model.sample(2, prior="laplace")


def test_denoising_trains_on_corrupted_input_and_evaluates_both():
    model = build(latent_dim=4, noise="mask:0.5")
    x = torch.rand(4, 1, 8, 8)
    seen = []
    model.encoder.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    model.train()
    model.loss(x)
    assert (seen[-1] == 0).float().mean() > 0.3  # the encoder saw a masked copy
    model.eval()
    torch.testing.assert_close(model.loss(x)["loss"], model.recon_terms(x, x)["loss"])  # clean outside training
    terms = model.evaluate(x, None)
    assert {"loss", "bce", "clean_bce", "clean_sse"} <= set(terms)
    assert torch.equal(model.evaluate(x, None)["loss"], terms["loss"])  # fixed evaluation noise


def test_bad_noise_is_a_config_error(tmp_path, tiny):
    with pytest.raises(ConfigError, match="unknown kind"):
        latentlab.train("ae", noise="blur:0.3", out=str(tmp_path / "r"), **tiny)
    with pytest.raises(ConfigError, match="out of range"):
        AEConfig(noise="gaussian:4").validate()


def test_denoising_run_learns_corrupted_to_clean(tmp_path, tiny):
    tiny.update(epochs=2, noise="gaussian:0.3")
    run = latentlab.train("ae", out=str(tmp_path / "d"), **tiny)
    assert latentlab.read_run(run.dir).model_cfg.noise == "gaussian:0.3"
    assert str(latentlab.load(run.dir).noise) == "gaussian:0.3"
    assert {"val_loss", "val_clean_bce"} <= set(run.metrics[-1])
