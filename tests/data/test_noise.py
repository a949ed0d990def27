"""Corruptions for denoising autoencoders: parsing, ranges, what each does to pixels, PSNR."""
import math

import pytest
import torch

from latentlab.errors import ConfigError
from latentlab.data.noise import Noise, corrupt, denoising_scores, parse_noise, psnr


def test_parse_good_specs():
    assert parse_noise("gaussian:0.4") == Noise("gaussian", 0.4)
    assert parse_noise(" Mask:0.3 ") == Noise("mask", 0.3)
    assert str(parse_noise("saltpepper:0.1")) == "saltpepper:0.1"
    assert parse_noise("") is None


@pytest.mark.parametrize("spec, match", [("gauss:0.4", "unknown kind"), ("gaussian", "must be a number"),
                                         ("mask:abc", "must be a number"), ("mask:1", "out of range"),
                                         ("mask:0", "out of range"), ("gaussian:1.5", "out of range"),
                                         ("saltpepper:-0.1", "out of range"), ("gaussian:nan", "out of range")])
def test_bad_specs_are_config_errors(spec, match):
    with pytest.raises(ConfigError, match=match):
        parse_noise(spec)


def test_corruptions_do_what_they_say():
    x = torch.full((20, 1, 28, 28), 0.5)
    g = torch.Generator().manual_seed(0)
    masked = parse_noise("mask:0.3")(x, g)
    assert set(masked.unique().tolist()) == {0.0, 0.5} and (masked == 0).float().mean() == pytest.approx(0.3, abs=0.02)
    sp = parse_noise("saltpepper:0.2")(x, g)
    assert (sp == 0).float().mean() == pytest.approx(0.1, abs=0.02) and (sp == 1).float().mean() == pytest.approx(0.1, abs=0.02)
    noisy = parse_noise("gaussian:0.4")(x, g)
    assert noisy.min() >= 0 and noisy.max() <= 1  # clipped to [0, 1]
    assert (noisy - x).std() == pytest.approx(0.4 * 0.82, abs=0.03)  # clipping at +-1.25 sigma shrinks the spread
    rgb = parse_noise("mask:0.5")(torch.full((4, 3, 8, 8), 0.5), g)
    assert ((rgb == 0).all(1) | (rgb != 0).all(1)).all()  # whole pixels, every channel alike


def test_fresh_noise_each_call_and_reproducible_with_a_seed():
    x = torch.rand(8, 1, 8, 8)
    noise = parse_noise("gaussian:0.2")
    assert not torch.equal(noise(x), noise(x))
    assert torch.equal(corrupt(x, "gaussian:0.2", seed=3), corrupt(x, noise, seed=3))


def test_psnr_and_scores_of_an_identity_model():
    assert psnr(0.01) == pytest.approx(20.0) and psnr(0) == math.inf

    class Identity:
        device = torch.device("cpu")

        def reconstruct(self, x):
            return x

    x = torch.rand(30, 1, 8, 8)
    s = denoising_scores(Identity(), x, "mask:0.3", batch_size=7)
    assert s["images"] == 30 and s["mse_output"] == pytest.approx(s["mse_corrupted"])
    assert s["psnr_corrupted"] == pytest.approx(10 * math.log10(1 / s["mse_corrupted"]))
