"""The logged MLflow pyfunc model, served by ``mlflow models serve`` on 127.0.0.1, answers JSON pixel rows."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from nnscratch.images import preprocess_image
from nnscratch.model_uri import run_model_uri
from tests.browser_support import Server, artifact_dir, free_port
from tests.view_support import EXAMPLES, sweep_store

READY_TIMEOUT_S = 180  # a loaded 2-core machine needs well over a minute to import MLflow twice


@pytest.fixture(scope="module")
def served(mnist):
    """``mlflow models serve`` of one sweep run's logged model; yields the base URL, killed after."""
    store = sweep_store()
    model_uri = run_model_uri(store.child_ids[0], store.tracking_uri)
    port = free_port()
    env = store.env()
    # the scoring server is started as `uvicorn ...` through bash: the venv's bin must be on PATH
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    argv = [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri, "--env-manager", "local",
            "-h", "127.0.0.1", "-p", str(port), "-w", "1", "-t", "30"]
    log_path = artifact_dir("serve") / "mlflow-models-serve.log"
    with Server(argv, f"http://127.0.0.1:{port}/ping", timeout=READY_TIMEOUT_S, log_path=log_path, env=env):
        yield f"http://127.0.0.1:{port}"


def post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
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
