"""Config schema of ``hydra/sweeper=optuna`` and its ``sampler`` and ``pruner`` groups.

The keys of :class:`OptunaSweeperConf` up to ``custom_search_space`` are those of the official
hydra-optuna-sweeper plugin, with the same meaning, so configs written for it run unchanged. The keys
after it are extensions; all are optional. Sampler and pruner options are plain mappings (not
structured configs): any constructor argument of the Optuna class can be set, and Optuna validates
it. Nothing here imports Optuna, so scanning Hydra plugins stays fast. (No ``from __future__ import
annotations``: Hydra executes plugin modules before registering them in ``sys.modules``, which string
annotations on dataclasses cannot cope with.)
"""
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

SWEEPER_TARGET = "hydra_plugins.nnscratch_optuna_sweeper.optuna_sweeper.OptunaSweeper"

SAMPLERS: Dict[str, Dict[str, Any]] = {
    "tpe": {"_target_": "optuna.samplers.TPESampler", "seed": None, "n_startup_trials": 10,
            "n_ei_candidates": 24, "multivariate": False, "constant_liar": True},
    "random": {"_target_": "optuna.samplers.RandomSampler", "seed": None},
    # search_space is filled in from `params` at sweep time (the official plugin marks it _partial_).
    "grid": {"_target_": "optuna.samplers.GridSampler", "_partial_": True, "seed": None},
    "cmaes": {"_target_": "optuna.samplers.CmaEsSampler", "seed": None, "x0": None, "sigma0": None,
              "n_startup_trials": 1, "consider_pruned_trials": False, "use_separable_cma": False},
    "nsgaii": {"_target_": "optuna.samplers.NSGAIISampler", "seed": None, "population_size": 50,
               "mutation_prob": None, "crossover_prob": 0.9, "swapping_prob": 0.5},
    "qmc": {"_target_": "optuna.samplers.QMCSampler", "seed": None, "qmc_type": "sobol", "scramble": False},
    "gp": {"_target_": "optuna.samplers.GPSampler", "seed": None, "n_startup_trials": 10,
           "deterministic_objective": False},
    # MOTPESampler was folded into TPESampler in Optuna 4; kept so old configs still select something.
    "motpe": {"_target_": "optuna.samplers.TPESampler", "seed": None, "n_startup_trials": 10,
              "n_ei_candidates": 24},
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
    _target_: str = SWEEPER_TARGET
    _recursive_: bool = False              # sampler / pruner arrive as configs; the sweeper builds them
    defaults: List[Any] = field(default_factory=lambda: [{"sampler": "tpe"}, {"pruner": "none"}])

    # --- the official plugin's keys -------------------------------------------------------------
    sampler: Any = MISSING                 # hydra/sweeper/sampler=tpe|random|grid|cmaes|nsgaii|qmc|gp
    direction: Any = "minimize"            # minimize | maximize | a list of them (multi-objective)
    storage: Optional[Any] = None          # RDB URL or journal file path; null = <sweep root>/optuna/<study>.journal
    study_name: Optional[str] = None       # null = derived from the job name and the sweep directory
    n_trials: int = 20                     # total trials of the study (a resumed study runs the missing ones)
    n_jobs: int = 2                        # trials running at once (needs a parallel launcher, e.g. joblib)
    max_failure_rate: float = 0.0          # abort once failures exceed this share of the trials to run
    search_space: Optional[Dict[str, Any]] = None  # deprecated upstream; use params
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
