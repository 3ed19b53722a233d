"""Put a run's logged model into the MLflow model registry, optionally under an alias.

    python -m nnscratch.registry RUN_ID digits --alias champion
    python -m nnscratch.predict --model models:/digits@champion my_digit.png

The registered version points at the run's MLflow 3 logged model (``models:/<model_id>``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from nnscratch.model_uri import ModelNotFoundError, default_tracking_uri, run_model_uri


def register_run_model(run_id: str, name: str, *, alias: str | None = None,
                       tracking_uri: str | None = None) -> ModelVersion:
    """Register the model logged by ``run_id`` as a new version of ``name``.

    Parameters
    ----------
    run_id : str
    name : str
        Registered model name (created if it does not exist).
    alias : str, optional
        Alias pointed at the new version (moved if it pointed elsewhere), e.g. ``champion``.
    tracking_uri : str, optional
        Tracking and registry store; default :func:`nnscratch.model_uri.default_tracking_uri`.

    Returns
    -------
    mlflow ModelVersion

    Raises
    ------
    ModelNotFoundError
        If the run logged no MLflow model.
    """
    uri = tracking_uri or default_tracking_uri()
    source = run_model_uri(run_id, uri)
    if not source.startswith("models:/"):
        raise ModelNotFoundError(f"run {run_id} has a checkpoint but no MLflow model to register")
    model_id = source.removeprefix("models:/")
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    # the logged model's own location as source: MLflow resolves a models:/ source through the
    # process-wide tracking URI, which need not be this store
    location = client.get_logged_model(model_id).artifact_location
    version = client.create_model_version(name=name, source=location, run_id=run_id, model_id=model_id)
    if alias:
        client.set_registered_model_alias(name, alias, version.version)
    return version


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nnscratch.registry",
                                     description="Register a run's model in the MLflow model registry.")
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument("name", metavar="NAME", help="registered model name")
    parser.add_argument("--alias", help="alias for the new version, e.g. champion")
    parser.add_argument("--tracking-uri", help="MLflow store (default $MLFLOW_TRACKING_URI or ./mlflow.db)")
    args = parser.parse_args(argv)
    try:
        version = register_run_model(args.run_id, args.name, alias=args.alias, tracking_uri=args.tracking_uri)
    except (ModelNotFoundError, MlflowException) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ref = f"models:/{args.name}@{args.alias}" if args.alias else f"models:/{args.name}/{version.version}"
    print(f"registered {args.name} version {version.version}: {ref}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
