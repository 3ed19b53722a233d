"""The MLflow UI and the study report, opened in headless Chromium as a person would.

A real small sweep (``train.py -m``, see :mod:`tests.view_support`) is served by ``mlflow server``
on 127.0.0.1; the tests click through the experiment, the compare view and a run's artifacts, and
open the study report written by ``python -m nnscratch.report``. Screenshots go to
``$NNSCRATCH_TEST_ARTIFACTS/browser`` (default: ``<tmp>/nnscratch-test-artifacts/browser``).
Without Chromium or Playwright the tests skip, except under CI where they fail.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.browser_support import Server, artifact_dir, browser_context, free_port, new_page, require_browser
from tests.view_support import REPO, EXPERIMENT, STUDY_TRIALS, study_store, sweep_store

pytestmark = pytest.mark.browser

SERVER_TIMEOUT_S = 180
UI_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def chromium() -> str:
    return require_browser()


@pytest.fixture(scope="module")
def shots() -> Path:
    return artifact_dir("browser")


@pytest.fixture(scope="module")
def store(mnist, chromium):
    return sweep_store()


def client_of(store):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=store.tracking_uri)


@pytest.fixture(scope="module")
def study(mnist):
    """The 6-trial Optuna sweep, in the same MLflow store as ``store``."""
    return study_store()


@pytest.fixture(scope="module")
def mlflow_ui(store, study, shots):
    """``mlflow server`` over the sweep's store on a free 127.0.0.1 port; killed after the module."""
    port = free_port()
    env = store.env()
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"  # no GenAI job runner: answers in half the time
    argv = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store.tracking_uri,
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with Server(argv, f"http://127.0.0.1:{port}/health", timeout=SERVER_TIMEOUT_S,
                log_path=shots / "mlflow-server.log", env=env, cwd=store.root):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def browser(chromium):
    """One headless Chromium (fresh profile) for the module."""
    with browser_context(chromium) as context:
        context.set_default_timeout(UI_TIMEOUT_MS)
        yield context


@pytest.fixture(scope="module")
def page(mlflow_ui, browser):  # server first, so it outlives the browser at teardown
    """One browser page for the MLflow UI tests, switched to the UI's "Model training" view."""
    page = new_page(browser)
    page.goto(mlflow_ui + "/#/experiments", wait_until="load")
    page.get_by_text("Model training", exact=True).first.click()  # MLflow 3 opens in its GenAI view
    yield page
    page.close()


def close_assistant(page) -> None:
    """Close the MLflow Assistant side panel if it popped open (it hides part of the page)."""
    close = page.get_by_role("button", name="Close")
    if close.count():
        close.first.click()


def run_names(store) -> tuple[str, list[str]]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=store.tracking_uri)
    parent = client.get_run(store.parent_id).info.run_name
    return parent, [client.get_run(r).info.run_name for r in store.child_ids]


def test_experiment_lists_parent_run_with_its_children(page, mlflow_ui, store, shots):
    parent, children = run_names(store)
    page.goto(mlflow_ui + "/#/experiments", wait_until="load")
    page.get_by_role("heading", name="Experiments", exact=True).wait_for()
    page.get_by_role("row").get_by_role("link", name=EXPERIMENT, exact=True).click()
    page.get_by_text(parent, exact=True).first.wait_for()
    close_assistant(page)
    for child in children:  # collapsed under the parent until expanded
        assert not page.get_by_text(child, exact=True).is_visible()
    name_cell = page.locator('[col-id="attributes.`Run Name`"]').filter(has_text=parent)
    name_cell.locator("button").first.click()  # the expand (+) button of the parent row
    for child in children:
        page.get_by_text(child, exact=True).first.wait_for()
    rows = page.locator(".ag-center-cols-container .ag-row")
    assert rows.count() == 1 + len(children)
    page.screenshot(path=shots / "mlflow-experiment-runs.png")


# Lines of the smallest block around an element whose lines include all `values` (the compare
# view draws metric names and metric values in separate virtualized grids side by side).
BLOCK_AROUND = """(element, values) => {
    for (let x = element; x; x = x.parentElement) {
        const lines = (x.innerText || '').split(/[\\n\\t]/).map(s => s.trim());
        if (values.every(v => lines.includes(v))) return lines;
    }
    return null;
}"""


