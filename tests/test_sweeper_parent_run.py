"""One MLflow parent run per study, however many workers start at the same instant."""
from __future__ import annotations

import threading

from omegaconf import OmegaConf

from nnscratch.sweeper.context import sweep_context
from nnscratch.sweeper.settings import StudyTarget
from nnscratch.sweeper.studies import MLFLOW_PARENT_ATTR, open_study


def multirun_config(storage: str):
    return OmegaConf.create({"hydra": {
        "sweeper": {"_target_": "hydra_plugins.nnscratch_optuna_sweeper.optuna_sweeper.OptunaSweeper",
                    "storage": storage, "study_name": "shared", "direction": "maximize", "n_trials": 4,
                    "params": {"x": "interval(0, 1)"}},
        "sweep": {"dir": "unused"}, "job": {"name": "app"}, "overrides": {"task": []}}})


def test_workers_that_start_together_create_one_parent_and_all_find_it(tmp_path):
    storage = str(tmp_path / "study.journal")
    created: list[str] = []
    together = threading.Barrier(2, timeout=1.0)  # without the lock two workers meet in here

    def create() -> tuple[str, str]:
        try:
            together.wait()
        except threading.BrokenBarrierError:
            pass  # alone in here, as it should be
        run_id = f"run-{len(created)}"
        created.append(run_id)
        return run_id, "0"

    def reopen(previous):
        return previous["run_id"] if previous else None

    found: list[str] = []
    workers = [threading.Thread(target=lambda: found.append(sweep_context(multirun_config(storage))
                                                            .find_or_create_parent(reopen=reopen, create=create,
                                                                                   tracking_uri="sqlite:///m.db")))
               for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert created == ["run-0"] and found == ["run-0"] * 4
    study, _ = open_study(StudyTarget("shared", storage), ["maximize"])
    assert study.user_attrs[MLFLOW_PARENT_ATTR] == {"run_id": "run-0", "experiment_id": "0",
                                                    "tracking_uri": "sqlite:///m.db"}
