"""The job side of a sweep (nnscratch.sweeper.job) and how job results become trial states (.outcome)."""
from __future__ import annotations

import optuna
import pytest
from hydra.core.utils import JobReturn, JobStatus
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from nnscratch.sweeper.job import (
    PruningCallback,
    current_trial,
    env_overrides,
    job_env,
    parent_run,
    record_run_id,
    trial_tags,
)
from nnscratch.sweeper.outcome import objective_values, outcome_of
from nnscratch.sweeper.space import parse_override
from nnscratch.sweeper.storage import open_storage
from nnscratch.sweeper.studies import MLFLOW_PARENT_ATTR, SWEEPER_ATTR

MEDIAN = {"_target_": "optuna.pruners.MedianPruner", "n_startup_trials": 2, "n_warmup_steps": 2}


@pytest.fixture()
def study_and_env(tmp_path):
    path = str(tmp_path / "job.journal")
    study = optuna.create_study(study_name="job", storage=open_storage(path), direction="maximize")
    study.set_user_attr(SWEEPER_ATTR, {"pruner": MEDIAN})
    for value in (0.9, 0.8):  # two finished trials with per-epoch reports
        trial = study.ask({"x": FloatDistribution(0, 1)})
        for epoch in (1, 2, 3):
            trial.report(value, epoch)
        study.tell(trial, value)
    running = study.ask({"x": FloatDistribution(0, 1)})
    return study, job_env(path, "job", running.number, blas_threads=1)


def test_current_trial_is_none_outside_a_sweep():
    assert current_trial({}) is None


def test_current_trial_finds_the_trial_through_the_storage_with_the_sweep_pruner(study_and_env):
    study, env = study_and_env
    trial = current_trial(env)
    assert trial.number == int(env["NNSCRATCH_OPTUNA_TRIAL"]) == 2
    assert isinstance(trial.study.pruner, optuna.pruners.MedianPruner)
    assert trial_tags(trial)["optuna.trial_number"] == "2"


def test_pruning_callback_reports_each_epoch_and_raises_when_pruned(study_and_env):
    study, env = study_and_env
    callback = PruningCallback(current_trial(env), monitor="val/acc")
    callback.on_epoch_end(1, {"val/acc": 0.2, "val/loss": 0.1})  # warm-up epoch: never pruned
    with pytest.raises(optuna.TrialPruned, match="pruned at epoch 2"):
        callback.on_epoch_end(2, {"val/acc": 0.3})  # below the median (0.85) of finished trials
    trial = study.get_trials()[2]
    assert trial.intermediate_values == {1: 0.2, 2: 0.3}
    assert trial.user_attrs["pruned_at"] == 2


def test_pruning_callback_ignores_a_missing_metric(study_and_env):
    _, env = study_and_env
    callback = PruningCallback(current_trial(env), monitor="val/acc")
    callback.on_epoch_end(1, {"train/loss": 0.5})
    assert callback.trial.study.get_trials()[2].intermediate_values == {}


def test_record_run_id_links_the_trial_to_its_mlflow_run(study_and_env):
    study, env = study_and_env
    trial = current_trial(env)
    record_run_id(trial, "abc123", tracking_uri="sqlite:////tmp/mlflow.db", experiment_id="7")
    assert study.get_trials()[2].user_attrs == {"mlflow_run_id": "abc123", "mlflow_experiment_id": "7",
                                                "mlflow_tracking_uri": "sqlite:////tmp/mlflow.db"}
    assert parent_run(trial) is None
    study.set_user_attr(MLFLOW_PARENT_ATTR, {"run_id": "parent"})
    assert parent_run(current_trial(env)) == {"run_id": "parent"}


def test_env_overrides_parse_back_to_the_environment():
    env = job_env("postgresql+psycopg://u:p@127.0.0.1:5432/test", "it's a study", 7, 2)
    parsed = {o.key_or_group.rsplit(".", 1)[1]: o.value() for o in map(parse_override, env_overrides(env))}
    assert parsed == env


def job(status: JobStatus, value) -> JobReturn:
    ret = JobReturn(overrides=["x=1"], status=status)
    ret._return_value = value
    return ret


@pytest.mark.parametrize(("ret", "attrs", "state", "values", "counts"), [
    (job(JobStatus.COMPLETED, 0.5), {}, TrialState.COMPLETE, [0.5], True),
    (job(JobStatus.COMPLETED, "0.25"), {}, TrialState.COMPLETE, [0.25], True),
    (job(JobStatus.FAILED, optuna.TrialPruned("pruned")), {}, TrialState.PRUNED, None, True),
    (job(JobStatus.COMPLETED, 0.5), {"pruned_at": 3}, TrialState.PRUNED, None, True),
    (job(JobStatus.FAILED, RuntimeError("boom")), {}, TrialState.FAIL, None, True),
    (job(JobStatus.COMPLETED, "not a number"), {}, TrialState.FAIL, None, True),
    (job(JobStatus.COMPLETED, float("nan")), {}, TrialState.FAIL, None, False),  # diverged: not a broken job
])
def test_job_results_become_trial_states(ret, attrs, state, values, counts):
    outcome = outcome_of(ret, 1, attrs)
    assert outcome.state == state and outcome.values == values and outcome.counts_as_failure == counts


def test_multi_objective_values_need_one_number_per_direction():
    assert objective_values((0.9, 1200), 2) == [0.9, 1200.0]
    with pytest.raises(ValueError, match="2 directions"):
        objective_values(0.9, 2)
    with pytest.raises(ValueError, match="returned 3 values"):
        objective_values([1, 2, 3], 2)
