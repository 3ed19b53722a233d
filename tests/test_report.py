"""Study reports (python -m nnscratch.report) and optuna-dashboard reading the sweeper's storage."""
from __future__ import annotations

import io
import json

import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState

from nnscratch import report
from nnscratch.sweeper.storage import open_storage
from nnscratch.sweeper.studies import MLFLOW_PARENT_ATTR, SWEEPER_ATTR

SPACE = {"lr": FloatDistribution(1e-4, 1e-1, log=True), "batch_size": CategoricalDistribution([32, 64, 128]),
         "optimizer": CategoricalDistribution(["sgd", "adam"])}


def fill(study: optuna.Study, n: int = 10) -> None:
    """Trials shaped like a sweep's: per-epoch reports, two pruned, one failed."""
    for i in range(n):
        trial = study.ask(SPACE)
        quality = 0.9 - abs(trial.params["lr"] - 0.01) * 3 + (0.02 if trial.params["optimizer"] == "adam" else 0)
        epochs = 2 if i in (4, 7) else 4
        for epoch in range(1, epochs + 1):
            trial.report(quality - 0.05 * (4 - epoch), epoch)
        if i in (4, 7):
            trial.set_user_attr("pruned_at", epochs)
            study.tell(trial, state=TrialState.PRUNED)
        elif i == 8:
            trial.set_user_attr("fail_reason", "RuntimeError: diverged")
            study.tell(trial, state=TrialState.FAIL)
        else:
            study.tell(trial, quality)


@pytest.fixture()
def study_path(tmp_path):
    path = str(tmp_path / "optuna" / "lr.journal")
    study = optuna.create_study(study_name="lr", storage=open_storage(path), direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=1))
    study.set_user_attr(SWEEPER_ATTR, {"sampler": "RandomSampler(seed=1)", "pruner_name": "MedianPruner()",
                                       "n_trials": 10, "search_space": {"lr": "tag(log, interval(1e-4, 1e-1))"}})
    fill(study)
    return path, study


def test_report_writes_offline_html_a_trials_table_and_prints_the_best_trial(study_path, tmp_path, capsys):
    path, study = study_path
    assert report.main(["lr", "--storage", path, "--out", str(tmp_path / "out"), "--no-mlflow"]) == 0
    printed = capsys.readouterr().out
    best = study.best_trial
    assert f"Best trial #{best.number}: value={best.value:.6g}" in printed  # this study has no metric names
    assert f"lr={best.params['lr']}" in printed and "PRUNED 2" in printed and "FAIL 1" in printed
    page = (tmp_path / "out" / "report.html").read_text()
    assert "* plotly.js v" not in page and "<script src='plotly.min.js'>" in page  # one shared script, offline
    assert (tmp_path / "out" / "plotly.min.js").read_text().count("* plotly.js v") == 1
    assert (tmp_path / "out" / "report.html").stat().st_size < 1_500_000
    for title in ("Optimization history", "Parameter importances", "Parallel coordinates", "Slice plots",
                  "Contour plot of", "Intermediate values", "Numeric parameters", "Categorical parameters"):
        assert title in page
    assert page.count("Contour plot of") == 2  # the most important pairs only
    table = pd.read_csv(tmp_path / "out" / "trials.csv", index_col="number")
    assert {"state", "value", "params_lr", "duration_s", "epochs_run", "pruned_at"} <= set(table.columns)
    assert table.loc[4, "pruned_at"] == 2 and table.loc[4, "epochs_run"] == 2 and table.loc[0, "epochs_run"] == 4


def test_categorical_means_a_choice_in_the_search_space(study_path):
    _, study = study_path
    built = report.build_report(study, "x", with_plots=False)
    assert set(built.categorical["value"]["param"]) == {"batch_size", "optimizer"}
    assert set(built.numeric["value"]["param"]) == {"lr"}


