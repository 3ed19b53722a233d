"""A job's Optuna trial as train.py uses it: tags, the parent run, linking and pruning.

Optuna (through :mod:`nnscratch.sweeper.job`) is imported only when the job belongs to an Optuna
sweep; everywhere else :class:`TrialLink` is empty and every method is a no-op.
"""

from __future__ import annotations

from typing import Any


class TrialLink:
    """The Optuna trial of this job, or none.

    Parameters
    ----------
    trial : optuna.trial.Trial or None
    """

    def __init__(self, trial: Any = None) -> None:
        self.trial = trial

    @classmethod
    def for_job(cls, multirun: bool, sweeper: str) -> TrialLink:
        """The trial of a multirun job whose ``hydra.sweeper._target_`` is an Optuna sweeper."""
        if not (multirun and "optuna" in sweeper.lower()):
            return cls()
        from nnscratch.sweeper.job import current_trial

        return cls(current_trial())

    def tags(self) -> dict[str, str]:
        """Study name and trial number for the MLflow run."""
        if self.trial is None:
            return {}
        from nnscratch.sweeper.job import trial_tags

        return trial_tags(self.trial)

    def parent_run_id(self) -> str | None:
        """The MLflow parent run the study recorded (used when the multirun callback's is unknown)."""
        if self.trial is None:
            return None
        from nnscratch.sweeper.job import parent_run

        return (parent_run(self.trial) or {}).get("run_id")

    def callbacks(self, run_id: str | None, tracking_uri: str | None, experiment_id: str | None,
                  monitor: str) -> list[Any]:
        """Record the MLflow run on the trial and return the pruning callback for :func:`nnscratch.fit`."""
        if self.trial is None:
            return []
        from nnscratch.sweeper.job import PruningCallback, record_run_id

        if run_id is not None:
            record_run_id(self.trial, run_id, tracking_uri=tracking_uri, experiment_id=experiment_id)
        return [PruningCallback(self.trial, monitor=monitor)]
