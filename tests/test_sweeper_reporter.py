"""The job's own record (reporter.py) and the slot's watch of a job the launcher never reports back (launch.py)."""
from __future__ import annotations

import threading
import time

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from nnscratch.sweeper.launch import LaunchWatch
from nnscratch.sweeper.liveness import JOB_HEARTBEAT_KEY, JOB_KEY, RECORDED_KEY
from nnscratch.sweeper.reporter import JobInterrupted, JobReporter, TrialAlreadyFinished
from nnscratch.sweeper.storage import open_storage

SPACE = {"x": FloatDistribution(0, 1)}


@pytest.fixture()
def study(tmp_path):
    return optuna.create_study(study_name="s", storage=open_storage(str(tmp_path / "s.journal")), direction="maximize")


def reporter(study) -> JobReporter:
    return JobReporter(study.ask(SPACE), heartbeat_interval=0.05, max_retries=1)


def test_the_job_records_itself_and_tells_its_result(study):
    job = reporter(study)
    assert job.run(lambda cfg: 0.75, cfg=None) == 0.75
    trial = study.trials[0]
    assert trial.state == TrialState.COMPLETE and trial.values == [0.75]
    attrs = trial.system_attrs
    assert attrs[RECORDED_KEY] and attrs[JOB_KEY]["pid"] and JOB_HEARTBEAT_KEY in attrs


def test_an_interrupted_job_queues_its_trial_again(study):
    def interrupted(cfg):
        raise KeyboardInterrupt

    with pytest.raises(JobInterrupted):  # an Exception: a worker pool survives it
        reporter(study).run(interrupted, cfg=None)
    first, retry = study.trials
    assert first.state == TrialState.FAIL and first.user_attrs["fail_reason"] == "interrupted"
    assert retry.state == TrialState.WAITING and retry.user_attrs["retry_of"] == 0


def test_a_job_whose_trial_was_retired_meanwhile_does_not_train(study):
    job = reporter(study)
    study.tell(0, state=TrialState.FAIL)
    called = []
    with pytest.raises(TrialAlreadyFinished):
        job.run(called.append, cfg=None)
    assert called == []


def test_a_job_that_stopped_beating_ends_the_watch_though_the_launcher_never_returns(study):
    trial = study.ask(SPACE)
    storage = study._storage
    storage.set_trial_system_attr(trial._trial_id, JOB_KEY, {"host": "node-7", "pid": 1})
    storage.set_trial_system_attr(trial._trial_id, JOB_HEARTBEAT_KEY, time.time() - 60)  # scancel'd, no accounting
    never = threading.Event()
    watch = LaunchWatch(storage, trial._trial_id, grace_period=30, check_every=0.1, stopping=threading.Event(),
                        interrupted=threading.Event())
    assert watch.run(never.wait) is None  # the slot then retires and re-queues the trial
