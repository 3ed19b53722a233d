"""The sweeper's options, validated, and the study they designate (name and storage).

The same functions run in the sweeper and in :func:`nnscratch.sweeper.context.sweep_context` (called
by the MLflow parent-run callback before the sweeper starts), so both agree on the study.
"""
from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from hydra_plugins.hydra_optuna_sweeper.config import MOTPE_REMOVED, PRUNERS
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from .errors import SweepConfigError
from .factories import check_requirements
from .space import sweep_search_space
from .storage import normalize_storage

DIRECTIONS = ("minimize", "maximize")
MOTPE_TARGETS = ("hydra_plugins.hydra_optuna_sweeper.config.raise_motpe_removed", "optuna.samplers.MOTPESampler")
SWEEPER_TARGETS = (
    "hydra_plugins.nnscratch_optuna_sweeper.optuna_sweeper.OptunaSweeper",
    "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper",
)


@dataclass(frozen=True)
class SweepSettings:
    """Validated ``hydra.sweeper`` options (see ``OptunaSweeperConf`` for their meaning)."""

    sampler: dict[str, Any]
    pruner: dict[str, Any] | None
    directions: list[str]
    storage: str | None = None
    study_name: str | None = None
    n_trials: int = 20
    n_jobs: int = 2
    max_failure_rate: float = 0.0
    search_space: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    custom_search_space: str | None = None
    timeout: float | None = None
    load_if_exists: bool = True
    heartbeat_interval: int = 10
    grace_period: int | None = None
    max_retries: int = 2
    blas_threads: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> SweepSettings:
        """Build from the keyword arguments Hydra passes to the sweeper (or the ``hydra.sweeper`` node).

        Raises
        ------
        SweepConfigError
            Naming the offending option and value (and the allowed ones), also for entries of
            ``params`` / ``search_space`` that are no valid search space.
        MissingDependencyError
            When the sampler needs a package that is not installed (with the pip command).
        """
        opts = {k: _plain(v) for k, v in options.items() if not (k.startswith("_") and k.endswith("_"))}
        opts.pop("defaults", None)
        known = set(cls.__dataclass_fields__) - {"extra", "directions"}
        settings = cls(
            sampler=dict(opts.pop("sampler", None) or {"_target_": "optuna.samplers.TPESampler"}),
            pruner=_pruner(opts.pop("pruner", None)),
            directions=normalize_directions(opts.pop("direction", "minimize")),
            **{k: opts.pop(k) for k in list(opts) if k in known},
            extra=opts,
        )
        settings.validate()
        check_requirements(settings.sampler)
        sweep_search_space(settings.params, settings.search_space, [])  # the config's part, before any trial
        return settings

    @classmethod
    def option_names(cls) -> list[str]:
        """The keys ``hydra.sweeper`` accepts (besides ``_target_``, ``defaults``)."""
        return sorted(set(cls.__dataclass_fields__) - {"extra", "directions"} | {"direction"})

    @property
    def grace_seconds(self) -> float:
        return float(self.grace_period if self.grace_period is not None else 3 * self.heartbeat_interval)

    def validate(self) -> None:
        checks = [
            (self.n_trials >= 0, "n_trials", self.n_trials, "a count >= 0"),
            (self.n_jobs >= 1, "n_jobs", self.n_jobs, "a count >= 1"),
            (0.0 <= self.max_failure_rate <= 1.0, "max_failure_rate", self.max_failure_rate, "in [0, 1]"),
            (self.timeout is None or self.timeout > 0, "timeout", self.timeout, "null or seconds > 0"),
            (self.heartbeat_interval > 0, "heartbeat_interval", self.heartbeat_interval, "seconds > 0"),
            (self.grace_period is None or self.grace_period > 0, "grace_period", self.grace_period, "null or > 0"),
            (self.max_retries >= 0, "max_retries", self.max_retries, "a count >= 0"),
            (self.blas_threads is None or self.blas_threads >= 1, "blas_threads", self.blas_threads, "null or >= 1"),
            ("_target_" in self.sampler, "sampler", self.sampler, "a mapping with _target_"),
        ]
        for ok, name, value, expected in checks:
            if not ok:
                raise SweepConfigError(f"hydra.sweeper.{name} must be {expected}, got {value!r}")
        if self.extra:
            raise SweepConfigError(f"unknown hydra.sweeper option(s): {', '.join(sorted(self.extra))}; "
                                   f"allowed: {', '.join(self.option_names())}")
        if self.sampler["_target_"] in MOTPE_TARGETS:
            raise SweepConfigError(MOTPE_REMOVED)