def test_report_names_the_objective_by_the_study_metric_name(study_path, tmp_path):
    path, study = study_path
    with pytest.warns(optuna.exceptions.ExperimentalWarning):
        study.set_metric_names(["val/acc"])
    built = report.build_report(study, path, with_plots=False)
    assert [o.name for o in built.objectives] == ["val/acc"] and "val/acc" in built.table.columns
    assert f"Best trial #{study.best_trial.number}: val/acc=" in report.text_summary(built)


def test_default_storage_is_the_sweepers_journal(study_path, tmp_path, monkeypatch):
    monkeypatch.delenv("NNSCRATCH_OPTUNA_STORAGE", raising=False)
    (tmp_path / "multirun").mkdir()
    (tmp_path / "optuna").rename(tmp_path / "multirun" / "optuna")
    name, storage = report.resolve_storage("lr", None, tmp_path)
    assert (name, storage) == ("lr", str(tmp_path / "multirun" / "optuna" / "lr.journal"))
    assert report.resolve_storage(storage, None, tmp_path) == ("lr", storage)  # a journal path works too
    assert report.default_out_dir("lr", storage, tmp_path) == tmp_path / "multirun" / "optuna" / "reports" / "lr"


def test_multi_objective_report_shows_the_pareto_front(tmp_path):
    study = optuna.create_study(study_name="mo", storage=open_storage(str(tmp_path / "mo.journal")),
                                directions=["maximize", "minimize"])
    for acc, params in ((0.9, 1000), (0.95, 5000), (0.8, 800), (0.85, 6000)):
        trial = study.ask(SPACE)
        study.tell(trial, [acc, params])
    built = report.build_report(study, str(tmp_path / "mo.journal"))
    assert "Pareto front" in [p.title for p in built.plots]
    assert sorted(t.values[0] for t in built.best) == [0.8, 0.9, 0.95]
    assert report.text_summary(built).count("Pareto trial") == 3


def test_report_links_mlflow_runs_and_is_logged_to_the_parent_run(study_path, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    path, study = study_path
    uri = (tmp_path / "mlruns").as_uri()
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("sweep")
    parent, child = client.create_run(experiment), client.create_run(experiment)
    client.log_metric(child.info.run_id, "val/acc", 0.93)
    best = study.ask(SPACE)  # what record_run_id does while the trial runs
    for key, value in (("mlflow_run_id", child.info.run_id), ("mlflow_tracking_uri", uri),
                       ("mlflow_experiment_id", experiment)):
        best.set_user_attr(key, value)
    study.tell(best, 0.99)
    study.set_user_attr(MLFLOW_PARENT_ATTR, {"run_id": parent.info.run_id, "tracking_uri": uri})

    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    assert report.main(["lr", "--storage", path, "--out", str(tmp_path / "out")]) == 0
    printed = out.getvalue()
    assert "metrics: val/acc=0.93" in printed
    assert f"MLflow run: runs:/{child.info.run_id}" in printed and f"#/experiments/{experiment}/runs/" in printed
    logged = {f.path for f in client.list_artifacts(parent.info.run_id, "optuna_report")}
    assert logged == {"optuna_report/report.html", "optuna_report/trials.csv", "optuna_report/summary.txt",
                      "optuna_report/plotly.min.js"}
    page = (tmp_path / "out" / "report.html").read_text()
    assert f"<a href='http://127.0.0.1:5000/#/experiments/{experiment}/runs/{child.info.run_id}'>" in page


def test_optuna_dashboard_reads_the_sweeper_journal_as_is(study_path):
    wsgi = pytest.importorskip("optuna_dashboard").wsgi  # the `dev` extra

    path, study = study_path
    app = wsgi(path)

    def get(url: str):
        status = []
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": url, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
                   "SERVER_PORT": "8080", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO()}
        body = b"".join(app(environ, lambda code, headers, exc=None: status.append(code)))
        assert status[0].startswith("200")
        return json.loads(body)

    studies = get("/api/studies")["study_summaries"]
    assert [s["study_name"] for s in studies] == ["lr"]
    detail = get(f"/api/studies/{studies[0]['study_id']}")
    assert len(detail["trials"]) == len(study.trials)
