"""The per-epoch pictures: chosen by the model's interfaces, the same pictures the models made before."""
import numpy as np
import pytest
import torch
from PIL import Image

from latentlab.models.ae import AE, AEConfig
from latentlab.models.base import GenerativeModel, LatentGenerator
from latentlab.models.gan import GAN, GANConfig
from latentlab.models.infogan import InfoGAN, InfoGANConfig
from latentlab.models.vae import VAE, VAEConfig
from latentlab.models.wgan_gp import WGANGP, WGANGPConfig
from latentlab.training import callbacks
from latentlab.viz.plots import save_grid

SHAPE = (1, 8, 8)
METRICS = [{"epoch": e, "train_discriminator/loss": 1.0 / e, "train_generator/loss": float(e),
            "train_discriminator/d_real": 0.6, "train_discriminator/d_fake": 0.4, "train_generator/grad_norm": 2.0}
           for e in (1, 2)]


class Toy(GenerativeModel, LatentGenerator):
    """A generator of constant grey images: 3 rows of 8 codes."""

    name = "toy"
    grid_cols = 8
    critic = False

    def __init__(self):
        super().__init__(None, SHAPE)
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.register_buffer("fixed_input", torch.linspace(0, 1, 24).unsqueeze(1))  # (24, 1)

    def generate(self, codes):
        return (codes * self.scale).view(-1, 1, 1, 1).expand(-1, *SHAPE)


def pixels(path):
    return np.asarray(Image.open(path))


def same_picture(path, images, tmp_path, nrow=None):
    """The PNG at path is what save_grid makes of these images."""
    return np.array_equal(pixels(path), pixels(save_grid(images, tmp_path / "expected.png", nrow)))


def test_callbacks_follow_the_interfaces():
    torch.manual_seed(0)
    gan = GAN(GANConfig(latent_dim=4, hidden=16), SHAPE)
    info = InfoGAN(InfoGANConfig(arch="mlp", latent_dim=4, hidden=16, layers=1, n_cat=3, n_cont=2), SHAPE)
    frames = [callbacks.training_frame, callbacks.training_gif, callbacks.dynamics]
    assert callbacks.for_model(Toy()) == frames
    assert callbacks.for_model(gan) == frames
    assert callbacks.for_model(info) == frames + [callbacks.code_traversals]
    assert callbacks.for_model(AE(AEConfig(latent_dim=4, hidden=16), SHAPE)) == [callbacks.standard_prior_samples]
    assert callbacks.for_model(VAE(VAEConfig(latent_dim=4, hidden=16), SHAPE)) == []


def test_frames_gif_and_dynamics_of_a_latent_generator(tmp_path):
    model = Toy().train()
    chosen = callbacks.for_model(model)
    for epoch in (1, 2):
        callbacks.run(chosen, model, tmp_path, epoch, METRICS[:epoch])
    assert model.training  # the mode is restored
    for epoch in (1, 2):  # the fixed batch as a grid 8 wide (3 rows), at its natural size
        frame = pixels(tmp_path / "frames" / f"epoch_{epoch:03d}.png")
        assert frame.shape == (3 * 9 + 1, 8 * 9 + 1)
    assert np.array_equal(frame[1:9, 1:9], np.zeros((8, 8)))  # code 0 -> black
    assert Image.open(tmp_path / "training.gif").n_frames == 2
    assert (tmp_path / "dynamics.png").is_file()


