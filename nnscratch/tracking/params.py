"""A resolved config as flat MLflow params (``optimizer.lr`` -> ``0.01``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mlflow.entities import Param
from mlflow.tracking import MlflowClient
from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH, MAX_PARAMS_TAGS_PER_BATCH
from omegaconf import DictConfig, OmegaConf

from nnscratch.tracking.store import redact_uri

#: Resolved-config keys that may hold secrets; their values are redacted before logging.
SECRET_KEYS = ("tracking.tracking_uri",)


def resolved_container(cfg: DictConfig) -> dict[str, Any]:
    """The config as plain, resolved Python data (enums as their names), ``hydra`` node excluded."""
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


def _as_param_value(value: Any) -> str:
    text = "null" if value is None else str(value)
    return text[:MAX_PARAM_VAL_LENGTH]


def config_params(cfg: DictConfig) -> dict[str, str]:
    """Flattened resolved config as MLflow param strings (``hidden_sizes`` -> ``[128, 64]``)."""
    return {key: _as_param_value(value) for key, value in flatten(resolved_container(cfg))}


def log_params(client: MlflowClient, run_id: str, params: Mapping[str, str]) -> None:
    """Log ``params`` in as few ``log_batch`` calls as MLflow allows."""
    items = [Param(key, value) for key, value in params.items()]
    for start in range(0, len(items), MAX_PARAMS_TAGS_PER_BATCH):
        client.log_batch(run_id, params=items[start:start + MAX_PARAMS_TAGS_PER_BATCH])
