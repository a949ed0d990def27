"""InfoGAN: the codes in the generator input, the Q head on D's body, L_I, code pictures, the run folder."""
import importlib

import pytest
import torch

import latentlab
from latentlab.errors import ConfigError, LatentlabError
from latentlab.models.base import ConditionalSampler, LatentGenerator
from latentlab.models.infogan import InfoGAN, InfoGANConfig

train_module = importlib.import_module("latentlab.training.loop")


def small(**kw):
    torch.manual_seed(0)
    return InfoGAN(InfoGANConfig(**{"latent_dim": 6, "channels": 4, "hidden": 32, **kw}), (1, 8, 8))


@pytest.mark.parametrize("arch", ["conv", "mlp"])
def test_codes_and_heads(arch):
    model = small(arch=arch, n_cat=5, n_cont=3)
    inp = model.noise(7, cat=torch.arange(7) % 5, cont=torch.full((7, 3), 0.5))
    assert inp.shape == (7, 6 + 5 + 3)
    z, cat, cont = model.split(inp)
    assert torch.equal(cat, torch.arange(7) % 5) and torch.equal(cont, torch.full((7, 3), 0.5)) and z.shape == (7, 6)
    out = model.discriminator(model.generate(inp))
    assert out["adv"].shape == (7, 1) and out["q"].shape == (7, 8)
    # the Q head shares the discriminator's body: one body, two heads
    assert set(model.discriminator.heads) == {"adv", "q"}
    d = model.loss(torch.rand(7, 1, 8, 8), None, "discriminator")
    assert torch.isclose(d["loss"], d["adv"] + d["info"]) and d["info"] > 0
    assert isinstance(model, LatentGenerator) and not isinstance(model, ConditionalSampler)
    with pytest.raises(LatentlabError, match="not conditional"):
        model.sample(2, 1)


def test_info_loss_is_small_when_q_recovers_the_codes():
    model = small(n_cat=4, n_cont=2)
    inp = model.noise(8)
    _, cat, cont = model.split(inp)
    perfect = torch.cat([torch.nn.functional.one_hot(cat, 4).float() * 50, cont], 1)
    assert model.info_loss(perfect, inp) < 1e-6
    assert model.info_loss(torch.zeros_like(perfect), inp) > 1.0


def test_info_loss_trains_both_groups():
    model = small()
    groups = model.optimizer_groups()
    opts = {g: torch.optim.Adam(ps, lr=1e-2) for g, ps in groups.items()}
    q_before = [p.detach().clone() for p in model.discriminator.heads["q"].parameters()]
    train_module.Trainer(model, model, groups, opts).step("discriminator", torch.rand(8, 1, 8, 8), None)
    assert any(not torch.equal(p, q) for p, q in zip(model.discriminator.heads["q"].parameters(), q_before))
    # in the generator step the info loss reaches G through the frozen Q head
    model.zero_grad()
    for p in model.generator.parameters():  # what the loop does before a generator step
        p.requires_grad_(True)
    terms = model.loss(torch.rand(8, 1, 8, 8), None, "generator")
    terms["info"].backward()
    assert all(p.grad is not None for p in model.generator.parameters())


def test_bad_codes_are_refused():
    for bad in (dict(n_cat=1), dict(n_cat=0, n_cont=0), dict(n_cont=-1), dict(info_weight=-1.0)):
        with pytest.raises(ConfigError):
            InfoGANConfig(**bad).validate()


def test_train_writes_code_pictures_and_round_trips(tmp_path):
    run = latentlab.train("infogan", dataset="digits", epochs=1, batch_size=128, latent_dim=6, channels=4, n_cat=10,
                          n_cont=2, lr=2e-4, out=str(tmp_path / "run"), progress=False)
    for name in ("code_c1.png", "code_c2.png", "training.gif", "dynamics.png"):
        assert (run.dir / name).is_file(), name
    assert "train_generator/info" in run.metrics[-1]
    loaded = latentlab.load(run.dir)
    for k, v in run.model.state_dict().items():
        assert torch.equal(v.cpu(), loaded.state_dict()[k]), k
    # the fixed grid: row r is category r, c1 goes from -2 to 2 along the row
    _, cat, cont = loaded.split(loaded.fixed_input)
    assert torch.equal(cat, torch.arange(10).repeat_interleave(8))
    assert cont[:8, 0].tolist() == pytest.approx(torch.linspace(-2, 2, 8).tolist()) and cont[:, 1].abs().max() == 0


@pytest.mark.parametrize("n_cont", [0, 2])
def test_code_traversals_are_pictures_without_autograd(n_cont):
    model = small(n_cat=4, n_cont=n_cont).eval()
    pictures = model.code_traversals()
    assert set(pictures) == ({"code_c1", "code_c2"} if n_cont else {"code_cat"})
    for images in pictures.values():
        assert images.shape == (4 * model.grid_cols, 1, 8, 8) and not images.requires_grad
    if n_cont:  # one fixed z per row: the traversal input starts from the fixed grid
        torch.testing.assert_close(pictures["code_c1"], model.generate(model.fixed_input))
