"""Budget counting, study locks, liveness and recovery of trials whose worker died."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from nnscratch.sweeper.budget import REQUEUED_KEY, RETRIES_KEY, used_budget
from nnscratch.sweeper.liveness import HEARTBEAT_KEY, OWNER_KEY, Heartbeat, is_stale, owner_alive, owner_record
from nnscratch.sweeper.locks import JournalAppendLock, StudyLock
from nnscratch.sweeper.recovery import reap_stale_trials, retire_trial
from nnscratch.sweeper.storage import open_storage

SPACE = {"x": FloatDistribution(0.0, 1.0)}


@pytest.fixture()
def journal_study(tmp_path):
    storage_path = str(tmp_path / "s.journal")
    storage = open_storage(storage_path)
    study = optuna.create_study(study_name="s", storage=storage)
    return study, storage, storage_path


def dead_owner() -> dict:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return {**owner_record(), "pid": process.pid, "created": None}


def trial_id(storage, study, number: int) -> int:
    return storage.get_trial_id_from_study_id_trial_number(storage.get_study_id_from_name(study.study_name), number)


def running_trial(study, storage, owner: dict | None):
    trial = study.ask(SPACE)
    if owner is not None:
        storage.set_trial_system_attr(trial_id(storage, study, trial.number), OWNER_KEY, owner)
    return trial


def test_budget_counts_everything_but_waiting_and_requeued_failures(journal_study):
    study, storage, _ = journal_study
    study.tell(study.ask(SPACE), 1.0)
    study.tell(study.ask(SPACE), state=TrialState.PRUNED)
    study.tell(study.ask(SPACE), state=TrialState.FAIL)  # an exception in the job: counts
    running_trial(study, storage, owner_record())
    requeued = study.ask(SPACE)
    storage.set_trial_system_attr(trial_id(storage, study, requeued.number), REQUEUED_KEY, True)
    study.tell(requeued, state=TrialState.FAIL)
    study.enqueue_trial({"x": 0.5})
    assert used_budget(study.get_trials()) == 4


def test_owner_liveness_and_staleness(journal_study):
    study, storage, _ = journal_study
    assert owner_alive(owner_record()) is True
    assert owner_alive(dead_owner()) is False
    assert owner_alive({"host": "elsewhere", "pid": 1}) is None
    reused = {**owner_record(), "created": owner_record()["created"] - 3600}  # this pid, another process
    assert owner_alive(reused) is False
    mine, dead = running_trial(study, storage, owner_record()), running_trial(study, storage, dead_owner())
    remote = running_trial(study, storage, {"host": "elsewhere", "pid": 1})
    storage.set_trial_system_attr(trial_id(storage, study, remote.number), HEARTBEAT_KEY, time.time() - 100)
    trials = {t.number: t for t in study.get_trials()}
    assert not is_stale(trials[mine.number], grace_period=30, now=time.time() + 1000)  # alive here: never stale
    assert is_stale(trials[dead.number], grace_period=30, now=time.time())  # dead here: stale at once
    assert is_stale(trials[remote.number], grace_period=30, now=time.time())
    assert not is_stale(trials[remote.number], grace_period=300, now=time.time())


def test_heartbeat_records_time_for_running_trials(journal_study):
    study, storage, _ = journal_study
    trial = running_trial(study, storage, owner_record())
    tid = trial_id(storage, study, trial.number)
    with Heartbeat(storage, interval=0.05) as heartbeat:
        heartbeat.add(tid)
        first = storage.get_trial(tid).system_attrs[HEARTBEAT_KEY]
        time.sleep(0.3)
        assert storage.get_trial(tid).system_attrs[HEARTBEAT_KEY] > first


def test_stale_trials_fail_and_their_params_are_queued_again_up_to_max_retries(journal_study):
    study, storage, _ = journal_study
    dead = running_trial(study, storage, dead_owner())
    assert reap_stale_trials(study, storage, grace_period=30, max_retries=1) == [dead.number]
    failed, retry = study.get_trials()
    assert failed.state == TrialState.FAIL and failed.system_attrs[REQUEUED_KEY]
    assert failed.user_attrs["fail_reason"].startswith("worker died")
    assert retry.state == TrialState.WAITING and retry.params == failed.params
    assert retry.user_attrs["retry_of"] == dead.number and retry.system_attrs[RETRIES_KEY] == 1
    popped = study.ask(SPACE)  # the next ask runs the queued parameters
    assert popped.number == retry.number and popped.params == failed.params
    storage.set_trial_system_attr(trial_id(storage, study, popped.number), OWNER_KEY, dead_owner())
    assert reap_stale_trials(study, storage, grace_period=30, max_retries=1) == [popped.number]
    assert len(study.get_trials()) == 2  # retries used up: not queued again, and the failure counts
    assert used_budget(study.get_trials()) == 1


def test_retire_is_a_no_op_when_another_worker_finished_the_trial(journal_study):
    study, storage, _ = journal_study
    trial = running_trial(study, storage, owner_record())
    frozen = study.get_trials()[0]
    study.tell(trial, 0.3)
    assert retire_trial(study, storage, frozen, reason="test", max_retries=2) is False
    assert [t.state for t in study.get_trials()] == [TrialState.COMPLETE]


def test_study_lock_excludes_other_lock_instances(journal_study):
    _, _, path = journal_study
    inside, overlaps = [], []

    def worker() -> None:
        with StudyLock(path, "s"):  # a new instance per thread: only flock can serialize them
            inside.append(1)
            overlaps.append(len(inside))
            time.sleep(0.05)
            inside.pop()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert StudyLock(path, "s").exact and overlaps == [1, 1, 1, 1]


def test_stale_trial_mlflow_run_is_ended_killed(journal_study, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    uri = (tmp_path / "mlruns").as_uri()
    client = MlflowClient(tracking_uri=uri)
    run = client.create_run(client.create_experiment("sweep"))
    study, storage, _ = journal_study
    trial = running_trial(study, storage, dead_owner())
    trial.set_user_attr("mlflow_run_id", run.info.run_id)
    trial.set_user_attr("mlflow_tracking_uri", uri)
    reap_stale_trials(study, storage, grace_period=30, max_retries=0)
    assert client.get_run(run.info.run_id).info.status == "KILLED"


def test_journal_lock_left_by_a_killed_worker_is_taken_over_at_once(tmp_path):
    journal = str(tmp_path / "k.journal")
    os.symlink("./k.journal", journal + ".lock")  # what a worker killed while appending leaves behind
    lock = JournalAppendLock(journal, grace_period=30)
    started = time.monotonic()
    lock.acquire()
    assert time.monotonic() - started < 5 and os.readlink(journal + ".lock") == "./k.journal"
    lock.release()
    assert not os.path.lexists(journal + ".lock")


def test_journal_lock_waits_for_a_plain_optuna_writer_then_breaks_its_lock(tmp_path):
    journal = str(tmp_path / "k.journal")
    os.symlink(journal, journal + ".lock")  # JournalFileSymlinkLock's mark: maybe a live writer
    lock = JournalAppendLock(journal, grace_period=0.3)
    started = time.monotonic()
    lock.acquire()
    assert time.monotonic() - started >= 0.3
    lock.release()


def test_a_run_the_job_never_linked_is_found_by_its_study_and_trial_tags(journal_study, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    uri = (tmp_path / "mlruns").as_uri()
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("sweep")
    study, storage, _ = journal_study
    study.set_user_attr("mlflow_parent", {"run_id": "p", "experiment_id": experiment, "tracking_uri": uri})
    trial = running_trial(study, storage, dead_owner())
    other = running_trial(study, storage, owner_record())
    tags = {"optuna.study_name": study.study_name}
    orphan = client.create_run(experiment, tags={**tags, "optuna.trial_number": str(trial.number)})  # killed here
    alive = client.create_run(experiment, tags={**tags, "optuna.trial_number": str(other.number)})
    reap_stale_trials(study, storage, grace_period=30, max_retries=0)
    assert client.get_run(orphan.info.run_id).info.status == "KILLED"
    assert client.get_run(alive.info.run_id).info.status == "RUNNING"  # another trial's run: untouched
