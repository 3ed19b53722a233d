"""Config schema of ``hydra/sweeper=optuna`` under the official plugin's names, and its registration.

The dataclasses and enums carry the names, fields and defaults of the official hydra-optuna-sweeper
(its Optuna >= 4 line for samplers; ``search_space``, ``DistributionType`` and ``DistributionConfig``
from its 1.2/1.3 line), so code and configs written for it import and compose unchanged. The keys
of :class:`OptunaSweeperConf` after ``custom_search_space`` are nnscratch extensions, all optional;
the ``pruner`` group is one of them (plain mappings: ``_target_`` plus constructor arguments).

Nothing here imports Optuna, so scanning Hydra plugins stays fast. (No ``from __future__ import
annotations``: Hydra executes plugin modules before registering them in ``sys.modules``, which string
annotations on dataclasses cannot cope with.)
"""
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Dict, List, NoReturn, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

MOTPE_REMOVED = ("The 'motpe' sampler was removed in Optuna 4.0. Use 'hydra/sweeper/sampler=tpe' instead. "
                 "TPESampler now handles multi-objective optimization.")


def raise_motpe_removed(*args: Any, **kwargs: Any) -> NoReturn:
    """``_target_`` of :class:`MOTPESamplerConfig`: Optuna 4 has no MOTPESampler."""
    raise ValueError(MOTPE_REMOVED)


class DistributionType(Enum):
    int = 1
    float = 2
    categorical = 3


class Direction(Enum):
    minimize = 1
    maximize = 2


@dataclass
class SamplerConfig:
    _target_: str = MISSING


@dataclass
class GridSamplerConfig(SamplerConfig):
    """https://optuna.readthedocs.io/en/stable/reference/generated/optuna.samplers.GridSampler.html"""

    _target_: str = "optuna.samplers.GridSampler"
    _partial_: bool = True  # search_space is filled in from hydra.sweeper.params at sweep time
    seed: Optional[int] = None  # an addition: GridSampler's own argument (it orders the grid)


@dataclass
class TPESamplerConfig(SamplerConfig):
    """https://optuna.readthedocs.io/en/stable/reference/generated/optuna.samplers.TPESampler.html"""

    _target_: str = "optuna.samplers.TPESampler"
    seed: Optional[int] = None
    consider_prior: Optional[bool] = None
    prior_weight: Optional[float] = None
    consider_magic_clip: Optional[bool] = None
    consider_endpoints: Optional[bool] = None
    n_startup_trials: int = 10
    n_ei_candidates: int = 24
    multivariate: bool = False
    warn_independent_sampling: Optional[bool] = None


@dataclass
class RandomSamplerConfig(SamplerConfig):
    """https://optuna.readthedocs.io/en/stable/reference/generated/optuna.samplers.RandomSampler.html"""

    _target_: str = "optuna.samplers.RandomSampler"
    seed: Optional[int] = None


@dataclass
class CmaEsSamplerConfig(SamplerConfig):
    """https://optuna.readthedocs.io/en/stable/reference/generated/optuna.samplers.CmaEsSampler.html"""

    _target_: str = "optuna.samplers.CmaEsSampler"
    seed: Optional[int] = None
    x0: Optional[Dict[str, Any]] = None
    sigma0: Optional[float] = None
    independent_sampler: Optional[Any] = None
    warn_independent_sampling: bool = True
    consider_pruned_trials: bool = False
    restart_strategy: Optional[Any] = None
    inc_popsize: int = 2
    use_separable_cma: bool = False
    source_trials: Optional[Any] = None


@dataclass
class NSGAIISamplerConfig(SamplerConfig):
    """https://optuna.readthedocs.io/en/stable/reference/generated/optuna.samplers.NSGAIISampler.html"""

    _target_: str = "optuna.samplers.NSGAIISampler"
    seed: Optional[int] = None
    population_size: int = 50
    mutation_prob: Optional[float] = None
    crossover_prob: float = 0.9
    swapping_prob: float = 0.5
    constraints_func: Optional[Any] = None


@dataclass
class MOTPESamplerConfig(SamplerConfig):
    """Removed in Optuna 4: selecting it stops the sweep before any trial (see :data:`MOTPE_REMOVED`)."""

    _target_: str = "hydra_plugins.hydra_optuna_sweeper.config.raise_motpe_removed"
    seed: Optional[int] = None  # an addition: a config that seeds its sampler still gets the message above


@dataclass
class GPSamplerConfig(SamplerConfig):
    """https://optuna.readthedocs.io/en/stable/reference/samplers/generated/optuna.samplers.GPSampler.html"""

    _target_: str = "optuna.samplers.GPSampler"
    seed: Optional[int] = None
    independent_sampler: Optional[Any] = None
    n_startup_trials: int = 10
    deterministic_objective: bool = False
    constraints_func: Optional[Any] = None
    warn_independent_sampling: bool = True