def test_critic_flag_reaches_dynamics(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr("latentlab.viz.plots.plot_dynamics", lambda metrics, path, critic: seen.update(critic=critic))
    torch.manual_seed(0)
    wgan = WGANGP(WGANGPConfig(arch="mlp", latent_dim=4, hidden=16), SHAPE)
    callbacks.run([callbacks.dynamics], wgan, tmp_path, 1, METRICS)
    assert seen == {"critic": True}
    callbacks.run([callbacks.dynamics], Toy(), tmp_path, 1, METRICS)
    assert seen == {"critic": False}


@pytest.mark.parametrize("n_cont, names", [(2, ["code_c1", "code_c2"]), (0, ["code_cat"])])
def test_infogan_code_traversals(tmp_path, n_cont, names):
    torch.manual_seed(0)
    model = InfoGAN(InfoGANConfig(arch="mlp", latent_dim=4, hidden=16, layers=1, n_cat=3, n_cont=n_cont), SHAPE).eval()
    rng = torch.get_rng_state()
    callbacks.run(callbacks.for_model(model), model, tmp_path, 1, METRICS)
    assert torch.equal(torch.get_rng_state(), rng)  # training's RNG is left alone
    assert sorted(p.stem for p in tmp_path.glob("code_*.png")) == names
    z = model.split(model.fixed_input)[0][::model.grid_cols]  # (rows, latent): one fixed z per row
    with torch.no_grad():
        for j, name in enumerate(names):  # one row per category, 8 wide, as InfoGAN drew them before
            images = model.generator(model.traversal_input(j, z) if n_cont else model.fixed_input)
            assert same_picture(tmp_path / f"{name}.png", images, tmp_path, nrow=8), name


def test_ae_standard_prior_samples(tmp_path):
    torch.manual_seed(0)
    model = AE(AEConfig(latent_dim=4, hidden=16), SHAPE).eval()
    rng = torch.get_rng_state()
    callbacks.run(callbacks.for_model(model), model, tmp_path, 1, METRICS)
    assert torch.equal(torch.get_rng_state(), rng)
    with torch.no_grad():
        expected = torch.sigmoid(model.decoder(torch.randn(64, 4, generator=torch.Generator().manual_seed(0))))
    assert same_picture(tmp_path / callbacks.STANDARD_PRIOR, expected, tmp_path)


class FakeClock:
    """A clock that stands still unless a test moves it."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_pictures_of_the_run_files_are_put_off_while_not_due_and_drawn_when_closed(tmp_path, monkeypatch):
    clock, drawn = FakeClock(), []  # drawn: how many metrics rows each dynamics.png was drawn from
    plot_dynamics = __import__("latentlab.viz.plots", fromlist=["plot_dynamics"]).plot_dynamics

    def slow_plot(metrics, path, critic):  # drawing takes a second of the clock
        clock.now += 1.0
        drawn.append(len(metrics))
        return plot_dynamics(metrics, path, critic)

    monkeypatch.setattr("latentlab.viz.plots.plot_dynamics", slow_plot)
    model, rows = Toy().eval(), []
    pictures = callbacks.Pictures(callbacks.for_model(model), clock)
    gif_frames = lambda: Image.open(tmp_path / "training.gif").n_frames  # noqa: E731

    def epoch(e, at):
        clock.now = at
        rows.append(METRICS[0] | {"epoch": e})
        pictures.after_epoch(model, tmp_path, e, rows)

    assert (callbacks.SHARE, callbacks.GUESS) == (0.02, 0.5)
    epoch(1, 10.0)  # drawing them is taken to cost 0.5 s until it was timed: due 0.5 / SHARE = 25 s after the start
    assert drawn == [] and not (tmp_path / "training.gif").exists()  # put off (frames are saved every epoch)
    epoch(2, 25.0)
    assert drawn == [2] and gif_frames() == 2  # drawing took 1 s: due again 1 / SHARE = 50 s after it ended, at 76 s
    epoch(3, 75.9)
    assert drawn == [2] and gif_frames() == 2
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == [f"epoch_00{e}.png" for e in (1, 2, 3)]
    epoch(4, 76.0)
    assert drawn == [2, 4] and gif_frames() == 4
    epoch(5, 80.0)
    pictures.close()  # the end of training draws what was put off, from every epoch's files
    assert drawn == [2, 4, 5] and gif_frames() == 5
    pictures.close()  # nothing put off since: nothing drawn
    assert drawn == [2, 4, 5]


def test_other_pictures_are_made_every_epoch(tmp_path):
    torch.manual_seed(0)
    model = AE(AEConfig(latent_dim=4, hidden=16), SHAPE).eval()
    clock = FakeClock()
    pictures = callbacks.Pictures(callbacks.for_model(model), clock)
    for e in (1, 2):
        (tmp_path / callbacks.STANDARD_PRIOR).unlink(missing_ok=True)
        pictures.after_epoch(model, tmp_path, e, METRICS[:e])
        assert (tmp_path / callbacks.STANDARD_PRIOR).is_file()
