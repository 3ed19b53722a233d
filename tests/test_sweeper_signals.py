"""SIGTERM to a sweep does what Ctrl-C does (the job sends it at a named point: no timing involved)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
from optuna.trial import TrialState

sys.path.insert(0, str(Path(__file__).parent))
from sweeper_app.harness import events, journal, load, run, start, sweep_args  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def test_sigterm_interrupts_the_jobs_keeps_what_finished_and_leaves_no_worker(tmp_path):
    directory = tmp_path / "sweep"
    args = sweep_args(directory, "term", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hydra.sweeper.n_jobs=2",
                      "hydra.sweeper.n_trials=4", "epochs=10", "sleep=0.1")
    # Trial 0's job sends SIGTERM to the sweep once both jobs run, then ignores the interrupt and finishes.
    first = start([*args, "terminate_launcher=0"], cwd=tmp_path, log=tmp_path / "first.log")
    assert first.wait(timeout=120) != 0
    output = (tmp_path / "first.log").read_text()
    assert "SIGTERM received: stopping as for Ctrl-C" in output
    trials = load(journal(directory, "term"), "term").get_trials()
    assert [t.state for t in trials[:2]] == [TrialState.COMPLETE, TrialState.FAIL]  # finished after the signal: kept
    assert trials[1].user_attrs["fail_reason"] == "interrupted" and not [t for t in trials if t.state.name == "RUNNING"]
    workers = [psutil.Process(e["pid"]) for e in events(directory, "term") if psutil.pid_exists(e["pid"])]
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive, "loky workers outlived the sweep"

    assert run(args, cwd=tmp_path, log=tmp_path / "second.log") == 0, (tmp_path / "second.log").read_text()[-3000:]
    trials = load(journal(directory, "term"), "term").get_trials()
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 4
    assert [e["trial"] for e in events(directory, "term", "end")].count(0) == 1  # not trained again


def test_sigterm_to_a_train_py_sweep_leaves_no_run_running(mnist, tmp_path, tmp_path_factory):
    from tests.mlflow_stores import new_store, runs, template_store

    uri = new_store(template_store(tmp_path_factory), tmp_path / "store")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NNSCRATCH_", "MLFLOW_"))}
    env["MLFLOW_TRACKING_URI"] = uri
    args = ["-m", "hydra/sweeper=optuna", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hydra.sweeper.n_jobs=2",
            "hydra.sweeper.n_trials=4", "hydra.sweeper.study_name=term", "hydra.sweeper.storage=optuna.journal",
            "lr=interval(0.01,0.1)", "epochs=500", "data.train_size=300", "data.test_size=100", "progress=none",
            "tracking.experiment_name=term", "tracking.log_model=false", "tracking.log_figures=false"]
    process = subprocess.Popen([sys.executable, str(REPO / "train.py"), *args], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120  # both jobs train: their child runs are RUNNING
        while time.monotonic() < deadline and process.poll() is None and _running_children(runs(uri, "term")) < 2:
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode != 0 and "SIGTERM received" in output, output[-3000:]
    table = runs(uri, "term")
    assert sorted(table["status"]) == ["KILLED"] * 3, output[-3000:]  # the parent and both interrupted children
    trials = load(tmp_path / "optuna.journal", "term").get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL] * 2 + [TrialState.WAITING] * 2  # queued again


def _running_children(table) -> int:
    if not len(table):
        return 0
    return int(((table["tags.nnscratch.kind"] == "train") & (table["status"] == "RUNNING")).sum())
