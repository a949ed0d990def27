import dataclasses

import pytest

from latentlab.config import TrainConfig, from_dict, split_settings, train_defaults
from latentlab.errors import ConfigError
from latentlab.models.vae import VAEConfig


def test_unknown_key_is_an_error_listing_valid_keys():
    with pytest.raises(ConfigError, match="unknown setting.*epoch.*valid:.*epochs"):
        from_dict(TrainConfig, {"epoch": 3})


def test_types_are_checked_and_ints_widen_to_floats():
    assert from_dict(TrainConfig, {"lr": 1}).lr == 1.0
    with pytest.raises(ConfigError, match="epochs must be a int"):
        from_dict(TrainConfig, {"epochs": "3"})
    with pytest.raises(ConfigError, match="amp must be a bool"):
        from_dict(TrainConfig, {"amp": 1})


def test_choices_and_ranges_are_validated():
    with pytest.raises(ConfigError, match="optimizer must be one of adam, rmsprop, sgd"):
        from_dict(TrainConfig, {"optimizer": "adagrad"})
    with pytest.raises(ConfigError, match="epochs must be at least 1"):
        from_dict(TrainConfig, {"epochs": 0})
    with pytest.raises(ConfigError, match="needs a validation split"):
        from_dict(TrainConfig, {"patience": 2, "val_fraction": 0.0})
    with pytest.raises(ConfigError, match="beta must be >= 0"):
        from_dict(VAEConfig, {"beta": -1.0})


def test_split_settings_routes_keys_and_rejects_unknown():
    train, model = split_settings(VAEConfig, {"epochs": 2, "beta": 4.0})
    assert train == {"epochs": 2} and model == {"beta": 4.0}
    with pytest.raises(ConfigError, match="unknown setting.*latent_size"):
        split_settings(VAEConfig, {"latent_size": 2})


def test_adam_betas_are_settings_in_the_unit_interval():
    cfg = from_dict(TrainConfig, {})
    assert (cfg.beta1, cfg.beta2) == (0.9, 0.999)
    assert from_dict(TrainConfig, {"beta1": 0, "beta2": 0.9}).beta1 == 0.0  # an int widens to float
    for name, value in (("beta1", 1.0), ("beta2", -0.1)):
        with pytest.raises(ConfigError, match=rf"{name} \(Adam\) must be in \[0, 1\), got {value}"):
            from_dict(TrainConfig, {name: value})


def test_train_defaults_are_trainconfig_defaults_with_the_models_overrides():
    from latentlab.models import get_model_class
    plain = train_defaults(get_model_class("ae"))  # a model without overrides
    assert plain == {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    assert train_defaults(get_model_class("vae")) == {**plain, "epochs": 50}
    gan = train_defaults(get_model_class("gan"))
    assert (gan["lr"], gan["beta1"], gan["beta2"]) == (2e-4, 0.5, 0.999)  # DCGAN's
    assert {k: v for k, v in gan.items() if k not in ("lr", "beta1", "beta2")} == \
        {k: v for k, v in plain.items() if k not in ("lr", "beta1", "beta2")}
    wgan = train_defaults(get_model_class("wgan-gp"))
    assert (wgan["lr"], wgan["beta1"], wgan["beta2"]) == (1e-4, 0.0, 0.9)  # Gulrajani et al., Algorithm 1


def test_train_defaults_naming_no_trainconfig_field_is_an_error():
    class Typo:
        train_defaults = {"learning_rate": 1e-3}

    with pytest.raises(ConfigError, match="Typo.train_defaults names learning_rate"):
        train_defaults(Typo)


def test_checkpoint_every_is_minutes_and_zero_turns_it_off():
    assert from_dict(TrainConfig, {}).checkpoint_every == 10.0
    assert from_dict(TrainConfig, {"checkpoint_every": 0}).checkpoint_every == 0.0  # only at epoch end
    for value in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ConfigError, match="checkpoint_every must be minutes >= 0"):
            from_dict(TrainConfig, {"checkpoint_every": value})
