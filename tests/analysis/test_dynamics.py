"""The vanishing-gradient figure: the generator's gradient signal of several GAN runs, read from their metrics."""
import pytest

import latentlab
from latentlab.analysis.dynamics import compare_dynamics, read_dynamics
from latentlab.errors import LatentlabError

GAN = dict(dataset="digits", epochs=2, batch_size=64, latent_dim=8, hidden=32, layers=1, progress=False)


def test_two_gan_runs_in_one_figure_and_a_table(tmp_path):
    a = latentlab.train("gan", out=str(tmp_path / "a"), gen_loss="minimax", **GAN)
    b = latentlab.train("gan", out=str(tmp_path / "b"), gen_loss="non-saturating", d_steps=2, **GAN)
    d = read_dynamics(a.dir)
    assert d.label == "minimax (a)" and d.epochs == [1, 2] and not d.critic
    assert d.signal == [r["train_generator/grad_norm"] for r in a.metrics]
    assert d.d_fake == [r["train_discriminator/d_fake"] for r in a.metrics]
    path, table = compare_dynamics([a.dir, b.dir], tmp_path / "fig.png")
    assert path.is_file() and table.splitlines()[0] == "| epoch | minimax (a) | non-saturating, 2 D steps (b) |"
    assert len(table.splitlines()) == 4 and f"{d.signal[1]:.3g}" in table.splitlines()[3]
    with pytest.raises(LatentlabError, match="must end in .png"):
        compare_dynamics([a.dir], tmp_path / "fig.jpg")


def test_a_run_without_the_signal_is_refused(tmp_path):
    run = latentlab.train("vae", out=str(tmp_path / "v"), **{**GAN, "epochs": 1, "layers": 1})
    with pytest.raises(LatentlabError, match="not a GAN's"):
        read_dynamics(run.dir)