@dataclass
class QMCSamplerConfig(SamplerConfig):
    """https://optuna.readthedocs.io/en/stable/reference/samplers/generated/optuna.samplers.QMCSampler.html"""

    _target_: str = "optuna.samplers.QMCSampler"
    seed: Optional[int] = None
    qmc_type: str = "sobol"
    scramble: bool = False
    independent_sampler: Optional[Any] = None
    warn_asynchronous_seeding: bool = True
    warn_independent_sampling: bool = True


@dataclass
class DistributionConfig:
    """One entry of the deprecated ``hydra.sweeper.search_space`` mapping."""

    type: DistributionType                 # int, float or categorical
    choices: Optional[List[Any]] = None    # categorical
    low: Optional[float] = None            # int / float
    high: Optional[float] = None
    log: bool = False
    step: Optional[float] = None


SAMPLERS: Dict[str, Any] = {
    "tpe": TPESamplerConfig, "random": RandomSamplerConfig, "cmaes": CmaEsSamplerConfig,
    "nsgaii": NSGAIISamplerConfig, "motpe": MOTPESamplerConfig, "grid": GridSamplerConfig,
    "gp": GPSamplerConfig, "qmc": QMCSamplerConfig,
}

PRUNERS: Dict[str, Dict[str, Any]] = {
    "none": {"_target_": "optuna.pruners.NopPruner"},
    "median": {"_target_": "optuna.pruners.MedianPruner", "n_startup_trials": 5, "n_warmup_steps": 0,
               "interval_steps": 1, "n_min_trials": 1},
    "percentile": {"_target_": "optuna.pruners.PercentilePruner", "percentile": 25.0, "n_startup_trials": 5,
                   "n_warmup_steps": 0, "interval_steps": 1, "n_min_trials": 1},
    "successive_halving": {"_target_": "optuna.pruners.SuccessiveHalvingPruner", "min_resource": "auto",
                           "reduction_factor": 4, "min_early_stopping_rate": 0, "bootstrap_count": 0},
    "hyperband": {"_target_": "optuna.pruners.HyperbandPruner", "min_resource": 1, "max_resource": "auto",
                  "reduction_factor": 3, "bootstrap_count": 0},
}


@dataclass
class OptunaSweeperConf:
    _target_: str = "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    _recursive_: bool = False              # sampler / pruner arrive as configs; the sweeper builds them
    defaults: List[Any] = field(default_factory=lambda: [{"sampler": "tpe"}, {"pruner": "none"}])

    # --- the official plugin's keys -------------------------------------------------------------
    sampler: Any = MISSING                 # hydra/sweeper/sampler=tpe|random|grid|cmaes|nsgaii|qmc|gp
    direction: Any = Direction.minimize    # minimize | maximize | a list of them (multi-objective)
    storage: Optional[Any] = None          # RDB URL or journal file path; null = <sweep root>/optuna/<study>.journal
    study_name: Optional[str] = None       # null = derived from the job name and the sweep directory
    n_trials: int = 20                     # total trials of the study (a resumed study runs the missing ones)
    n_jobs: int = 2                        # trials running at once (needs a parallel launcher, e.g. joblib)
    max_failure_rate: float = 0.0          # abort once failures exceed this share of the trials to run
    search_space: Optional[Dict[str, Any]] = None  # deprecated (official 1.2): name -> DistributionConfig
    params: Optional[Dict[str, Any]] = None         # name: override syntax, e.g. lr: tag(log, interval(1e-4, 1e-1))
    custom_search_space: Optional[str] = None       # dotpath of fn(cfg, trial) suggesting more params

    # --- extensions -------------------------------------------------------------------------------
    pruner: Any = MISSING                  # hydra/sweeper/pruner=none|median|percentile|successive_halving|hyperband
    timeout: Optional[float] = None        # seconds after which no new trial starts
    load_if_exists: bool = True            # false: refuse to reuse an existing study of that name
    heartbeat_interval: int = 10           # seconds between heartbeats of a running trial
    grace_period: Optional[int] = None     # seconds without heartbeat before a trial is stale (null = 3x interval)
    max_retries: int = 2                   # re-runs of a trial whose worker died (killed, crashed)
    blas_threads: Optional[int] = None     # BLAS threads per job; null = max(1, cores // running jobs)


def register_configs(store: ConfigStore) -> None:
    """Register the sweeper node and its ``sampler`` / ``pruner`` options under ``hydra/sweeper``."""
    store.store(group="hydra/sweeper", name="optuna", node=OptunaSweeperConf, provider="nnscratch")
    for name, node in SAMPLERS.items():
        store.store(group="hydra/sweeper/sampler", name=name, node=node, provider="nnscratch")
    for name, node in PRUNERS.items():
        store.store(group="hydra/sweeper/pruner", name=name, node=node, provider="nnscratch")


register_configs(ConfigStore.instance())
