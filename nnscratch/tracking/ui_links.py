"""Addresses in the MLflow UI: a run's page, the compare view of several runs, an experiment's runs.

For an http(s) tracking server the UI is that server; for a local store (SQLite, a directory) it is
``mlflow ui`` on 127.0.0.1:5000, and :meth:`UiLinks.serve_hint` says how to start it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

LOCAL_UI = "http://127.0.0.1:5000"


@dataclass(frozen=True)
class UiLinks:
    """Links into the MLflow UI that shows ``tracking_uri`` (pass it redacted: links get printed)."""

    tracking_uri: str

    @property
    def base(self) -> str:
        uri = self.tracking_uri
        return uri.rstrip("/") if uri.startswith(("http://", "https://")) else LOCAL_UI

    @property
    def serve_hint(self) -> str | None:
        """The command that serves a local store's UI, or None for a tracking server."""
        if self.tracking_uri.startswith(("http://", "https://")):
            return None
        return f"mlflow ui --backend-store-uri {self.tracking_uri}" if self.tracking_uri else "mlflow ui"

    def run(self, experiment_id: str, run_id: str) -> str:
        return f"{self.base}/{run_fragment(experiment_id, run_id)}"

    def compare(self, experiment_id: str, run_ids: Sequence[str]) -> str:
        runs = quote(json.dumps(list(run_ids), separators=(",", ":")))
        return f"{self.base}/#/compare-runs?runs={runs}&experiments={quote(json.dumps([str(experiment_id)]))}"

    def experiment(self, experiment_id: str) -> str:
        return f"{self.base}/#/experiments/{experiment_id}"


def run_fragment(experiment_id: str | None, run_id: str) -> str:
    """``#/experiments/<id>/runs/<run>``: a link that works relative to any MLflow UI page."""
    return f"#/experiments/{experiment_id}/runs/{run_id}" if experiment_id is not None else f"#/runs/{run_id}"
