"""Sweeps through ``hydra/launcher=slurm`` on a single-node SLURM cluster the suite starts (slurm_cluster.py).

Required in CI (fails, does not skip, when the cluster cannot start and ``CI`` is set), like PostgreSQL.
"""
from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from optuna.trial import TrialState

sys.path.insert(0, str(Path(__file__).parent))
from slurm_cluster import ClusterUnavailable, SlurmCluster  # noqa: E402
from sweeper_app.harness import APP, events, journal, load, start, subprocess_env, sweep_args  # noqa: E402
from test_sweeper_parallel import postgres_storage  # noqa: E402,F401 - fixture

from nnscratch.sweeper.space import encode_value  # noqa: E402

pytestmark = pytest.mark.slurm
CONF = Path(__file__).resolve().parent.parent / "conf"
SLURM = (f"hydra.searchpath=[file://{CONF}]", "hydra/launcher=slurm", "hydra.launcher.cpus_per_task=1",
         "hydra.launcher.mem_gb=null", "hydra.launcher.timeout_min=10", "hydra.sweeper.n_jobs=2",
         "hydra.sweeper.heartbeat_interval=1", "hydra.sweeper.grace_period=10")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("slurm")
    cluster = SlurmCluster(root)
    try:
        cluster.start()
    except ClusterUnavailable as error:
        cluster.stop()
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(f"the SLURM test cluster did not start: {error}; CI is set, so it is required", pytrace=False)
        pytest.skip(f"the SLURM test cluster did not start: {error}")
    yield cluster
    cluster.stop()


def sweep(cluster, tmp_path: Path, study: str, *extra: str, log: str = "out.log") -> subprocess.Popen:
    args = sweep_args(tmp_path / "sweep", study, *SLURM, *extra)
    return start(args, cwd=tmp_path, log=tmp_path / log, SLURM_CONF=cluster.env["SLURM_CONF"])


def finish(process: subprocess.Popen, tmp_path: Path, log: str = "out.log", timeout: float = 240) -> int:
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError((tmp_path / log).read_text()[-4000:]) from None


def wait_for_starts(tmp_path: Path, study: str, count: int, timeout: float = 120) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        started = events(tmp_path / "sweep", study)
        if len(started) >= count:
            return started
        time.sleep(0.2)
    raise AssertionError(f"{count} jobs did not start: {(tmp_path / 'out.log').read_text()[-4000:]}")


def drained(cluster, timeout: float = 60) -> bool:
    """Whether every job has left the queue (a job that told its result may still be exiting)."""
    deadline = time.monotonic() + timeout
    while cluster.running() and time.monotonic() < deadline:
        time.sleep(0.5)
    return not cluster.running()


def test_four_trials_with_pruning_run_as_slurm_jobs(cluster, tmp_path):
    process = sweep(cluster, tmp_path, "prune", "hydra.sweeper.n_trials=4", "epochs=3", "sleep=0.3",
                    "penalty_per_trial=10", "hydra/sweeper/pruner=median", "hydra.sweeper.pruner.n_startup_trials=2")
    assert finish(process, tmp_path) == 0, (tmp_path / "out.log").read_text()[-4000:]
    trials = load(journal(tmp_path / "sweep", "prune"), "prune").get_trials()
    assert len(trials) == 4 and all(t.state.is_finished() for t in trials)
    assert trials[3].state == TrialState.PRUNED and trials[3].user_attrs["pruned_at"] == 1  # 2 trials done by then
    started = events(tmp_path / "sweep", "prune")
    assert len({e["slurm_job"] for e in started}) == 4 and None not in {e["slurm_job"] for e in started}
    assert {e["blas"] for e in started} <= {1, None}  # from SLURM_CPUS_PER_TASK=1, not this machine's cores
    assert drained(cluster)


