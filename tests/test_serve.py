"""The logged MLflow pyfunc model, served by ``python -m nnscratch.serve`` (``mlflow models serve``) on
127.0.0.1 with the venv's ``bin`` not on PATH, answers JSON and CSV pixel rows."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from nnscratch.images import preprocess_image
from tests.browser_support import Server, artifact_dir, free_port
from tests.view_support import EXAMPLES, sweep_store

READY_TIMEOUT_S = 180  # a loaded 2-core machine needs well over a minute to import MLflow twice


@pytest.fixture(scope="module")
def served(mnist):
    """``python -m nnscratch.serve RUN_ID`` of one sweep run, as from a fresh shell (venv not activated)."""
    store = sweep_store()
    port = free_port()
    env = store.env()
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin) or "/usr/bin:/bin"
    env.pop("VIRTUAL_ENV", None)
    argv = [sys.executable, "-m", "nnscratch.serve", store.child_ids[0], "--port", str(port)]
    log_path = artifact_dir("serve") / "nnscratch-serve.log"
    with Server(argv, f"http://127.0.0.1:{port}/ping", timeout=READY_TIMEOUT_S, log_path=log_path, env=env,
                cwd=store.root):
        yield f"http://127.0.0.1:{port}"


def post(url: str, body: dict | str) -> tuple[int, dict]:
    csv = isinstance(body, str)
    request = urllib.request.Request(url, data=(body if csv else json.dumps(body)).encode(), method="POST",
                                     headers={"Content-Type": "text/csv" if csv else "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def example_rows() -> list[list[float]]:
    return [preprocess_image(EXAMPLES / name).tolist()
            for name in ("three_dark_on_light.png", "seven_light_on_dark.png")]


@pytest.mark.parametrize("wrap", [lambda rows: {"inputs": rows}, lambda rows: {"dataframe_split": {"data": rows}}],
                         ids=["inputs", "dataframe_split"])
def test_served_model_classifies_pixel_rows(served, wrap):
    status, body = post(served + "/invocations", wrap(example_rows()))
    assert status == 200, body
    predictions = body["predictions"]
    assert [p["label"] for p in predictions] == [3, 7]
    assert [p["class_name"] for p in predictions] == ["3", "7"]
    assert all(0.5 < p["confidence"] <= 1.0 for p in predictions)


def test_served_model_rejects_raw_bytes_and_wrong_width(served):
    status, body = post(served + "/invocations", {"inputs": [[255.0] * 784]})
    assert status == 400
    assert "in [0, 1]" in json.dumps(body)
    status, body = post(served + "/invocations", {"inputs": [[0.5] * 10]})
    assert status == 400
    assert "schema" in body["message"]


def test_served_model_reads_a_csv_with_a_header_line(served):
    rows = example_rows()
    header = ",".join(f"p{i}" for i in range(len(rows[0])))  # the README's recipe: a header, then pixel rows
    body = "\n".join([header, *(",".join(f"{v:.6f}" for v in row) for row in rows)]) + "\n"
    status, answer = post(served + "/invocations", body)
    assert status == 200, answer
    assert [p["label"] for p in answer["predictions"]] == [3, 7]  # both rows: none taken as the header
