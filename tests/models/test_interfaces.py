"""Every image model says what it can do by the interfaces it inherits (models/base.py), draws
only from the generator it is given, and hands out tensors without autograd."""
import pytest
import torch

from latentlab.config import TrainConfig, train_defaults
from latentlab.errors import LatentlabError
from latentlab.models import MODELS
from latentlab.models.ae import AE
from latentlab.models.base import (ConditionalEncoder, ConditionalSampler, Encoder, ExactLikelihood, ImportanceSampled,
                                   LatentGenerator, LikelihoodModel, Sampler, SemiSupervised)

SHAPE = (1, 8, 8)
SMALL = {"latent_dim": 4, "hidden": 16, "channels": 4}
CAPABILITIES = {  # model -> the interfaces it implements
    "ae": {Sampler, Encoder},
    "vae": {Sampler, Encoder, LikelihoodModel},
    "cvae": {Sampler, ConditionalSampler, Encoder, ConditionalEncoder, LikelihoodModel},
    "gan": {Sampler, LatentGenerator},
    "dcgan": {Sampler, LatentGenerator},
    "cgan": {Sampler, ConditionalSampler, LatentGenerator},
    "acgan": {Sampler, ConditionalSampler, LatentGenerator},
    "infogan": {Sampler, LatentGenerator},
    "wgan-gp": {Sampler, LatentGenerator},
    "pixelcnn": {Sampler, ExactLikelihood},
    "ddpm": {Sampler},
    "aae": {Sampler, Encoder},
    "bigan": {Sampler, LatentGenerator, Encoder},
    "gaussian": {Sampler, ExactLikelihood},
    "kde": {Sampler, ExactLikelihood},
    "vade": {Sampler, Encoder, ImportanceSampled},
    "vae2": {Sampler, Encoder, ImportanceSampled},
    "sgan": {Sampler, LatentGenerator, SemiSupervised},
}
INTERFACES = (Sampler, ConditionalSampler, Encoder, ConditionalEncoder, LikelihoodModel, LatentGenerator,
              ExactLikelihood, ImportanceSampled, SemiSupervised)


def build(name):
    cls = MODELS[name]
    fields = cls.Config.__dataclass_fields__
    cfg = cls.Config(**{k: v for k, v in SMALL.items() if k in fields})
    cfg.validate()
    torch.manual_seed(0)
    return cls(cfg, SHAPE, num_classes=10).eval()


def test_every_model_is_listed():
    assert set(CAPABILITIES) == set(MODELS)


@pytest.mark.parametrize("name", list(MODELS))
def test_interfaces_and_no_flags(name):
    cls = MODELS[name]
    assert {i for i in INTERFACES if issubclass(cls, i)} == CAPABILITIES[name]
    for gone in ("can_sample", "can_encode", "conditional", "default_lr", "adam_betas", "epoch_end"):
        assert not hasattr(cls, gone), gone
    assert set(train_defaults(cls)) == set(TrainConfig.__dataclass_fields__)


@pytest.mark.parametrize("name", list(MODELS))
def test_samples_come_from_the_generator_without_autograd(name):
    model = build(name)
    y = 3 if isinstance(model, ConditionalSampler) else None
    a = model.sample(5, y, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(123)  # the global RNG plays no part
    b = model.sample(5, y, generator=torch.Generator().manual_seed(1))
    assert a.shape == (5, *SHAPE) and torch.equal(a, b)
    assert not torch.equal(a, model.sample(5, y, generator=torch.Generator().manual_seed(2)))
    assert not a.requires_grad and a.grad_fn is None
    if isinstance(model, LatentGenerator):
        codes = model.noise(5, None, torch.Generator().manual_seed(1))
        torch.testing.assert_close(codes, model.noise(5, None, torch.Generator().manual_seed(1)))
        assert not model.generate(codes).requires_grad and "fixed_input" in model.state_dict()


@pytest.mark.parametrize("name", [n for n, caps in CAPABILITIES.items() if Encoder in caps])
def test_codes_and_reconstructions_without_autograd(name):
    model = build(name)
    x = torch.rand(3, *SHAPE)
    y = torch.tensor([0, 4, 9]) if isinstance(model, ConditionalEncoder) else None
    codes = model.latent(x, y)
    assert codes.shape[0] == 3 and not codes.requires_grad
    assert model.reconstruct(x, y).shape == x.shape and not model.reconstruct(x, y).requires_grad
    assert not model.decode(codes, y).requires_grad
    if isinstance(model, LikelihoodModel):
        mu, logvar = model.posterior(x, y)
        torch.testing.assert_close(codes, mu)
        assert model.log_px_given_z(x, mu.unsqueeze(0), y).shape == (1, 3)


@pytest.mark.parametrize("name", list(MODELS))
def test_labels_only_for_conditional_models(name):
    model = build(name)
    if isinstance(model, ConditionalSampler):
        with pytest.raises(LatentlabError, match="give a label"):
            model.sample(2)
    else:
        with pytest.raises(LatentlabError, match="not conditional"):
            model.sample(2, 1)
        if isinstance(model, Encoder):
            with pytest.raises(LatentlabError, match="not conditional"):
                model.latent(torch.rand(2, *SHAPE), torch.tensor([1, 2]))


def test_only_the_ae_has_priors():
    assert AE.PRIORS == ("fitted", "standard", "uniform")
    assert [n for n in MODELS if hasattr(MODELS[n], "PRIORS")] == ["ae"]
