"""The sweeper plugin end to end, in this process, with the toy app (tests/sweeper_app)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from optuna.trial import TrialState

sys.path.insert(0, str(Path(__file__).parent))
from sweeper_app.harness import events, journal, load, run_in_process, sweep_args  # noqa: E402


@pytest.fixture()
def sweep(tmp_path):
    """``sweep(study, *overrides) -> (exit code, study, sweep dir)`` with the toy app in this process."""

    def _sweep(study: str, *overrides: str, sweep_dir: str = "sweep"):
        directory = tmp_path / sweep_dir
        code = run_in_process(sweep_args(directory, study, *overrides), cwd=tmp_path)
        path = journal(directory, study)
        return code, (load(path, study) if path.exists() else None), directory

    return _sweep


def states(study) -> list[str]:
    return [t.state.name for t in study.get_trials()]


def test_sweep_runs_n_trials_and_writes_the_official_results_file(sweep):
    code, study, directory = sweep("basic", "hydra.sweeper.n_trials=3")
    assert code == 0 and states(study) == ["COMPLETE"] * 3
    results = OmegaConf.load(directory / "optimization_results.yaml")
    assert results.name == "optuna" and results.best_value == study.best_value
    assert dict(results.best_params) == study.best_params
    assert sorted(p.name for p in directory.iterdir() if p.name.isdigit()) == ["0", "1", "2"]  # job dir = trial
    assert study.user_attrs["sweeper"]["search_space"] == {"x": "interval(-2, 2)", "y": "interval(-1, 1)"}


def test_rerun_of_the_same_command_runs_only_the_missing_trials(sweep):
    _, first, directory = sweep("resume", "hydra.sweeper.n_trials=2")
    before = {t.number: t.datetime_complete for t in first.get_trials()}
    code, study, _ = sweep("resume", "hydra.sweeper.n_trials=5")
    assert code == 0 and states(study) == ["COMPLETE"] * 5
    assert {t.number: t.datetime_complete for t in study.get_trials()[:2]} == before
    assert [e["trial"] for e in events(directory, "resume")] == [0, 1, 2, 3, 4]
    code, study, _ = sweep("resume", "hydra.sweeper.n_trials=5")  # complete: nothing runs
    assert code == 0 and len(study.get_trials()) == 5 and len(events(directory, "resume")) == 5


def test_grid_is_exhausted_without_repeating_a_point_across_resumes(sweep):
    grid = ["hydra/sweeper/sampler=grid", "x=choice(0,1,2)", "y=range(0,2)"]
    sweep("grid", *grid, "hydra.sweeper.n_trials=3")  # half the grid, then resume it (a second worker)
    code, study, directory = sweep("grid", *grid, "hydra.sweeper.n_trials=10")
    points = sorted((t.params["x"], t.params["y"]) for t in study.get_trials())
    assert code == 0 and points == [(x, y) for x in (0, 1, 2) for y in (0, 1)]
    assert OmegaConf.load(directory / "optimization_results.yaml").best_params == {"x": 1, "y": 0}
    code, study, _ = sweep("grid", *grid, "hydra.sweeper.n_trials=10")
    assert code == 0 and len(study.get_trials()) == 6 and len(events(directory, "grid")) == 6


def test_failures_abort_the_sweep_beyond_max_failure_rate(sweep):
    code, study, _ = sweep("strict", "x=choice(5)", "fail_above=1", "hydra.sweeper.n_trials=3")
    assert code != 0 and states(study) == ["FAIL"]  # the default rate 0.0: the first failure stops the sweep
    assert "above fail_above" in study.get_trials()[0].user_attrs["fail_reason"]


def test_failures_within_max_failure_rate_are_recorded(sweep):
    code, study, _ = sweep("tolerant", "hydra/sweeper/sampler=grid", "x=choice(0,5,1,6)", "y=0", "fail_above=1",
                           "hydra.sweeper.n_trials=4", "hydra.sweeper.max_failure_rate=0.5")
    assert code == 0 and sorted(states(study)) == ["COMPLETE", "COMPLETE", "FAIL", "FAIL"]
    assert {t.params["x"] for t in study.get_trials() if t.state == TrialState.FAIL} == {5, 6}


def test_fixed_value_on_the_command_line_beats_the_configured_search(sweep):
    code, study, directory = sweep("fixed", "x=0.5", "hydra.sweeper.n_trials=2")
    assert code == 0 and all(set(t.params) == {"y"} for t in study.get_trials())
    assert {e["x"] for e in events(directory, "fixed")} == {0.5}


def test_multi_objective_sweep_writes_the_pareto_front(sweep):
    code, study, directory = sweep("mo", "objectives=2", "hydra.sweeper.direction=[maximize,minimize]",
                                   "hydra/sweeper/sampler=nsgaii", "hydra.sweeper.n_trials=4")
    assert code == 0 and len(study.directions) == 2 and states(study) == ["COMPLETE"] * 4
    solutions = OmegaConf.load(directory / "optimization_results.yaml").solutions
    assert len(solutions) >= 1 and all(len(s["values"]) == 2 for s in solutions)


def test_config_written_for_the_official_plugin_runs_unchanged(tmp_path):
    directory = tmp_path / "official"
    code = run_in_process(["+hparams_search=official", f"hydra.sweep.dir={directory}", "hydra.sweeper.n_trials=3"],
                          cwd=tmp_path)
    name = OmegaConf.load(directory / "optimization_results.yaml").study_name
    study = load(journal(directory, name), name)  # study_name: null -> the job name (fixed sweep dir)
    assert code == 0 and states(study) == ["COMPLETE"] * 3
    assert set(study.best_params) == {"x", "y", "epochs"}


def test_pruned_trials_stop_at_once_in_process(sweep):
    code, study, directory = sweep(
        "prune", "hydra/sweeper/sampler=grid", "x=choice(1,2,3,4,5)", "y=0", "epochs=4", "hydra.sweeper.n_trials=5",
        "hydra/sweeper/pruner=median", "hydra.sweeper.pruner.n_startup_trials=2")
    trials = study.get_trials()
    assert code == 0 and trials[0].state == trials[1].state == TrialState.COMPLETE
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    worse = [t for t in trials[2:] if t.params["x"] > max(trials[0].params["x"], trials[1].params["x"])]
    assert worse and {t.number for t in worse} <= {t.number for t in pruned}
    assert all(t.user_attrs["pruned_at"] == 1 and list(t.intermediate_values) == [1] for t in pruned)
    ended = {e["trial"] for e in events(directory, "prune", "end")}
    assert ended.isdisjoint(t.number for t in pruned)  # pruned jobs never reached the end of their loop


def test_custom_search_space_adds_parameters(sweep):
    code, study, directory = sweep("custom", "hydra.sweeper.n_trials=2",
                                   "hydra.sweeper.custom_search_space=sweeper_app.search_space.epochs_from_x")
    assert code == 0 and all("epochs" in t.params for t in study.get_trials())


def test_timeout_stops_starting_new_trials(sweep):
    code, study, _ = sweep("timeout", "hydra.sweeper.n_trials=50", "hydra.sweeper.timeout=0.5", "epochs=1", "sleep=0.3")
    assert code == 0 and 1 <= len(study.get_trials()) < 50 and states(study) == ["COMPLETE"] * len(study.trials)


def test_load_if_exists_false_refuses_a_study_with_trials(sweep):
    sweep("once", "hydra.sweeper.n_trials=1")
    code, study, _ = sweep("once", "hydra.sweeper.n_trials=2", "hydra.sweeper.load_if_exists=false")
    assert code != 0 and len(study.get_trials()) == 1