def test_compare_view_shows_swept_params_and_metrics(page, mlflow_ui, store, shots):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=store.tracking_uri)
    runs = [client.get_run(r) for r in store.child_ids]
    ids = ",".join(f'"{r}"' for r in store.child_ids)
    page.goto(f'{mlflow_ui}/#/compare-runs?runs=[{ids}]&experiments=["{store.experiment_id}"]', wait_until="load")
    page.get_by_text(f"Comparing {len(runs)} Runs").wait_for()
    close_assistant(page)
    # parameters: the only params that differ between the runs are the swept learning rate
    diff_rows = page.locator("tr.diff-row")
    diff_rows.first.wait_for()
    differing = {row.split("\t")[0]: row.split("\t")[1:] for row in diff_rows.all_inner_texts()}
    assert sorted(differing["lr"]) == sorted(r.data.params["lr"] for r in runs)
    assert set(differing) & set(runs[0].data.params) == {"lr"}  # tags may differ too
    # metrics: every tracked metric is listed, with each run's final test accuracy
    accuracies = [str(round(r.data.metrics["test/acc"], 3)) for r in runs]
    lines = page.get_by_text("test/acc", exact=True).first.evaluate(BLOCK_AROUND, accuracies)
    assert lines is not None, f"test/acc values {accuracies} not shown"
    assert {"train/loss", "train/acc", "val/loss", "val/acc", "test/loss"} <= set(lines)
    for run in runs:
        assert page.get_by_text(run.info.run_name, exact=True).count() >= 1
    switches = page.get_by_role("switch")
    if switches.count():  # "Show diff only" of the parameters: what a person flips to see the sweep
        switches.first.click()
        page.get_by_text("batch_size", exact=True).wait_for(state="hidden")
    page.set_viewport_size({"width": 1400, "height": 2000})
    page.get_by_text("Run details").first.scroll_into_view_if_needed()
    page.screenshot(path=shots / "mlflow-compare-runs.png")
    page.set_viewport_size({"width": 1400, "height": 900})


def test_run_artifacts_include_a_loading_confusion_matrix(page, mlflow_ui, store, shots):
    run_id = store.child_ids[0]
    page.goto(f"{mlflow_ui}/#/experiments/{store.experiment_id}/runs/{run_id}", wait_until="load")
    page.get_by_role("tab", name="Artifacts").or_(page.get_by_text("Artifacts", exact=True)).first.click()
    close_assistant(page)
    page.get_by_text("confusion_matrix.png", exact=True).first.click()  # at the artifact root
    # the preview is an <img> whose blob is the artifact fetched from the server
    size = page.wait_for_function(
        """() => { const img = [...document.querySelectorAll('img')].find(
                       i => i.src.startsWith('blob:') && i.complete && i.naturalWidth > 0);
                   return img ? [img.naturalWidth, img.naturalHeight] : null; }""").json_value()
    with Image.open(store.root / "mlruns" / run_id / "artifacts" / "confusion_matrix.png") as png:
        assert tuple(size) == png.size
    page.screenshot(path=shots / "mlflow-run-artifacts-confusion-matrix.png")


