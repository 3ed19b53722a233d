"""Joblib workers that start with the jobs' imports done: each forks from one process that did them.

Before its first job a loky worker imports NumPy, Hydra, Optuna and nnscratch and, with tracking on,
MLflow and its SQL store: about 4 CPU-seconds for MLflow alone, paid again by every worker of every
sweep. With loky's ``forkserver`` start method and these modules preloaded, one server process imports
them once and every worker is forked from it with them in memory, outside the garbage collector's
reach (:mod:`.frozen_heap`). A start method the user chose for loky is kept.

:class:`PreloadedWorkers` is the Hydra callback that does it. It is listed first under
``hydra.callbacks`` so that the server imports on the other core while the sweep's own process
imports MLflow for the parent run (about 4 s of wall time saved before the first trial).
"""
from __future__ import annotations

import multiprocessing
from multiprocessing import forkserver
from multiprocessing.context import BaseContext
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

#: What every job imports (train.py's modules and the sweeper's job side).
JOB_MODULES = ("numpy", "hydra", "omegaconf", "optuna", "nnscratch", "nnscratch.training",
               "nnscratch.sweeper.job", "nnscratch.sweeper.task", "nnscratch.config")
#: What a tracked job imports besides.
TRACKING_MODULES = ("nnscratch.tracking.tracker", "mlflow.store.tracking.sqlalchemy_store")
#: Imported last: freezes the collector's view of the modules above (see the module).
FREEZE_MODULE = "nnscratch.sweeper.frozen_heap"
JOBLIB_LAUNCHER = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"


def share_worker_imports(launcher_target: str, *, tracking: bool) -> bool:
    """Make the joblib launcher's workers fork from a server that imports the jobs' modules, and start
    that server now (it imports while this process goes on).

    Returns whether it did: only for the joblib launcher (``launcher_target``, the ``_target_`` of
    ``hydra.launcher``), where ``forkserver`` exists (POSIX) and no other loky start method was
    chosen in this process.
    """
    if launcher_target != JOBLIB_LAUNCHER or "forkserver" not in multiprocessing.get_all_start_methods():
        return False
    from joblib.externals.loky.backend import context

    if context.get_start_method() not in (None, "forkserver"):
        return False
    modules = [*JOB_MODULES, *(TRACKING_MODULES if tracking else ()), FREEZE_MODULE]
    multiprocessing.set_forkserver_preload(modules)
    context.set_start_method("forkserver", force=True)
    forkserver.ensure_running()
    return True


def preloaded_processes(config: DictConfig) -> BaseContext | None:
    """The context whose processes fork from the joblib workers' server, when the multirun of
    ``config`` has one (the sweep's process can hand work to such a process at no import cost)."""
    from joblib.externals.loky.backend import context

    if _launcher_target(config) != JOBLIB_LAUNCHER or context.get_start_method() != "forkserver":
        return None
    return context.get_context()


def _launcher_target(config: DictConfig) -> str:
    return OmegaConf.select(config, "hydra.launcher._target_", default="")


class PreloadedWorkers(Callback):
    """Hydra callback: when a multirun starts, start the preloaded server of the joblib launcher's workers."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        share_worker_imports(_launcher_target(config),
                             tracking=bool(OmegaConf.select(config, "tracking.enabled", default=False)))
