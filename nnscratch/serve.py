"""Serve a run's logged model over HTTP on 127.0.0.1: ``python -m nnscratch.serve RUN_ID [--port 5001]``.

Runs ``mlflow models serve -m <the run's model> --env-manager local`` with this interpreter's ``bin``
directory first on ``PATH`` (MLflow starts its scoring server as a ``uvicorn`` command, which is not
found when the venv is not activated) and the tracking URI in ``MLFLOW_TRACKING_URI``. Requests::

    curl -s 127.0.0.1:5001/invocations -H 'Content-Type: application/json' -d '{"inputs": [[0.0, ..., 0.0]]}'
    curl -s 127.0.0.1:5001/invocations -H 'Content-Type: text/csv' --data-binary @pixels.csv

A CSV needs a header line (one name per pixel column): MLflow reads the first line as column names.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

DEFAULT_PORT = 5001


def serve_command(model_uri: str, port: int, workers: int) -> list[str]:
    """The ``mlflow models serve`` command line, bound to 127.0.0.1."""
    return [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri, "--env-manager", "local",
            "-h", "127.0.0.1", "-p", str(port), "-w", str(workers)]


def serve_env(tracking_uri: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    """``environ`` with this interpreter's ``bin`` first on PATH and the tracking URI set."""
    env = dict(os.environ if environ is None else environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    env.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return env


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nnscratch.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="run id, or a model URI (runs:/<id>/model, models:/<name>@<alias>)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT})")
    parser.add_argument("--workers", type=int, default=1, help="scoring server workers (default 1)")
    parser.add_argument("--tracking-uri", help="MLflow store (default $MLFLOW_TRACKING_URI or ./mlflow.db)")
    args = parser.parse_args(argv)
    from nnscratch.model_uri import ModelNotFoundError, default_tracking_uri, run_model_uri

    uri = args.tracking_uri or default_tracking_uri()
    try:
        model_uri = args.run if ":/" in args.run else run_model_uri(args.run, uri)
    except ModelNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not model_uri.startswith("models:/") and ":/" not in args.run:  # a checkpoint directory, no pyfunc
        print(f"error: run {args.run} logged a checkpoint but no MLflow model (tracking.log_model=false?); "
              f"use python -m nnscratch.predict --run {args.run}", file=sys.stderr)
        return 2
    print(f"serving {model_uri} on http://127.0.0.1:{args.port}/invocations (Ctrl-C stops)", file=sys.stderr,
          flush=True)
    command = serve_command(model_uri, args.port, args.workers)
    os.execve(command[0], command, serve_env(uri))
    return 0  # not reached: the process is now MLflow's server


if __name__ == "__main__":
    sys.exit(main())