@pytest.fixture(scope="module")
def study_report(tmp_path_factory) -> Path:
    """``python -m nnscratch.report`` on a small Optuna study (two params, intermediate values)."""
    import optuna

    root = tmp_path_factory.mktemp("report")
    storage = f"sqlite:///{root / 'optuna.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="view-report", storage=storage, direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=0))

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        hidden = trial.suggest_categorical("hidden", [32, 64])
        value = 0.0
        for epoch in range(1, 4):
            value = 0.9 - 0.1 * abs(math.log10(lr) + 2) + 0.01 * epoch + (0.01 if hidden == 64 else 0.0)
            trial.report(value, epoch)
        return value

    study.optimize(objective, n_trials=8)
    out = root / "out"
    done = subprocess.run([sys.executable, "-m", "nnscratch.report", "view-report", "--storage", storage,
                           "--out", str(out), "--no-mlflow"], cwd=REPO, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return out / "report.html"


def test_study_report_loads_without_console_errors_and_draws_plots(study_report, browser, shots):
    page = new_page(browser)
    try:
        page.goto(study_report.as_uri(), wait_until="load")
        plots = page.locator(".plotly-graph-div")
        plots.first.wait_for(timeout=UI_TIMEOUT_MS)
        page.wait_for_function(
            """() => [...document.querySelectorAll('.plotly-graph-div')].every(
                       d => d.querySelector('svg.main-svg') && d.getBoundingClientRect().height > 50)""",
            timeout=UI_TIMEOUT_MS)
        assert plots.count() >= 2
        traces = page.evaluate("() => [...document.querySelectorAll('.plotly-graph-div')].map(d => d.data.length)")
        assert all(n >= 1 for n in traces)
        page.screenshot(path=shots / "study-report.png", full_page=True)
        assert page.errors == []
    finally:
        page.close()


# --- the Optuna sweep: which trial was best, and why --------------------------------------------------

SETTINGS = {"lr", "optimizer", "batch_size", "epochs", "hidden_sizes", "keep_prob", "l2", "seed", "model", "data",
            "schedule", "dtype"}
COPIES = {"optimizer.lr", "model.hidden_sizes", "model.keep_prob", "model.dtype", "data.dtype", "data.name",
          "fit.epochs", "fit.batch_size", "fit.l2"}


def test_child_params_hold_each_setting_once_under_the_name_people_type(study):
    import optuna

    client = client_of(study)
    trials = {t.number: t for t in optuna.load_study(study_name="view-study", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(study.journal)))).trials}
    for run_id in study.child_ids:
        run = client.get_run(run_id)
        params, trial = run.data.params, trials[int(run.data.tags["optuna.trial_number"])]
        assert SETTINGS <= params.keys()
        assert {"optimizer.beta1", "optimizer.beta2", "optimizer.eps"} <= params.keys()  # the optimizer's knobs
        assert not COPIES & params.keys()
        assert not [k for k in params if k.startswith(("tracking.", "hydra.")) or "_target_" in k]
        assert (params["optimizer"], params["model"], params["schedule"], params["data"]) == \
            ("adam", "three_layer", "constant", "mnist")
        assert float(params["lr"]) == pytest.approx(trial.params["lr"]) and params["batch_size"] == str(
            trial.params["batch_size"])


def test_console_ends_the_sweep_with_the_winner_and_ui_links(study):
    board = sorted(((client_of(study).get_run(r).data.metrics["val/acc"], r) for r in study.child_ids), reverse=True)
    value, best = board[0]
    assert f"best of {STUDY_TRIALS} runs: val/acc={value:.4f}" in study.console and f"run {best}" in study.console
    assert f"/#/experiments/{study.experiment_id}/runs/{study.parent_id}" in study.console
    assert "#/compare-runs?runs=" in study.console
    assert "Joblib" not in study.console and "env_set" not in study.console  # one line per trial is ours
    assert study.console.count("Using an existing study") <= 1
    assert "Validating input example" not in study.console


def test_optuna_children_are_named_by_trial_number(page, mlflow_ui, study, shots):
    client = client_of(study)
    children = [client.get_run(r) for r in study.child_ids]
    for run in children:
        assert run.info.run_name.startswith(f"trial-{int(run.data.tags['optuna.trial_number']):03d} lr=")
        assert len(run.info.run_name) <= 40
    page.goto(f"{mlflow_ui}/#/experiments/{study.experiment_id}", wait_until="load")
    parent = client.get_run(study.parent_id).info.run_name
    page.get_by_text(parent, exact=True).first.wait_for()
    close_assistant(page)
    name_cell = page.locator('[col-id="attributes.`Run Name`"]').filter(has_text=parent)
    name_cell.locator("button").first.click()
    for run in children:
        page.get_by_text(run.info.run_name, exact=True).first.wait_for()
    page.screenshot(path=shots / "optuna-experiment-runs.png")


