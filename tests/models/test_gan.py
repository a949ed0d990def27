"""GAN with MLP networks: shapes, the two generator losses, one training step, the run folder, the CLI."""
import importlib

import pytest
import torch
from PIL import Image

import latentlab
from latentlab.cli.main import main
from latentlab.errors import ConfigError, LatentlabError
from latentlab.config import train_defaults
from latentlab.models.gan import GAN, GANConfig
from latentlab.nn.losses import generator_bce

train_module = importlib.import_module("latentlab.training.loop")
SMALL = dict(dataset="digits", batch_size=64, progress=False, latent_dim=8, hidden=32, lr=2e-4)


def small_model(**kw):
    return GAN(GANConfig(latent_dim=8, hidden=32, **kw), (1, 8, 8))


def test_shapes_and_terms():
    torch.manual_seed(0)
    model = small_model()
    x = torch.rand(6, 1, 8, 8)
    d = model.loss(x, None, "discriminator")
    g = model.loss(x, None, "generator")
    assert {"loss", "d_real", "d_fake"} <= d.keys() and {"loss", "d_fake", "grad_norm"} <= g.keys()
    assert float(g["grad_norm"]) == 0  # read off the step's backward pass, which has not run yet
    g["loss"].backward()
    assert 0 < float(d["d_real"]) < 1 and 0 < float(d["d_fake"]) < 1 and float(g["grad_norm"]) > 0
    images = model.sample(5)
    assert images.shape == (5, 1, 8, 8) and images.min() >= 0 and images.max() <= 1
    assert model.fixed_input.shape == (64, 8) and "fixed_input" in model.state_dict()
    assert model.schedule() == ["discriminator", "generator"]
    assert small_model(d_steps=3).schedule() == ["discriminator"] * 3 + ["generator"]
    defaults = train_defaults(GAN)
    assert (defaults["lr"], defaults["beta1"], defaults["beta2"]) == (2e-4, 0.5, 0.999)


def test_minimax_saturates_where_non_saturating_does_not():
    # D confidently rejects the fakes: D(G(z)) = sigmoid(-6) ~ 0.0025
    logits = torch.full((8, 1), -6.0, requires_grad=True)
    (g_mm,) = torch.autograd.grad(generator_bce(logits, "minimax"), logits)
    (g_ns,) = torch.autograd.grad(generator_bce(logits, "non-saturating"), logits)
    assert g_mm.abs().max() < 0.01 * g_ns.abs().min()
    # at the equilibrium D = 1/2 both losses give the same slope (up to sign conventions, both push D(G(z)) up)
    half = torch.zeros(4, 1, requires_grad=True)
    (a,) = torch.autograd.grad(generator_bce(half, "minimax"), half)
    (b,) = torch.autograd.grad(generator_bce(half, "non-saturating"), half)
    assert torch.allclose(a, b)


def test_label_smoothing_lowers_the_real_target():
    torch.manual_seed(0)
    x = torch.rand(16, 1, 8, 8)
    plain, smooth = small_model(), small_model(smooth=0.1)
    smooth.load_state_dict(plain.state_dict())
    torch.manual_seed(1)
    a = plain.loss(x, None, "discriminator")["loss"]
    torch.manual_seed(1)
    b = smooth.loss(x, None, "discriminator")["loss"]
    assert not torch.isclose(a, b)


@pytest.mark.parametrize("group,other", [("discriminator", "generator"), ("generator", "discriminator")])
def test_one_step_moves_only_its_group(group, other):
    torch.manual_seed(0)
    model = small_model()
    groups = model.optimizer_groups()
    opts = {g: torch.optim.Adam(ps, lr=1e-2, betas=(0.5, 0.999)) for g, ps in groups.items()}
    before = {g: [p.detach().clone() for p in ps] for g, ps in groups.items()}
    x = torch.rand(16, 1, 8, 8)
    train_module.Trainer(model, model, groups, opts).step(group, x, None)
    assert any(not torch.equal(p, q) for p, q in zip(groups[group], before[group]))
    assert all(torch.equal(p, q) for p, q in zip(groups[other], before[other]))


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """Two epochs through the CLI with every GAN option set."""
    out = tmp_path_factory.mktemp("gan") / "run"
    assert main(["train", "gan", "--dataset", "digits", "--epochs", "2", "--batch-size", "128", "--hidden", "32",
                 "--latent-dim", "8", "--gen-loss", "minimax", "--smooth", "0.1", "--d-steps", "2", "--lr", "2e-4",
                 "--out", str(out), "--no-progress"]) == 0
    return out


def test_train_save_load_round_trip(cli_run):
    for name in ("training.gif", "dynamics.png", "samples.png", "frames/epoch_001.png", "frames/epoch_002.png"):
        assert (cli_run / name).is_file(), name
    assert Image.open(cli_run / "training.gif").n_frames == 2
    row = latentlab.read_metrics(cli_run)[-1]
    assert {"train_discriminator/d_real", "train_discriminator/d_fake", "train_generator/loss", "val_loss"} <= row.keys()
    cfg = latentlab.read_run(cli_run).model_cfg
    assert (cfg.gen_loss, cfg.smooth, cfg.d_steps) == ("minimax", 0.1, 2)
    first, second = latentlab.load(cli_run), latentlab.load(cli_run)
    for k, v in first.state_dict().items():
        assert torch.equal(v, second.state_dict()[k]), k
    torch.manual_seed(3)
    a = first.sample(4)
    torch.manual_seed(3)
    assert torch.equal(a, second.sample(4))
    with torch.no_grad():
        assert torch.equal(latentlab.load_decoder(cli_run)(first.fixed_input), first.generate(first.fixed_input))


def test_api_training_matches_the_cli(cli_run, tmp_path):
    run = latentlab.train("gan", dataset="digits", epochs=2, batch_size=128, hidden=32, latent_dim=8, gen_loss="minimax",
                          smooth=0.1, d_steps=2, lr=2e-4, out=str(tmp_path / "api"), progress=False)
    loaded = latentlab.load(cli_run)
    for k, v in run.model.state_dict().items():
        assert torch.equal(v.cpu(), loaded.state_dict()[k]), k


def test_bad_settings_are_refused(tmp_path, capsys):
    for bad in (dict(smooth=1.0), dict(smooth=-0.1), dict(d_steps=0), dict(gen_loss="wasserstein"), dict(latent_dim=0)):
        with pytest.raises(ConfigError):
            latentlab.train("gan", epochs=1, **bad)
    with pytest.raises(LatentlabError, match="not conditional"):
        small_model().sample(4, 1)
    assert main(["train", "gan", "--smooth", "1.5", "--out", str(tmp_path / "bad"), "--no-progress"]) == 2
    assert "smooth" in capsys.readouterr().err


def test_cli_sample(cli_run, tmp_path):
    assert main(["sample", str(cli_run), "--n", "4", "-o", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").is_file()
    assert main(["sample", str(cli_run), "--label", "3"]) == 2


def test_grad_norm_is_the_norm_of_the_loss_gradient_at_the_fakes():
    from latentlab.models.adversarial import gradient_norm_at, signal_norm
    torch.manual_seed(0)
    model = small_model()
    fake = model.generator(model.noise(5))  # (5, 1, 8, 8)
    loss = sum(v.pow(2).mean() for v in model.discriminator(fake).values())  # any loss of the fakes
    at_once = signal_norm(loss, fake)  # an extra backward pass
    hooked = gradient_norm_at(fake)
    loss.backward()
    assert float(hooked) > 0 and torch.isclose(hooked, at_once)
