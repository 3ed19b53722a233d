"""Hydra config support for ``train.py``: typed schemas and semantic validation (imports hydra/omegaconf)."""

from nnscratch.config.schema import TrainConfig, register_configs
from nnscratch.config.validation import ConfigError, sync_shorthands, validate_against_data, validate_config

__all__ = [
    "ConfigError",
    "TrainConfig",
    "register_configs",
    "sync_shorthands",
    "validate_against_data",
    "validate_config",
]
