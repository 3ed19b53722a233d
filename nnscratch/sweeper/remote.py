"""Launchers that run jobs on other machines (SLURM, Ray): what they need before the first trial.

* A warning, naming the setting, for each store that only this machine can see: a journal file or
  SQLite study (``hydra.sweeper.storage``), a SQLite or file MLflow store (``tracking.tracking_uri``).
  Jobs on other nodes reach them only through a shared disk.
* Ray is initialised once, here, before the slots start: the slots would otherwise race in
  ``ray.init`` (one spurious FAIL per sweep).
"""
from __future__ import annotations

import logging
from typing import Any

from omegaconf import DictConfig, OmegaConf

from .storage import is_rdb_url, sqlite_path

log = logging.getLogger(__name__)

LOCAL_LAUNCHERS = ("BasicLauncher", "JoblibLauncher")


def runs_elsewhere(launcher: Any) -> bool:
    """Whether ``launcher`` hands jobs to a scheduler (submitit, Ray) rather than running them here."""
    return type(launcher).__name__ not in LOCAL_LAUNCHERS


def machine_local_stores(storage: str, config: DictConfig) -> list[str]:
    """One line per store of this sweep that only this machine can see (setting, value, what to use)."""
    lines = []
    if not is_rdb_url(storage) or sqlite_path(storage) is not None:
        lines.append(f"hydra.sweeper.storage is {storage}, a file on this machine: use a database every node "
                     "reaches, e.g. postgresql://user@host/db")
    uri = str(OmegaConf.select(config, "tracking.tracking_uri", default="") or "")
    enabled = OmegaConf.select(config, "tracking.enabled", default=False)
    if enabled and (not uri or uri.startswith(("sqlite:", "file:", "/", ".")) or "://" not in uri):
        lines.append(f"tracking.tracking_uri is {uri or 'the default ./mlflow.db'}, a file on this machine: "
                     "use an MLflow server every node reaches, e.g. http://mlflow-host:5000")
    return lines


def prepare(launcher: Any, storage: str, config: DictConfig) -> None:
    """Warn about machine-local stores and start Ray once (see the module docstring)."""
    if not runs_elsewhere(launcher):
        return
    name = type(launcher).__name__
    for line in machine_local_stores(storage, config):
        log.warning("%s runs jobs on other machines, but %s (fine only on a shared disk)", name, line)
    if name == "RayLauncher":
        _start_ray(launcher)


def _start_ray(launcher: Any) -> None:
    from hydra_plugins.hydra_ray_launcher._launcher_util import start_ray

    init = launcher.ray_cfg.init
    if "object_store_memory" not in init:
        init["object_store_memory"] = 78643200  # what the launcher itself would set (and needs in CI)
    start_ray(init)
