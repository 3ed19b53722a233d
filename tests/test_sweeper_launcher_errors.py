"""Launcher exceptions are failures: they count toward max_failure_rate, and a sweep with no result fails."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hydra.core.plugins import Plugins

sys.path.insert(0, str(Path(__file__).parent))
from sweeper_app.harness import journal, load, run_in_process, sweep_args  # noqa: E402

RAY_ERROR = "object_store_memory must not be provided"  # what a broken launcher said on every trial


@pytest.fixture()
def broken_launcher(monkeypatch):
    def launch(self, job_overrides, initial_job_idx):
        raise RuntimeError(RAY_ERROR)

    joblib = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
    monkeypatch.setattr(Plugins.instance().class_name_to_class[joblib], "launch", launch)  # the class Hydra uses


def test_a_launcher_that_fails_every_trial_fails_the_sweep_with_its_error(broken_launcher, tmp_path, capsys):
    directory = tmp_path / "sweep"
    code = run_in_process(sweep_args(directory, "broken", "hydra/launcher=joblib", "hydra.sweeper.n_trials=3",
                                     "hydra.sweeper.max_failure_rate=1.0"), cwd=tmp_path)
    trials = load(journal(directory, "broken"), "broken").get_trials()
    assert code != 0
    assert all(t.state.name == "FAIL" and RAY_ERROR in t.user_attrs["fail_reason"] for t in trials)
    assert len(trials) == 3 * 3  # each of the 3 trials: the first try and max_retries=2 re-queued tries
    assert f"no trial completed and 3 failed; the first error: RuntimeError: {RAY_ERROR}" in capsys.readouterr().out


def test_launcher_errors_count_toward_max_failure_rate(broken_launcher, tmp_path):
    directory = tmp_path / "sweep"
    code = run_in_process(sweep_args(directory, "strict", "hydra/launcher=joblib", "hydra.sweeper.n_trials=12"),
                          cwd=tmp_path)
    trials = load(journal(directory, "strict"), "strict").get_trials()
    assert code != 0  # the default max_failure_rate=0: the first trial whose retries fail stops the sweep
    assert [t.state.name for t in trials] == ["FAIL"] * 3 and [t.user_attrs.get("retry_of") for t in trials] == [
        None, 0, 1]
