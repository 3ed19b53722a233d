"""A config as MLflow params: each setting once, under the name people type on the command line.

``lr``, ``batch_size``, ``epochs``, ``hidden_sizes``, ``keep_prob``, ``l2``, ``seed``, ``dtype`` are the
shorthands; ``optimizer``, ``model``, ``schedule`` name the chosen group option and ``data`` the data set;
a group's own knobs keep their dotted name (``optimizer.beta1``, ``schedule.gamma``, ``data.train_size``).
Interpolated copies (``optimizer.lr: ${lr}``, ``fit.*``), ``_target_``, ``tracking.*`` and console options
are left out: the full resolved config is the run's ``config/config.yaml`` artifact.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from typing import TYPE_CHECKING

from omegaconf import DictConfig, OmegaConf

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

#: Resolved-config keys that may hold secrets; their values are redacted before logging.
SECRET_KEYS = ("tracking.tracking_uri",)
#: Config groups logged as their option name plus their own knobs.
GROUPS = ("model", "optimizer", "schedule", "data")
#: Top-level keys that are not settings of the experiment (how it is tracked and shown).
NOT_SETTINGS = ("hydra", "tracking", "progress", "task_name", "optimized_metric", "extra_objectives")
#: Where files live, not what was trained: in the config artifact only.
LOCATIONS = ("data.data_dir", "data.cache_dir", "data.sources")


def resolved_container(cfg: DictConfig) -> dict[str, Any]:
    """The config as plain, resolved Python data (enums as their names), ``hydra`` node excluded."""
    from nnscratch.tracking.store import redact_uri  # the store module imports mlflow

    container = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    assert isinstance(container, dict)
    container.pop("hydra", None)
    for key in SECRET_KEYS:
        parent, _, leaf = key.rpartition(".")
        node = container.get(parent, {})
        if isinstance(node, dict) and isinstance(node.get(leaf), str):
            node[leaf] = redact_uri(node[leaf])
    return container


def flatten(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Dotted keys and leaf values of nested mappings (lists are leaves)."""
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from flatten(value, f"{name}.")
        else:
            yield name, value


def _as_param_value(value: Any, max_length: int) -> str:
    text = "null" if value is None else str(value)
    return text[:max_length]


def _hydra_choices() -> dict[str, str]:
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return {}
    return {str(k): str(v) for k, v in HydraConfig.get().runtime.choices.items() if v is not None}


def _snake(class_path: str) -> str:
    """``nnscratch.schedules.StepDecay`` -> ``step_decay`` (the option name when Hydra is not running)."""
    name = class_path.rpartition(".")[2]
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _group_name(group: str, plain: Mapping[str, Any], choices: Mapping[str, str]) -> str:
    if group == "data" and "name" in plain:
        return str(plain["name"])
    return choices.get(group) or _snake(str(plain.get("_target_", group)))


def _settings(node: DictConfig, plain: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Dotted keys and resolved values (from ``plain``) of ``node``'s settings: no interpolated copies,
    no ``_target_``, no file locations, nothing of :data:`NOT_SETTINGS`."""
    for key in node:
        name = f"{prefix}{key}"
        if (key == "_target_" or name in LOCATIONS or name in NOT_SETTINGS
                or OmegaConf.is_interpolation(node, key)):
            continue
        child = node._get_node(key)
        if isinstance(child, DictConfig) and len(child):
            yield from _settings(child, plain[key], f"{name}.")
        else:
            yield name, plain[key]


def config_settings(cfg: DictConfig) -> dict[str, Any]:
    """The settings of ``cfg`` by the names :func:`config_params` logs them under, as Python values
    (run names and titles use them; this imports no mlflow)."""
    choices = _hydra_choices()
    plain = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    assert isinstance(plain, dict)
    settings: dict[str, Any] = {"experiment": choices["experiment"]} if "experiment" in choices else {}
    settings.update((group, _group_name(group, plain[group], choices)) for group in GROUPS
                    if isinstance(plain.get(group), dict))
    settings.update((key, value) for key, value in _settings(cfg, plain) if key != "data.name")
    return settings


def config_params(cfg: DictConfig) -> dict[str, str]:
    """The settings of ``cfg`` as MLflow param strings, each once (see the module docstring)."""
    from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH

    return {key: _as_param_value(value, MAX_PARAM_VAL_LENGTH) for key, value in config_settings(cfg).items()}


def log_params(client: MlflowClient, run_id: str, params: Mapping[str, str]) -> None:
    """Log ``params`` in as few ``log_batch`` calls as MLflow allows."""
    from mlflow.entities import Param
    from mlflow.utils.validation import MAX_PARAMS_TAGS_PER_BATCH

    items = [Param(key, value) for key, value in params.items()]
    for start in range(0, len(items), MAX_PARAMS_TAGS_PER_BATCH):
        client.log_batch(run_id, params=items[start:start + MAX_PARAMS_TAGS_PER_BATCH])
