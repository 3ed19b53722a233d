"""What a training process knows about its Hydra job: single run or multirun, overrides, names."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from nnscratch.tracking.naming import sweep_run_name


@dataclass
class Job:
    """Hydra job facts train.py needs (defaults when called outside Hydra, e.g. ``run(cfg)`` in tests)."""

    multirun: bool = False
    overrides: list[str] = field(default_factory=list)
    base_dir: str = field(default_factory=os.getcwd)  # where relative paths (mlflow.db) are anchored
    tags: dict[str, str] = field(default_factory=dict)  # for the MLflow run
    name: str | None = None  # MLflow run name in sweeps: ``trial-007 lr=2.6e-3`` or ``job-2 lr=0.01``
    label: str = ""  # prefix of per-epoch log lines in sweeps
    sweeper: str = ""  # hydra.sweeper._target_ in multiruns

    @classmethod
    def current(cls) -> Job:
        if not HydraConfig.initialized():
            return cls()
        hc = HydraConfig.get()
        job = cls(overrides=list(hc.overrides.task), base_dir=hc.runtime.cwd,
                  tags={"hydra.output_dir": hc.runtime.output_dir})
        if hc.mode == RunMode.MULTIRUN:
            from nnscratch.tracking.sweep import swept_overrides

            job.multirun, job.sweeper = True, str(hc.sweeper.get("_target_", ""))
            kind, number = _sweep_position(job.sweeper, hc.job.num)
            job.name = sweep_run_name(kind, number, swept_overrides())
            job.label = job.name
            job.tags.update({"hydra.job.num": str(hc.job.num),
                             "hydra.job.override_dirname": hc.job.override_dirname})
        return job


def _sweep_position(sweeper: str, job_num: int) -> tuple[str, int]:
    """("trial", the Optuna trial number) in an Optuna sweep, else ("job", Hydra's job number)."""
    if "optuna" in sweeper.lower():
        from nnscratch.sweeper.job import TRIAL_ENV

        if os.environ.get(TRIAL_ENV, "").isdigit():
            return "trial", int(os.environ[TRIAL_ENV])
    return "job", job_num
