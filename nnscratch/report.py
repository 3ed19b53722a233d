"""Study report: ``python -m nnscratch.report STUDY [--storage URL] [--out DIR] [--no-mlflow]``.

Writes ``report.html`` with ``plotly.min.js`` next to it (one shared script: the page stays small
and opens offline), ``trials.csv`` and ``summary.txt`` to ``DIR``, prints the text summary, and logs
the files as artifacts (``optuna_report/``) of the sweep's MLflow parent run when the study records
one (user attribute ``mlflow_parent``).

STUDY is a study name; without ``--storage`` the storage is ``$NNSCRATCH_OPTUNA_STORAGE`` or the
sweeper's default journal ``multirun/optuna/STUDY.journal``. STUDY may also be a journal file path
holding one study. The same storage opens in optuna-dashboard: ``optuna-dashboard <storage>``.
"""
from __future__ import annotations

import argparse
import html
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from nnscratch.sweeper.analysis import (
    Objective,
    best_trials,
    categorical_param_summary,
    categorical_params,
    importances,
    mlflow_link,
    mlflow_url,
    numeric_param_summary,
    objectives,
    trials_table,
)
from nnscratch.sweeper.plots import Plot, study_plots
from nnscratch.sweeper.storage import display_storage, is_rdb_url, journal_path, normalize_storage, open_storage
from nnscratch.sweeper.studies import MLFLOW_PARENT_ATTR, SWEEPER_ATTR

log = logging.getLogger(__name__)

DEFAULT_JOURNAL_DIR = Path("multirun") / "optuna"
ARTIFACT_DIR = "optuna_report"


@dataclass(frozen=True)
class Report:
    """Everything the report shows, computed once."""

    study: optuna.Study
    storage: str
    objectives: list[Objective]
    table: pd.DataFrame
    best: list[optuna.trial.FrozenTrial]
    importances: dict[str, dict[str, float]]
    numeric: dict[str, pd.DataFrame]
    categorical: dict[str, pd.DataFrame]
    plots: list[Plot]


def build_report(study: optuna.Study, storage: str, *, with_plots: bool = True) -> Report:
    objs = objectives(study)
    table = trials_table(study)
    imps = {o.name: importances(study, o) for o in objs}
    ranked = list(imps[objs[0].name]) or sorted({p for t in study.get_trials(deepcopy=False) for p in t.params})
    choices = categorical_params(study)
    return Report(study=study, storage=storage, objectives=objs, table=table, best=best_trials(study),
                  importances=imps, numeric={o.name: numeric_param_summary(table, o, choices) for o in objs},
                  categorical={o.name: categorical_param_summary(table, o, choices) for o in objs},
                  plots=study_plots(study, objs, ranked) if with_plots else [])


# --- text ---------------------------------------------------------------------------------------------
def text_summary(report: Report) -> str:
    """The printed summary: study, budget by state, best trial(s) with params, metrics and MLflow link."""
    study, table = report.study, report.table
    sweeper = study.user_attrs.get(SWEEPER_ATTR, {})
    counts = table["state"].value_counts().to_dict() if not table.empty else {}
    lines = [f"Study {study.study_name} in {display_storage(report.storage)}",
             f"  directions: {', '.join(o.direction for o in report.objectives)};  sampler: "
             f"{sweeper.get('sampler', '?')};  pruner: {sweeper.get('pruner_name', '?')}",
             f"  trials: {len(table)} ({', '.join(f'{k} {v}' for k, v in sorted(counts.items())) or 'none'})"
             f"; n_trials: {sweeper.get('n_trials', '?')}"]
    if sweeper.get("search_space"):
        lines.append("  search space: " + "; ".join(f"{k}={v}" for k, v in sweeper["search_space"].items()))
    if not report.best:
        lines.append("  no COMPLETE trial yet")
    for trial in report.best:
        lines += _trial_lines(trial, report.objectives, "Best trial" if len(report.best) == 1 else "Pareto trial")
    for name, imp in report.importances.items():
        if imp:
            lines.append(f"  importances ({name}): " + ", ".join(f"{k} {v:.2f}" for k, v in imp.items()))
    return "\n".join(lines)


