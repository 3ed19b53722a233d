"""Several processes: joblib workers, a sweep killed with SIGKILL, two workers sharing one study."""
from __future__ import annotations

import os
import signal
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nnscratch.sweeper.space import encode_value
from nnscratch.sweeper.storage import open_storage

sys.path.insert(0, str(Path(__file__).parent))
from sweeper_app.harness import events, journal, load, run, start, sweep_args  # noqa: E402

PG_USERS = ("postgres", "root")


def test_joblib_slots_free_at_once_and_prune_across_processes(tmp_path):
    directory = tmp_path / "sweep"
    code = run(sweep_args(directory, "joblib", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                          "hydra.sweeper.n_jobs=2", "hydra.sweeper.n_trials=5", "epochs=3", "sleep=0.1",
                          "odd_trial_slowdown=15", "penalty_per_trial=10", "hydra/sweeper/pruner=median",
                          "hydra.sweeper.pruner.n_startup_trials=2"), cwd=tmp_path, log=tmp_path / "out.log")
    assert code == 0, (tmp_path / "out.log").read_text()[-3000:]
    trials = load(journal(directory, "joblib"), "joblib").get_trials()
    assert len(trials) == 5 and not [t for t in trials if not t.state.is_finished()]
    starts, ends = events(directory, "joblib"), {e["trial"]: e for e in events(directory, "joblib", "end")}
    assert len({e["pid"] for e in starts}) == 2  # the jobs ran in two worker processes...
    assert all(e["blas"] == 1 for e in starts)  # ... with one BLAS thread each on this 2-core budget
    assert trials[2].datetime_start < trials[1].datetime_complete  # 0's slot took trial 2 while slow 1 ran: no batch
    # Trials 3 and 4 start once two trials have completed, and the penalty makes them worse than their
    # median at once: the worker reports epoch 1, reads the pruner's verdict from the storage, stops.
    assert [(t.state, t.user_attrs.get("pruned_at")) for t in trials[3:]] == [(TrialState.PRUNED, 1)] * 2
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    assert all(len(t.intermediate_values) == t.user_attrs["pruned_at"] and t.number not in ends for t in pruned)


def test_sigkill_midway_then_rerun_completes_without_leftovers(tmp_path):
    directory = tmp_path / "sweep"
    args = sweep_args(directory, "killed", "hydra.sweeper.n_trials=5", "epochs=3", "sleep=0.2",
                      "hydra.sweeper.heartbeat_interval=1", "hydra.sweeper.grace_period=2")
    process = start(args, cwd=tmp_path, log=tmp_path / "first.log")
    path = journal(directory, "killed")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.1)
        trials = load(path, "killed").get_trials() if path.exists() else []
        done = [t for t in trials if t.state == TrialState.COMPLETE]
        if len(done) >= 2 and any(t.state == TrialState.RUNNING for t in trials):
            break
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = {t.number: (t.state, t.params) for t in load(path, "killed").get_trials()}
    killed = [n for n, (state, _) in before.items() if state == TrialState.RUNNING]
    assert killed, "the sweep was not killed midway"

    assert run(args, cwd=tmp_path, log=tmp_path / "second.log") == 0, (tmp_path / "second.log").read_text()[-3000:]
    second = (tmp_path / "second.log").read_text()
    assert "breaking journal lock" not in second and "Forcibly releasing" not in second  # no stale-lock wait
    trials = load(path, "killed").get_trials()
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 5
    for number, (state, params) in before.items():
        if state == TrialState.COMPLETE:  # finished before the kill: kept as they were
            assert trials[number].state == TrialState.COMPLETE and trials[number].params == params
    for number in killed:  # killed: failed, and its parameters ran again exactly once
        assert trials[number].state == TrialState.FAIL and trials[number].user_attrs["fail_reason"]
        retries = [t for t in trials if t.user_attrs.get("retry_of") == number]
        assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
        if before[number][1]:  # (killed inside study.ask, before its parameters were stored: sampled anew)
            assert retries[0].params == before[number][1]
    ended = [e["trial"] for e in events(directory, "killed", "end")]
    assert sorted(ended) == sorted(t.number for t in complete)  # no completed trial ran twice


def postgres_url() -> str | None:
    from sqlalchemy import create_engine, text

    for user in PG_USERS:
        url = f"postgresql+psycopg://{user}@127.0.0.1:5432/test"
        try:
            with create_engine(url, connect_args={"connect_timeout": 3}).connect() as connection:
                connection.execute(text("SELECT 1"))
            return url
        except Exception:  # noqa: BLE001 - try the next user
            continue
    return None


@pytest.fixture()
def postgres_storage():
    """A PostgreSQL URL whose Optuna tables live in a fresh schema, dropped afterwards."""
    url = postgres_url()
    if url is None:
        message = "PostgreSQL on 127.0.0.1:5432 (database test, user postgres or root) is unreachable"
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(message + "; CI is set, so it is required", pytrace=False)
        pytest.skip(message)
    from sqlalchemy import create_engine, text

    schema = f"nnscratch_sweeper_{uuid.uuid4().hex[:10]}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    yield f"{url}?options=-csearch_path%3D{schema}"
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


GRID = ("hydra/sweeper/sampler=grid", "x=choice(0,1)", "y=choice(0,1)", "hydra.sweeper.n_trials=10")
TPE = ("hydra.sweeper.n_trials=4",)


@pytest.fixture(params=["journal+grid", "postgresql+tpe"])
def shared(request, tmp_path):
    """(storage, sweep overrides): a grid on the default journal format, seeded TPE on PostgreSQL."""
    if request.param == "journal+grid":
        return str(tmp_path / "shared.journal"), GRID
    return request.getfixturevalue("postgres_storage"), TPE


def test_two_workers_share_one_study_without_overshooting_or_repeating(shared, tmp_path):
    storage, overrides = shared
    study_name, gate = f"two-workers-{uuid.uuid4().hex[:8]}", tmp_path / "go"
    common = [*overrides, "epochs=2", "sleep=0.2", f"wait_for={gate}", f"hydra.sweeper.storage={encode_value(storage)}"]
    workers = [start(sweep_args(tmp_path / name, study_name, *common), cwd=tmp_path, log=tmp_path / f"{name}.log")
               for name in ("a", "b")]
    deadline = time.monotonic() + 60  # both workers hold a running trial before any finishes
    while len(events(tmp_path / "a", study_name)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    gate.touch()
    codes = [worker.wait(timeout=120) for worker in workers]
    assert codes == [0, 0], (tmp_path / "a.log").read_text()[-2000:] + (tmp_path / "b.log").read_text()[-2000:]
    trials = optuna.load_study(study_name=study_name, storage=open_storage(storage)).get_trials()
    assert len(trials) == 4 and all(t.state == TrialState.COMPLETE for t in trials)  # total == n_trials (grid: 4)
    assert len({e["pid"] for e in events(tmp_path / "a", study_name)}) == 2  # both workers ran trials
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 4  # no point twice (grid; seeds offset)
