"""Typed schemas for the Hydra configs in ``conf/`` (registered in Hydra's ConfigStore).

The YAML files in ``conf/`` hold the values; these dataclasses hold the *types*, so Hydra rejects
``lr=abc`` or ``model.activation=relux`` with its own clear message before any code runs. Each group
node mirrors the constructor it targets (``_target_`` plus that callable's keyword arguments).
Semantic checks (ranges, layer sizes) live in :mod:`nnscratch.config.validation`.

Optimizer and schedule options take different arguments, so each option has its own schema, stored
as ``optimizer/schema/<name>`` (resp. ``schedule/schema/<name>``) and pulled in by the option's YAML
file through its defaults list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


class Activation(Enum):
    relu = "relu"
    leaky_relu = "leaky_relu"
    tanh = "tanh"
    sigmoid = "sigmoid"


class Init(Enum):
    he = "he"
    xavier = "xavier"
    small = "small"


class Dtype(Enum):
    float32 = "float32"
    float64 = "float64"


class DatasetName(Enum):
    mnist = "mnist"
    fashion_mnist = "fashion_mnist"
    binary_mnist = "binary_mnist"


class Progress(Enum):
    """How a run reports epochs: ``auto`` = tqdm bar for single runs, one log line per epoch in multiruns."""

    auto = "auto"
    bar = "bar"
    lines = "lines"
    none = "none"


@dataclass
class MLPConfig:
    """Arguments of :class:`nnscratch.MLP`."""

    _target_: str = "nnscratch.MLP"
    input_size: int = MISSING
    hidden_sizes: list[int] = MISSING
    output_size: int = MISSING
    activation: Activation = Activation.relu
    init: Init = Init.he
    keep_prob: float = 1.0
    dtype: Dtype = Dtype.float32


@dataclass
class SGDConfig:
    _target_: str = "nnscratch.optimizers.SGD"
    lr: float = MISSING


@dataclass
class MomentumConfig:
    _target_: str = "nnscratch.optimizers.Momentum"
    lr: float = MISSING
    momentum: float = 0.9
    nesterov: bool = False


@dataclass
class RMSpropConfig:
    _target_: str = "nnscratch.optimizers.RMSprop"
    lr: float = MISSING
    rho: float = 0.9
    eps: float = 1e-8


@dataclass
class AdamConfig:
    _target_: str = "nnscratch.optimizers.Adam"
    lr: float = MISSING
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8


@dataclass
class ConstantConfig:
    _target_: str = "nnscratch.schedules.Constant"


@dataclass
class InverseTimeConfig:
    _target_: str = "nnscratch.schedules.InverseTime"
    decay_rate: float = MISSING


@dataclass
class StepDecayConfig:
    _target_: str = "nnscratch.schedules.StepDecay"
    step_size: int = MISSING
    gamma: float = MISSING


@dataclass
class CosineConfig:
    _target_: str = "nnscratch.schedules.Cosine"
    total_epochs: int = MISSING
    min_lr: float = 0.0


@dataclass
class DataConfig:
    """Arguments of :func:`nnscratch.data.load_dataset`, plus how train.py subsets and splits the result.

    ``val_fraction``, ``train_size`` and ``test_size`` are not loader arguments: train.py takes a
    random ``train_size`` subset of the training images (all if null), holds out ``val_fraction`` of
    it for validation, and evaluates on a random ``test_size`` subset of the test images (all if null).
    """

    _target_: str = "nnscratch.data.load_dataset"
    name: DatasetName = MISSING
    data_dir: Optional[str] = None
    cache_dir: Optional[str] = None
    digits: Optional[list[int]] = None
    dtype: Dtype = Dtype.float32
    sources: Optional[list[str]] = None
    val_fraction: float = 0.1
    train_size: Optional[int] = None
    test_size: Optional[int] = None


@dataclass
class FitConfig:
    """Keyword arguments of :func:`nnscratch.fit` that come from the config."""

    epochs: int = MISSING
    batch_size: Optional[int] = MISSING
    l2: float = MISSING
    # an epoch loss this many times above chance level (ln C) or the first epoch's is divergence; null: off
    max_loss_ratio: Optional[float] = 10.0


@dataclass
class TrackingConfig:
    """Where and what a run logs to MLflow."""

    enabled: bool = True
    tracking_uri: Optional[str] = None
    experiment_name: str = "nnscratch"
    run_name: Optional[str] = None
    log_model: bool = True
    log_checkpoint: bool = True
    log_figures: bool = True
    max_misclassified: int = 25
    animation_every: int = 0
    sweep_artifacts: str = "light"


@dataclass
class TrainConfig:
    """The whole composed config of ``train.py`` (``hydra`` aside)."""

    model: MLPConfig = field(default_factory=MLPConfig)
    optimizer: Any = MISSING
    schedule: Any = MISSING
    data: DataConfig = field(default_factory=DataConfig)
    fit: FitConfig = field(default_factory=FitConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    # Command-line shorthands; group nodes interpolate them (optimizer.lr: ${lr}, ...).
    lr: float = MISSING
    batch_size: Optional[int] = 32
    epochs: int = 10
    keep_prob: float = 1.0
    l2: float = 0.0
    seed: int = 42
    hidden_sizes: list[int] = MISSING
    dtype: Dtype = Dtype.float32
    optimized_metric: str = "val/acc"
    # further objectives main() returns after optimized_metric, for multi-objective sweeps
    # (e.g. [n_parameters] with hydra.sweeper.direction=[maximize, minimize])
    extra_objectives: list[str] = field(default_factory=list)
    progress: Progress = Progress.auto
    task_name: str = "train"


OPTIMIZER_SCHEMAS: dict[str, type] = {
    "sgd": SGDConfig,
    "momentum": MomentumConfig,
    "rmsprop": RMSpropConfig,
    "adam": AdamConfig,
}
SCHEDULE_SCHEMAS: dict[str, type] = {
    "constant": ConstantConfig,
    "inverse_time": InverseTimeConfig,
    "step": StepDecayConfig,
    "cosine": CosineConfig,
}


def register_configs(store: ConfigStore | None = None) -> None:
    """Store the schemas in Hydra's ConfigStore (idempotent; call before composing ``conf/``)."""
    store = store if store is not None else ConfigStore.instance()
    store.store(name="train_schema", node=TrainConfig)
    for name, schema in OPTIMIZER_SCHEMAS.items():
        store.store(group="optimizer/schema", name=name, node=schema)
    for name, schema in SCHEDULE_SCHEMAS.items():
        store.store(group="schedule/schema", name=name, node=schema)