def test_parent_run_ranks_the_trials_best_first_and_links_the_winner(page, mlflow_ui, study, shots, browser):
    client = client_of(study)
    ranked = sorted((client.get_run(r) for r in study.child_ids), key=lambda r: -r.data.metrics["val/acc"])
    page.goto(f"{mlflow_ui}/#/experiments/{study.experiment_id}/runs/{study.parent_id}", wait_until="load")
    page.get_by_text("Best:", exact=False).first.wait_for()
    close_assistant(page)
    more = page.get_by_text("Show more", exact=True)
    if more.count():
        more.first.click()
    table = page.locator("table").filter(has_text="rank")
    rows = table.locator("tbody tr")
    rows.nth(STUDY_TRIALS - 1).wait_for()
    assert rows.count() == STUDY_TRIALS
    cells = [row.locator("td").all_inner_texts() for row in rows.all()]
    assert [c[2] for c in cells] == [f"{r.data.metrics['val/acc']:.4f}" for r in ranked]  # best first
    assert cells[0][1] == ranked[0].info.run_name and {c[1] for c in cells} == {r.info.run_name for r in ranked}
    assert {"lr", "batch_size"} <= set(table.locator("th").all_inner_texts())  # what the sweep varied
    page.set_viewport_size({"width": 1400, "height": 1400})
    page.screenshot(path=shots / "optuna-parent-run-leaderboard.png")
    page.set_viewport_size({"width": 1400, "height": 900})
    with browser.expect_page() as opened:  # the note's links open in a new tab
        rows.first.get_by_role("link").click()
    winner = opened.value
    winner.wait_for_load_state("load")
    winner.get_by_text(ranked[0].info.run_name, exact=True).first.wait_for(timeout=UI_TIMEOUT_MS)
    assert ranked[0].info.run_id in winner.url
    winner.screenshot(path=shots / "optuna-best-run.png")
    winner.close()


def test_compare_view_shows_the_confusion_matrices_side_by_side(page, mlflow_ui, study, shots):
    from nnscratch.tracking.ui_links import UiLinks

    page.set_viewport_size({"width": 1800, "height": 1400})
    try:
        page.goto(UiLinks(mlflow_ui).compare(study.experiment_id, study.child_ids), wait_until="load")
        page.get_by_text(f"Comparing {STUDY_TRIALS} Runs").wait_for()
        close_assistant(page)
        node = page.locator('[data-testid="artifact-tree-node"][artifact-name="confusion_matrix.png"]').first
        node.scroll_into_view_if_needed()  # the compare view lists only files at the artifact root
        node.locator("div").first.dispatch_event("click")
        shown = page.wait_for_function(
            """n => { const imgs = [...document.querySelectorAll('img')].filter(
                          i => i.src.startsWith('blob:') && i.complete && i.naturalWidth > 0
                               && i.getBoundingClientRect().width > 0);
                      return imgs.length >= n ? imgs.map(i => [i.getBoundingClientRect().x,
                                                               i.getBoundingClientRect().y]) : null; }""",
            arg=STUDY_TRIALS).json_value()
        xs, ys = [p[0] for p in shown], {round(p[1]) for p in shown}
        assert len(ys) == 1 and xs == sorted(xs)  # one row, side by side
        page.get_by_text("Artifacts", exact=True).last.scroll_into_view_if_needed()
        page.screenshot(path=shots / "optuna-compare-confusion-matrices.png")
    finally:
        page.set_viewport_size({"width": 1400, "height": 900})


def test_study_report_names_the_optimized_metric_and_fits_the_page(study, browser, shots, tmp_path):
    out = tmp_path / "report"
    done = subprocess.run([sys.executable, "-m", "nnscratch.report", "view-study", "--storage", str(study.journal),
                           "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "Best trial" in done.stdout and "val/acc=" in done.stdout
    assert (out / "report.html").stat().st_size <= 1_500_000
    page = new_page(browser)
    try:
        page.goto((out / "report.html").as_uri(), wait_until="load")
        page.wait_for_function("() => document.querySelectorAll('.plotly-graph-div svg.main-svg').length > 2",
                               timeout=UI_TIMEOUT_MS)
        text = page.inner_text("body")
        assert "Numeric parameters vs val/acc" in text and "Categorical parameters vs val/acc" in text
        assert "Objective" not in text
        axis_titles = page.evaluate("() => [...document.querySelectorAll('.plotly-graph-div')].map("
                                    "d => d.layout && d.layout.yaxis && d.layout.yaxis.title && d.layout.yaxis.title.text)")
        assert "val/acc" in axis_titles  # the optimization history's axis
        links = page.locator("a[href*='#/experiments/']")
        assert links.count() == STUDY_TRIALS  # every trial's run, linked
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        page.screenshot(path=shots / "optuna-study-report.png", full_page=True)
        assert page.errors == []
    finally:
        page.close()