def test_scancel_of_a_running_trial_requeues_it_and_the_budget_is_met(cluster, tmp_path):
    gate = tmp_path / "go"
    process = sweep(cluster, tmp_path, "cancel", "hydra.sweeper.n_trials=3", "epochs=1", f"wait_for={gate}")
    first = wait_for_starts(tmp_path, "cancel", 1)[0]
    subprocess.run(["scancel", first["slurm_job"]], env=cluster.env, check=True)
    study_path = journal(tmp_path / "sweep", "cancel")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and load(study_path, "cancel").trials[first["trial"]].state.name == "RUNNING":
        time.sleep(0.2)  # the cancelled job records itself as interrupted
    gate.touch()
    assert finish(process, tmp_path) == 0, (tmp_path / "out.log").read_text()[-4000:]
    trials = load(study_path, "cancel").get_trials()
    cancelled = trials[first["trial"]]
    assert cancelled.state == TrialState.FAIL and cancelled.user_attrs["fail_reason"] == "interrupted"
    retries = [t for t in trials if t.user_attrs.get("retry_of") == cancelled.number]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 3
    assert drained(cluster)


def test_kill_9_of_the_driver_keeps_what_its_jobs_finish_and_the_rerun_trains_nothing_twice(cluster, tmp_path):
    gate = tmp_path / "go"
    args = ("hydra.sweeper.n_trials=4", "epochs=1", f"wait_for={gate}")
    driver = sweep(cluster, tmp_path, "killed", *args)
    wait_for_starts(tmp_path, "killed", 2)
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    gate.touch()  # the two SLURM jobs go on without their driver and record their results themselves
    rerun = sweep(cluster, tmp_path, "killed", *args, log="rerun.log")
    assert finish(rerun, tmp_path, "rerun.log") == 0, (tmp_path / "rerun.log").read_text()[-4000:]
    trials = load(journal(tmp_path / "sweep", "killed"), "killed").get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    ended = [e["trial"] for e in events(tmp_path / "sweep", "killed", "end")]
    assert sorted(ended) == [0, 1, 2, 3]  # no trial trained twice
    assert drained(cluster)


def test_sigterm_to_the_driver_cancels_its_slurm_jobs(cluster, tmp_path):
    gate = tmp_path / "never"
    driver = sweep(cluster, tmp_path, "term", "hydra.sweeper.n_trials=4", "epochs=1", f"wait_for={gate}")
    wait_for_starts(tmp_path, "term", 2)
    driver.send_signal(signal.SIGTERM)
    assert finish(driver, tmp_path, timeout=90) != 0
    trials = load(journal(tmp_path / "sweep", "term"), "term").get_trials()
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert sorted(t.user_attrs.get("fail_reason") for t in trials if t.state == TrialState.FAIL) == ["interrupted"] * 2
    assert drained(cluster)  # scancel'd jobs leave the queue after SLURM's KillWait


def test_a_slurm_job_array_of_plain_workers_shares_one_postgresql_study(
        cluster, postgres_storage, tmp_path):  # noqa: F811 - the fixture
    study = "array"
    command = " ".join(shlex.quote(a) for a in [
        sys.executable, str(APP), *sweep_args(tmp_path / "sweep-$SLURM_ARRAY_TASK_ID", study),
        f"hydra.sweeper.storage={encode_value(postgres_storage)}", "hydra.sweeper.n_trials=4", "epochs=1"])
    command = command.replace("$SLURM_ARRAY_TASK_ID", "'\"$SLURM_ARRAY_TASK_ID\"'")  # expanded per array task
    env = {**cluster.env, **subprocess_env()}
    done = subprocess.run(["sbatch", "--array=0-1", "--cpus-per-task=1", "--wait", "-o", str(tmp_path / "task-%a.out"),
                           "--wrap", command], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    outputs = "".join(p.read_text()[-2000:] for p in tmp_path.glob("task-*.out"))
    assert done.returncode == 0, done.stderr + outputs
    trials = load(postgres_storage, study).get_trials()
    assert len(trials) == 4 and all(t.state == TrialState.COMPLETE for t in trials), outputs
    assert len({e["slurm_job"] for e in events(tmp_path / "sweep-0", study)}) == 2  # both array tasks ran trials