@dataclass(frozen=True)
class StudyTarget:
    """The study a sweep works on: its name and normalized storage string."""

    study_name: str
    storage: str


def normalize_directions(direction: Any) -> list[str]:
    """``"maximize"``, ``Direction.maximize`` or a list of them -> ``["maximize", ...]``.

    Raises
    ------
    ValueError
        For anything but minimize/maximize.
    """
    items = list(direction) if isinstance(direction, (list, tuple)) else [direction]
    names = [item.name if isinstance(item, Enum) else str(item).split(".")[-1].lower() for item in items]
    bad = [n for n in names if n not in DIRECTIONS]
    if not names or bad:
        raise SweepConfigError("hydra.sweeper.direction must be minimize, maximize or a list of them, "
                               f"got {direction!r}")
    return names


def is_nnscratch_sweeper(node: Any) -> bool:
    """Whether a ``hydra.sweeper`` node selects this sweeper (by either class name)."""
    return isinstance(node, (DictConfig, Mapping)) and node.get("_target_") in SWEEPER_TARGETS


def resolve_target(settings: SweepSettings, config: DictConfig) -> StudyTarget:
    """Study name and storage for ``settings`` in the multirun ``config``.

    Defaults: the study is named ``<job name>`` plus the time-stamped part of ``hydra.sweep.dir``
    (so a fixed sweep dir, or an explicit ``study_name``, makes reruns resume the same study); the
    storage is the journal file ``<sweep root>/optuna/<study>.journal``, where the sweep root is
    ``hydra.sweep.dir`` cut before its first ``${now:...}`` component (``multirun/`` by default).
    """
    root, stamp = sweep_root(config)
    job_name = str(OmegaConf.select(config, "hydra.job.name", default="sweep"))
    name = settings.study_name or (f"{job_name}_{stamp}" if stamp else job_name)
    cwd = Path(str(OmegaConf.select(config, "hydra.runtime.cwd", default=".")))
    storage = settings.storage or str(root / "optuna" / f"{safe_filename(name)}.journal")
    return StudyTarget(study_name=name, storage=normalize_storage(str(storage), base_dir=cwd))


def sweep_root(config: DictConfig) -> tuple[Path, str]:
    """``hydra.sweep.dir`` split into its stable root and the time-stamped rest (``""`` if none)."""
    raw = str(OmegaConf.to_container(config.hydra.sweep, resolve=False)["dir"])
    resolved = str(config.hydra.sweep.dir)
    parts = raw.split("/")
    stamped = [i for i, part in enumerate(parts) if "${now:" in part]
    if not stamped:
        return Path(resolved), ""
    prefix = "/".join(parts[: stamped[0]])
    root = _resolve_in(config, prefix) if prefix else ""
    rest = resolved[len(root):].strip("/") if resolved.startswith(root) else resolved
    return Path(root or "."), safe_filename(rest.replace("/", "_"))


def safe_filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "-", name).strip("-") or "study"


def _resolve_in(config: DictConfig, text: str) -> str:
    """Resolve ``text`` (which may hold interpolations) as if it were ``hydra.sweep.dir``."""
    sweep = copy.deepcopy(config).hydra.sweep
    # the node's own flags: Hydra 1.4 marks the hydra node read-only itself, which a flag on the root does not undo
    with read_write(sweep), open_dict(sweep):
        sweep.dir = text
        return str(sweep.dir)


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def _pruner(spec: Any) -> dict[str, Any] | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        if spec not in PRUNERS:
            raise SweepConfigError(f"hydra.sweeper.pruner must be one of {sorted(PRUNERS)} or a mapping, "
                                   f"got {spec!r}")
        return dict(PRUNERS[spec])
    if not isinstance(spec, Mapping) or "_target_" not in spec:
        raise SweepConfigError(f"hydra.sweeper.pruner must be a mapping with _target_, got {spec!r}")
    return dict(spec)
