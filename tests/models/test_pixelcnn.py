"""PixelCNN: causal masks (no pixel sees itself or a later one), an exact and normalised likelihood,
sampling that follows it, one training step, the run folder."""
import itertools
import math

import pytest
import torch

import latentlab
from latentlab.errors import ConfigError, LatentlabError
from latentlab.models.pixelcnn import PixelCNN, PixelCNNConfig

ARCHS = ["gated", "plain"]


def small(arch="gated", shape=(1, 8, 8), **kw):
    torch.manual_seed(0)
    kw = {"channels": 6, "layers": 2, **kw}
    return PixelCNN(PixelCNNConfig(arch=arch, **kw), shape).eval()


def dependence(model, shape, draws=4):
    """sum over a few random images of |d logits / d x|: (D, D), [i, j] for logit i and input j, both in
    raster order (rows, columns, channels within a pixel). Several images, so that no dependence hides
    behind a ReLU that happens to be off."""
    def flat_logits(v):  # raster-ordered vector (D,) -> raster-ordered logits (D,)
        x = v.view(shape[1], shape[2], shape[0]).permute(2, 0, 1)[None]  # (1, C, H, W)
        return model.logits(x)[0].permute(1, 2, 0).reshape(-1)
    generator = torch.Generator().manual_seed(0)
    return sum(torch.autograd.functional.jacobian(flat_logits, torch.rand(math.prod(shape), generator=generator)).abs()
               for _ in range(draws))


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 5, 4)])
def test_shapes_and_terms(arch, shape):
    model = small(arch, shape)
    x = torch.bernoulli(torch.rand(6, *shape))
    assert model.logits(x).shape == (6, *shape) and model.log_prob(x).shape == (6,)
    terms = model.loss(x)
    assert set(terms) == {"loss", "bits_per_dim"} and all(torch.isfinite(v) for v in terms.values())
    assert torch.isfinite(model.loss(x[:1])["loss"])  # the loop may hand over a batch of one image


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("shape", [(1, 6, 6), (3, 3, 4)])
def test_masks_are_causal(arch, shape):
    """The logit of element i depends on elements < i only (never on itself or a later one)."""
    jac = dependence(small(arch, shape, channels=12), shape)  # [i, j]: logit i on input j
    d = jac.shape[0]
    assert torch.all(jac[torch.triu(torch.ones(d, d, dtype=torch.bool))] == 0)
    assert jac.sum() > 0


def test_gated_blocks_have_no_blind_spot():
    """Plain masked convolutions miss pixels up and to the right (van den Oord et al. 2016b, fig. 1);
    the gated net with its two stacks sees every earlier pixel within its reach."""
    shape = (1, 5, 5)
    gated = dependence(small("gated", shape, channels=16), shape)
    below = torch.tril(torch.ones(25, 25, dtype=torch.bool), diagonal=-1)
    assert torch.all(gated[below] != 0)
    plain = dependence(small("plain", shape, channels=16), shape)
    assert plain[3 * 5 + 0, 2 * 5 + 4] == 0  # pixel (2, 4) never reaches (3, 0) through 7x7 A + two 3x3 B
    assert gated[3 * 5 + 0, 2 * 5 + 4] != 0


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("shape", [(1, 2, 2), (3, 1, 2)])
def test_likelihood_is_exact_and_normalised(arch, shape):
    """sum_x p(x) = 1 over every binary image, and loss = -mean log p(x) in nats per image."""
    model = small(arch, shape)
    d = math.prod(shape)
    every = torch.tensor(list(itertools.product([0.0, 1.0], repeat=d))).view(-1, *shape)  # (2^D, C, H, W)
    with torch.no_grad():
        log_p = model.log_prob(every)
    torch.testing.assert_close(torch.logsumexp(log_p, 0), torch.tensor(0.0), atol=1e-5, rtol=0)
    terms = model.loss(every[:5])
    torch.testing.assert_close(terms["loss"], -model.log_prob(every[:5]).mean())
    torch.testing.assert_close(terms["bits_per_dim"], terms["loss"].detach() / (d * math.log(2)))