def _trial_lines(trial: optuna.trial.FrozenTrial, objs: list[Objective], label: str) -> list[str]:
    values = ", ".join(f"{o.name}={trial.values[o.index]:.6g}" for o in objs)
    lines = [f"{label} #{trial.number}: {values}",
             "  params: " + ", ".join(f"{k}={v}" for k, v in trial.params.items())]
    metrics = run_metrics(trial.user_attrs)
    if metrics:
        lines.append("  metrics: " + ", ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items())))
    elif trial.intermediate_values:
        step = max(trial.intermediate_values)
        lines.append(f"  last reported value: {trial.intermediate_values[step]:.6g} at epoch {step}")
    link = mlflow_link(trial.user_attrs)
    if link:
        lines.append(f"  MLflow run: {link}")
    return lines


def run_metrics(user_attrs: dict[str, Any]) -> dict[str, float]:
    """Final metrics of the trial's MLflow run (empty without a run, or when MLflow is unreachable)."""
    run_id = user_attrs.get("mlflow_run_id")
    if not run_id:
        return {}
    try:
        from mlflow.tracking import MlflowClient

        return dict(MlflowClient(tracking_uri=user_attrs.get("mlflow_tracking_uri")).get_run(run_id).data.metrics)
    except Exception as error:  # noqa: BLE001 - the report works without MLflow
        log.info("metrics of MLflow run %s not available: %s", run_id, error)
        return {}


# --- html ---------------------------------------------------------------------------------------------
PLOTLY_JS = "plotly.min.js"
STYLE = ("body{font-family:sans-serif;margin:2em;max-width:1200px} "
         "pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f6f6;padding:.8em} "
         "table{border-collapse:collapse;font-size:13px;display:block;overflow-x:auto;max-width:100%} "
         "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right} .plotly-graph-div{max-width:100%}")


def render_html(report: Report, summary: str) -> str:
    """The report page; it loads :data:`PLOTLY_JS` from its own directory (see :func:`write_report`)."""
    parts = [f"<h1>Optuna study {html.escape(report.study.study_name)}</h1>",
             f"<pre>{html.escape(summary)}</pre>",
             "<p>Browse it live with <code>optuna-dashboard "
             f"{html.escape(display_storage(report.storage))}</code>.</p>"]
    for name in report.numeric:
        parts += [_table(f"Numeric parameters vs {name}", report.numeric[name]),
                  _table(f"Categorical parameters vs {name}", report.categorical[name])]
    trials = _linked_runs(report.study, report.table.drop(columns=["started"], errors="ignore"))
    parts.append(_table("All trials", trials, html_columns=("mlflow_run_id",)))
    for plot in report.plots:
        parts.append(f"<h2>{html.escape(plot.title)}</h2>")
        if plot.figure is None:
            parts.append(f"<p><em>not available: {html.escape(plot.missing or '')}</em></p>")
            continue
        parts.append(plot.figure.to_html(full_html=False, include_plotlyjs=False, config={"responsive": True}))
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(report.study.study_name)}"
            f"</title><style>{STYLE}</style><script src='{PLOTLY_JS}'></script></head><body>\n"
            + "\n".join(parts) + "\n</body></html>\n")


def _linked_runs(study: optuna.Study, table: pd.DataFrame) -> pd.DataFrame:
    """The ``mlflow_run_id`` column as HTML links to the runs' pages in the MLflow UI."""
    if "mlflow_run_id" not in table.columns:
        return table
    urls = {t.number: mlflow_url(t.user_attrs) for t in study.get_trials(deepcopy=False)}
    linked = table.copy()
    linked["mlflow_run_id"] = [f"<a href='{html.escape(urls[n])}'>{html.escape(str(run))}</a>"
                               if run and urls.get(n) else "" for n, run in zip(table.index, table["mlflow_run_id"])]
    return linked


