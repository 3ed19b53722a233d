"""Semantic checks of a composed config, run before any data is trained on or any MLflow run starts.

Hydra and the schemas in :mod:`nnscratch.config.schema` already reject wrong *types*; this module
rejects values of the right type that cannot work (``lr=-1``, ``keep_prob=0``, a 10-way output on a
binary data set) with one message naming every offending key and its allowed range.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

#: Group keys that are set through a top-level shorthand (``optimizer.lr: ${lr}``).
SHORTHAND_LINKS: dict[str, str] = {
    "optimizer.lr": "lr",
    "model.hidden_sizes": "hidden_sizes",
    "model.keep_prob": "keep_prob",
    "model.dtype": "dtype",
    "data.dtype": "dtype",
    "fit.epochs": "epochs",
    "fit.batch_size": "batch_size",
    "fit.l2": "l2",
}

METRIC_SPLITS = ("train", "val", "test")
METRIC_NAMES = ("loss", "acc")


class ConfigError(ValueError):
    """A config value is outside its allowed range; the message names every offending key."""


def sync_shorthands(cfg: DictConfig) -> DictConfig:
    """Make the top-level shorthand the single source of truth again after a group-key override.

    ``optimizer.lr=0.01`` replaces the interpolation ``${lr}`` by a value; this copies that value
    to ``lr`` and restores the interpolation, so params, tags and every group see one ``lr``.
    Works in place on the (unresolved) config and returns it.
    """
    for path, shorthand in SHORTHAND_LINKS.items():
        parent_path, _, key = path.rpartition(".")
        parent = OmegaConf.select(cfg, parent_path)
        if parent is None or key not in parent or OmegaConf.is_interpolation(parent, key):
            continue
        value = parent[key]
        if OmegaConf.select(cfg, shorthand) != value:
            log.info("%s=%s was set directly; using it for the shorthand %s too", path, value, shorthand)
            cfg[shorthand] = value
        parent[key] = "${" + shorthand + "}"
    return cfg


def _check(problems: list[str], key: str, value: Any, ok: Callable[[Any], bool], allowed: str) -> None:
    if value is None or isinstance(value, bool) or not ok(value):
        problems.append(f"{key}={value!r} is invalid: must be {allowed}")


def _positive(x: float) -> bool:
    return math.isfinite(x) and x > 0


def _unit_open(x: float) -> bool:
    return 0 <= x < 1


def _optional_count(problems: list[str], key: str, value: int | None, minimum: int = 1) -> None:
    if value is not None:
        _check(problems, key, value, lambda v: v >= minimum, f"null or an integer >= {minimum}")


def _check_training(cfg: DictConfig, problems: list[str]) -> None:
    _check(problems, "lr", cfg.optimizer.lr, _positive, "> 0")
    _check(problems, "keep_prob", cfg.model.keep_prob, lambda v: 0 < v <= 1, "in (0, 1]")
    _check(problems, "l2", cfg.fit.l2, lambda v: math.isfinite(v) and v >= 0, ">= 0")
    _check(problems, "epochs", cfg.fit.epochs, lambda v: v >= 1, "an integer >= 1")
    _optional_count(problems, "batch_size", cfg.fit.batch_size)
    ratio = cfg.fit.get("max_loss_ratio")
    if ratio is not None:
        _check(problems, "fit.max_loss_ratio", ratio, lambda v: v > 1, "null (off) or a number > 1")
    _check(problems, "seed", cfg.seed, lambda v: v >= 0, "an integer >= 0 (numpy seeds are non-negative)")
    metric = cfg.optimized_metric
    split, _, name = metric.partition("/")
    if split not in METRIC_SPLITS or name not in METRIC_NAMES:
        problems.append(f"optimized_metric={metric!r} is invalid: must be one of "
                        f"{[f'{s}/{n}' for s in METRIC_SPLITS for n in METRIC_NAMES]}")
    allowed = [*(f"{s}/{n}" for s in METRIC_SPLITS for n in METRIC_NAMES), "n_parameters"]
    for extra in cfg.get("extra_objectives") or []:
        if extra not in allowed:
            problems.append(f"extra_objectives entry {extra!r} is invalid: must be one of {allowed}")


def _check_model(cfg: DictConfig, problems: list[str]) -> None:
    model = cfg.model
    _check(problems, "model.input_size", model.input_size, lambda v: v >= 1, "an integer >= 1")
    _check(problems, "model.output_size", model.output_size, lambda v: v >= 1, "an integer >= 1")
    sizes = list(model.hidden_sizes)
    if not all(isinstance(s, int) and s >= 1 for s in sizes):
        problems.append(f"hidden_sizes={sizes} is invalid: every layer size must be an integer >= 1")


def _check_optimizer(cfg: DictConfig, problems: list[str]) -> None:
    opt = cfg.optimizer
    for key in ("momentum", "rho", "beta1", "beta2"):
        if key in opt:
            _check(problems, f"optimizer.{key}", opt[key], _unit_open, "in [0, 1)")
    if "eps" in opt:
        _check(problems, "optimizer.eps", opt.eps, _positive, "> 0")


def _check_schedule(cfg: DictConfig, problems: list[str]) -> None:
    sched = cfg.schedule
    if "decay_rate" in sched:
        _check(problems, "schedule.decay_rate", sched.decay_rate, lambda v: v >= 0, ">= 0")
    if "step_size" in sched:
        _check(problems, "schedule.step_size", sched.step_size, lambda v: v >= 1, "an integer >= 1")
    if "gamma" in sched:
        _check(problems, "schedule.gamma", sched.gamma, lambda v: 0 < v <= 1, "in (0, 1]")
    if "total_epochs" in sched:
        _check(problems, "schedule.total_epochs", sched.total_epochs, lambda v: v >= 1, "an integer >= 1")
    if "min_lr" in sched:
        _check(problems, "schedule.min_lr", sched.min_lr, lambda v: v >= 0, ">= 0")


def _check_data(cfg: DictConfig, problems: list[str]) -> None:
    data = cfg.data
    needs_val = cfg.optimized_metric.startswith("val/")
    if needs_val:
        _check(problems, "data.val_fraction", data.val_fraction, lambda v: 0 < v < 1,
               f"in (0, 1) because optimized_metric={cfg.optimized_metric} needs a validation split")
    else:
        _check(problems, "data.val_fraction", data.val_fraction, _unit_open, "in [0, 1)")
    _optional_count(problems, "data.train_size", data.train_size, minimum=2)
    _optional_count(problems, "data.test_size", data.test_size)
    _check(problems, "tracking.max_misclassified", cfg.tracking.max_misclassified,
           lambda v: v >= 0, "an integer >= 0")
    _check(problems, "tracking.sweep_artifacts", cfg.tracking.sweep_artifacts,
           lambda v: v in ("light", "full"), "light or full")


def validate_config(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` naming every key whose value is outside its allowed range.

    Parameters
    ----------
    cfg : DictConfig
        A composed ``train.py`` config (interpolations are resolved while checking).
    """
    problems: list[str] = []
    for check in (_check_training, _check_model, _check_optimizer, _check_schedule, _check_data):
        check(cfg, problems)
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))


