"""VAE: shapes, the ELBO and IWAE objectives, the KL warm-up, one training step, the run folder."""
import math

import pytest
import torch

import latentlab
from latentlab.errors import ConfigError
from latentlab.nn.likelihoods import bernoulli_nll
from latentlab.models.vae import VAE, VAEConfig

SMALL = dict(dataset="digits", epochs=1, batch_size=64, latent_dim=4, hidden=32, binarize="dynamic", progress=False)


def small_vae(**kw):
    return VAE(VAEConfig(latent_dim=4, hidden=32, channels=8, **kw), (1, 8, 8))


@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("objective,k", [("elbo", 1), ("iwae", 5)])
def test_shapes_and_terms(arch, objective, k):
    torch.manual_seed(0)
    model = small_vae(arch=arch, objective=objective, k=k)
    x = torch.bernoulli(torch.rand(6, 1, 8, 8))
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (6, 4)
    terms = model.loss(x)
    assert {"loss", "rec", "kl", "neg_elbo"} <= terms.keys()
    assert all(torch.isfinite(v) for v in terms.values())
    if objective == "iwae":
        assert "neg_iwae" in terms and torch.equal(terms["loss"], terms["neg_iwae"])
    assert model.sample(5).shape == (5, 1, 8, 8) and model.reconstruct(x).shape == (6, 1, 8, 8)


def test_log_px_given_z_is_the_bernoulli_likelihood():
    model = small_vae()
    x = torch.bernoulli(torch.rand(3, 1, 8, 8))
    z = torch.randn(4, 3, 4)  # 4 draws for each of 3 images
    got = model.log_px_given_z(x, z)
    want = torch.stack([-bernoulli_nll(model.decoder(z[s]), x) for s in range(4)])
    assert got.shape == (4, 3) and torch.allclose(got, want, atol=1e-4)


def test_iwae_bound_is_tighter_than_the_elbo():
    torch.manual_seed(0)
    model = small_vae(objective="iwae", k=50)
    x = torch.bernoulli(torch.rand(64, 1, 8, 8))
    with torch.no_grad():
        terms = model.loss(x)
    assert terms["neg_iwae"] < terms["neg_elbo"]  # L_50 >= ELBO (Burda et al., theorem 1)


def test_beta_weights_the_kl_and_warmup_ramps_it():
    torch.manual_seed(0)
    x = torch.bernoulli(torch.rand(8, 1, 8, 8))
    torch.manual_seed(1)
    terms = small_vae(beta=4.0).loss(x)
    assert torch.allclose(terms["loss"], terms["rec"] + 4 * terms["kl"])
    model = small_vae(warmup=4)
    assert model.kl_weight() == 0 and int(model.step) == 0
    for _ in range(2):
        model.loss(x)
    assert int(model.step) == 2 and model.kl_weight() == pytest.approx(0.5)
    with torch.no_grad():
        model.loss(x)  # evaluation does not count as a step
    model.eval()
    assert int(model.step) == 2 and model.kl_weight() == 1.0  # and is scored with the full beta


@pytest.mark.parametrize("bad", [dict(k=3), dict(objective="iwae", k=0), dict(warmup=-1), dict(objective="nope")])
def test_bad_settings(bad):
    with pytest.raises(ConfigError):
        VAEConfig(**bad).validate()


def test_one_training_step_changes_the_weights():
    torch.manual_seed(0)
    model = small_vae(objective="iwae", k=3)
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    model.loss(torch.bernoulli(torch.rand(16, 1, 8, 8)))["loss"].backward()
    opt.step()
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_run_folder_round_trip(tmp_path):
    run = latentlab.train("vae", out=str(tmp_path / "run"), objective="iwae", k=3, warmup=5, **SMALL)
    assert {"train_neg_iwae", "val_neg_iwae", "val_neg_elbo"} <= run.metrics[-1].keys()
    model = latentlab.load(run.dir)
    assert model.cfg.objective == "iwae" and model.cfg.k == 3
    assert int(model.step) == int(run.model.step) > 0  # the warm-up counter is saved
    x = torch.rand(4, 1, 8, 8)
    assert torch.allclose(model.reconstruct(x), run.model.reconstruct(x))
    assert math.isfinite(run.metrics[-1]["val_loss"])


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_output_bias_data_starts_the_decoder_at_the_mean_image(arch):
    torch.manual_seed(0)
    x = (torch.rand(64, 1, 8, 8) < torch.linspace(0.05, 0.95, 64).view(1, 1, 8, 8)).float()  # pixel means vary
    model = VAE(VAEConfig(arch=arch, output_bias="data", hidden=16, latent_dim=2, channels=4), (1, 8, 8))
    last = [m for m in model.decoder.modules() if getattr(m, "bias", None) is not None][-1]
    torch.nn.init.zeros_(last.weight)  # the output is then the bias alone
    model.fit_start(x)
    out = model.decode(torch.zeros(1, 2))[0]  # (1, 8, 8)
    target = x.mean(0).clamp(1e-3, 1 - 1e-3)
    if arch == "mlp":
        assert torch.allclose(out, target, atol=1e-5)  # per pixel
    else:
        assert torch.allclose(out, target.mean().expand_as(out), atol=1e-5)  # per channel
    zero = VAE(VAEConfig(hidden=16, latent_dim=2), (1, 8, 8))
    before = {k: v.clone() for k, v in zero.state_dict().items()}
    zero.fit_start(x)  # the default leaves the initialisation alone
    assert all(torch.equal(before[k], v) for k, v in zero.state_dict().items())


def test_output_bias_data_is_applied_at_the_start_of_a_run_only(tmp_path, tiny):
    run = latentlab.train("vae", out=str(tmp_path / "r"), output_bias="data", **{**tiny, "epochs": 1})
    assert run.model.cfg.output_bias == "data"


def test_defaults_are_the_measured_ones():
    """Two hidden layers and 50 epochs: after 15 CPU-minutes on MNIST FD 85 against 141 with one layer
    (bench/results/gan_defaults.md); 50 epochs last about 6 minutes on one core."""
    from latentlab.config import train_defaults
    assert VAEConfig().layers == 2
    assert train_defaults(VAE)["epochs"] == 50
    assert [m for m in VAE(VAEConfig(), (1, 28, 28)).decoder.modules() if isinstance(m, torch.nn.Linear)][0].out_features == 512
