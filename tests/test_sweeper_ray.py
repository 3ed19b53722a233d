"""Sweeps through ``hydra/launcher=ray`` on a local Ray head, inside a loopback-only network namespace.

Marked ``ray``: Ray is a heavy install (``pip install -e ".[ray]"``); .ci/run installs it and runs
these tests as their own step. Fails, does not skip, when ``CI`` is set and Ray cannot run.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from optuna.trial import TrialState

sys.path.insert(0, str(Path(__file__).parent))
from sweeper_app.harness import events, journal, load  # noqa: E402

pytestmark = pytest.mark.ray
SCENARIO = Path(__file__).resolve().with_name("ray_in_netns.py")


def _unavailable() -> str | None:
    if importlib.util.find_spec("ray") is None or importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is None:
        return 'Ray is not installed (pip install -e ".[ray]")'
    if shutil.which("unshare") is None or shutil.which("ip") is None or os.geteuid() != 0:
        return "needs root with unshare and ip for a loopback-only network namespace"
    return None


@pytest.fixture(scope="module")
def ray_runs(tmp_path_factory):
    reason = _unavailable()
    if reason:
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(reason + "; CI is set, so the Ray tests are required", pytrace=False)
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("ray")
    done = subprocess.run(["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" "$1" "$2"',
                           sys.executable, str(SCENARIO), str(root)], capture_output=True, text=True, timeout=1500)
    logs = "".join(p.read_text(errors="replace")[-3000:] for p in sorted(root.glob("*.log")))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:] + logs
    return root


def test_four_trials_with_pruning_run_as_ray_tasks(ray_runs):
    trials = load(journal(ray_runs / "pruned", "pruned"), "pruned").get_trials()
    assert len(trials) == 4 and all(t.state.is_finished() for t in trials)
    assert trials[3].state == TrialState.PRUNED
    assert {e["blas"] for e in events(ray_runs / "pruned", "pruned")} <= {1, None}  # the task's num_cpus=1


def test_kill_9_of_the_driver_then_rerun_trains_nothing_twice(ray_runs):
    trials = load(journal(ray_runs / "killed", "killed"), "killed").get_trials()
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 4
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    ended = [e["trial"] for e in events(ray_runs / "killed", "killed", "end")]
    assert len(ended) == len(set(ended)) == 4  # every completed trial ran to its end once
