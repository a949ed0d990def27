import pytest

from latentlab.config import TrainConfig, from_dict, split_settings
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