def _cell(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else html.escape(str(value))


def _table(title: str, frame: pd.DataFrame, html_columns: tuple[str, ...] = ()) -> str:
    """``frame`` as an HTML table; cells are escaped except in ``html_columns`` (already HTML)."""
    if frame.empty:
        return f"<h2>{html.escape(title)}</h2><p><em>none</em></p>"
    shown = frame.astype(object).where(frame.notna(), "")  # None and NaN both print as empty cells
    for column in shown.columns:
        if column not in html_columns:
            shown[column] = shown[column].map(_cell)
    return f"<h2>{html.escape(title)}</h2>" + shown.to_html(escape=False)


# --- files and MLflow ----------------------------------------------------------------------------------
def write_report(report: Report, out_dir: Path) -> tuple[list[Path], str]:
    """Write report.html, trials.csv and summary.txt; returns the paths and the summary text."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = text_summary(report)
    paths = [out_dir / "report.html", out_dir / "trials.csv", out_dir / "summary.txt", out_dir / PLOTLY_JS]
    paths[0].write_text(render_html(report, summary), encoding="utf-8")
    paths[3].write_text(plotly_js(), encoding="utf-8")
    report.table.to_csv(paths[1])
    paths[2].write_text(summary + "\n", encoding="utf-8")
    return paths, summary


def plotly_js() -> str:
    """The plotly.js bundle of the installed plotly package (the report's one shared script)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def log_to_parent_run(study: optuna.Study, paths: list[Path]) -> str | None:
    """Log ``paths`` as artifacts of the sweep's MLflow parent run; returns its run id (None if absent)."""
    parent = study.user_attrs.get(MLFLOW_PARENT_ATTR) or {}
    if not parent.get("run_id"):
        return None
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=parent.get("tracking_uri"))
    for path in paths:
        client.log_artifact(parent["run_id"], str(path), artifact_path=ARTIFACT_DIR)
    return str(parent["run_id"])


def resolve_storage(study: str, storage: str | None, cwd: Path) -> tuple[str, str]:
    """(study name, normalized storage) from the command line (see the module docstring).

    Raises
    ------
    FileNotFoundError
        When no storage is given and no default journal exists.
    """
    if storage:
        return study, normalize_storage(storage, cwd)
    if os.environ.get("NNSCRATCH_OPTUNA_STORAGE"):
        return study, normalize_storage(os.environ["NNSCRATCH_OPTUNA_STORAGE"], cwd)
    as_path = cwd / study
    if as_path.is_file():
        names = [s.study_name for s in optuna.get_all_study_summaries(open_storage(str(as_path.resolve())))]
        if len(names) != 1:
            raise ValueError(f"{as_path} holds studies {names}; pass the study name and --storage {as_path}")
        return names[0], str(as_path.resolve())
    default = cwd / DEFAULT_JOURNAL_DIR / f"{study}.journal"
    if default.is_file():
        return study, str(default.resolve())
    raise FileNotFoundError(f"no storage given and {default} does not exist; pass --storage URL_OR_JOURNAL")


def default_out_dir(study: str, storage: str, cwd: Path) -> Path:
    """``<journal dir>/reports/STUDY`` for journal files, ``multirun/reports/STUDY`` for databases."""
    path = journal_path(storage)
    base = path.parent if path is not None and not is_rdb_url(storage) else cwd / "multirun"
    return base / "reports" / study


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nnscratch.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("study", help="study name (or a journal file holding one study)")
    parser.add_argument("--storage", help="RDB URL or journal file path (default: see module docs)")
    parser.add_argument("--out", type=Path, help="output directory (default: <journal dir>/reports/STUDY)")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log the report to the parent run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cwd = Path.cwd()
    name, storage = resolve_storage(args.study, args.storage, cwd)
    study = optuna.load_study(study_name=name, storage=open_storage(storage))
    report = build_report(study, storage)
    paths, summary = write_report(report, args.out or default_out_dir(name, storage, cwd))
    print(summary)
    print(f"\nreport: {paths[0]}\ntable:  {paths[1]}")
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.max_rows", 60):
        print("\n" + report.table.drop(columns=["started", "fail_reason"], errors="ignore").to_string())
    if not args.no_mlflow:
        try:
            run_id = log_to_parent_run(study, paths)
        except Exception as error:  # noqa: BLE001 - the files are written either way
            print(f"could not log the report to MLflow: {error}", file=sys.stderr)
        else:
            if run_id:
                print(f"logged to MLflow parent run {run_id} under {ARTIFACT_DIR}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