def validate_against_data(cfg: DictConfig, dataset: Any) -> None:
    """Check that the model's first and last layer sizes and the requested subset sizes fit the loaded data.

    A model with ``output_size == 1`` (sigmoid output) fits a two-class data set; otherwise
    ``output_size`` must equal the number of classes. ``data.train_size`` / ``data.test_size`` may not
    exceed what the data set holds (they would silently mean "all").

    Parameters
    ----------
    dataset : nnscratch.data.Dataset
        Its ``name``, ``n_features``, ``n_classes`` and split lengths are checked against.
    """
    problems: list[str] = []
    model, name, n_classes = cfg.model, dataset.name, dataset.n_classes
    if model.input_size != dataset.n_features:
        problems.append(f"model.input_size={model.input_size} is invalid: the first layer size must equal "
                        f"the {dataset.n_features} input features of {name}")
    out = model.output_size
    if not (out == n_classes or (out == 1 and n_classes == 2)):
        allowed = f"{n_classes}" + (" (or 1 for a sigmoid output)" if n_classes == 2 else "")
        problems.append(f"model.output_size={out} is invalid: the last layer size must be {allowed} for the "
                        f"{n_classes} classes of {name}")
    for split, labels in (("train", dataset.y_train), ("test", dataset.y_test)):
        size = cfg.data.get(f"{split}_size")
        if size is not None and size > len(labels):
            problems.append(f"data.{split}_size={size} is invalid: {name} has {len(labels)} {split} examples; "
                            f"use at most {len(labels)}, or null for all")
    if problems:
        raise ConfigError("config does not fit the data:\n  " + "\n  ".join(problems))
