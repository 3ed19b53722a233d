"""SIGTERM to a sweep does what Ctrl-C does (the job sends it at a named point: no timing involved)."""
from __future__ import annotations

import sys
from pathlib import Path

import psutil
from optuna.trial import TrialState

sys.path.insert(0, str(Path(__file__).parent))
from sweeper_app.harness import events, journal, load, run, start, sweep_args  # noqa: E402


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