@pytest.mark.parametrize("arch", ARCHS)
def test_samples_follow_the_likelihood(arch):
    shape = (1, 2, 2)
    model = small(arch, shape)
    every = torch.tensor(list(itertools.product([0.0, 1.0], repeat=4))).view(16, *shape)
    with torch.no_grad():
        p = model.log_prob(every).exp()  # (16,)
    n = 20_000
    x = model.sample(n, generator=torch.Generator().manual_seed(0))
    code = (x.flatten(1) * torch.tensor([8.0, 4.0, 2.0, 1.0])).sum(1).long()  # index into `every`
    freq = torch.bincount(code, minlength=16).float() / n
    assert torch.all((freq - p).abs() <= 5 * (p * (1 - p) / n).sqrt() + 1e-3)


def naive_sample(model, n, generator):
    """The definition: every pixel from a full pass of the network over the image so far."""
    c, height, width = model.shape
    x = torch.zeros(n, c, height, width)
    for i, j, k in itertools.product(range(height), range(width), range(c)):
        p = torch.sigmoid(model.logits(x)[:, k, i, j])
        x[:, k, i, j] = (torch.rand(n, generator=generator) < p).float()
    return x


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 4, 5)])
def test_fast_sampling_is_the_definition(arch, shape):
    """Sampling reads only the rows that reach a pixel (and, gated, the vertical stack once per row):
    the same draws as full passes over the image."""
    model = small(arch, shape, layers=1, first_kernel=3)  # a short reach: the row windows are cut
    a = model.sample(5, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        b = naive_sample(model, 5, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    x = torch.rand(2, *shape)
    with torch.no_grad():
        full = model.logits(x)
        for i in range(shape[1]):
            torch.testing.assert_close(model.row_logits(x, i), full[:, :, i])


def test_samples_are_binary_reproducible_and_without_autograd():
    model = small()
    a = model.sample(6, generator=torch.Generator().manual_seed(1))
    assert a.shape == (6, 1, 8, 8) and set(a.unique().tolist()) <= {0.0, 1.0}
    assert not a.requires_grad and a.grad_fn is None
    torch.manual_seed(99)  # the global RNG plays no part
    assert torch.equal(a, model.sample(6, generator=torch.Generator().manual_seed(1)))
    assert not torch.equal(a, model.sample(6, generator=torch.Generator().manual_seed(2)))
    with pytest.raises(LatentlabError, match="not conditional"):
        model.sample(6, y=3)


def test_one_training_step_changes_the_weights():
    model = small().train()
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    x = torch.bernoulli(torch.rand(16, 1, 8, 8))
    first = model.loss(x)["loss"]
    first.backward()
    opt.step()
    assert torch.isfinite(first)
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert model.loss(x)["loss"] < first  # a step of Adam on one batch lowers that batch's loss


@pytest.mark.parametrize("bad", [dict(arch="lstm"), dict(kernel=4), dict(first_kernel=1), dict(layers=0), dict(channels=0)])
def test_bad_settings(bad):
    with pytest.raises(ConfigError):
        PixelCNNConfig(**bad).validate()


def test_channels_must_split_into_colour_groups():
    with pytest.raises(ValueError, match="multiple of the image channels"):
        PixelCNN(PixelCNNConfig(channels=8), (3, 8, 8))


def test_run_folder_round_trip(tmp_path):
    run = latentlab.train("pixelcnn", dataset="digits", epochs=1, batch_size=64, progress=False, out=str(tmp_path / "run"),
                          binarize="dynamic", channels=8, layers=2)
    row = run.metrics[-1]
    assert {"train_loss", "val_loss", "val_bits_per_dim"} <= row.keys() and math.isfinite(row["val_loss"])
    assert (run.dir / "samples.png").is_file()
    model = latentlab.load(run.dir)
    assert isinstance(model, PixelCNN) and model.cfg.channels == 8
    x = torch.bernoulli(torch.rand(4, 1, 8, 8))
    with torch.no_grad():
        torch.testing.assert_close(model.log_prob(x), run.model.log_prob(x))
    assert "blocks.0.vertical.mask" not in model.state_dict()  # masks follow from the config
