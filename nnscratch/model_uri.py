"""Find and load a trained ``MLP`` from a path, an MLflow run or the MLflow model registry.

A model is located by one of:

* a local checkpoint (``path``, ``path.npz`` or ``path.json`` as written by ``nnscratch.save``);
* a local directory holding one (e.g. a downloaded MLflow model);
* an MLflow model URI: ``models:/name@alias``, ``models:/name/3``, ``models:/<model_id>``,
  ``runs:/<run_id>/<path>`` or any artifact URI;
* a run id: the model logged by that run.

MLflow is imported only for the last two, so loading a local checkpoint needs numpy only.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nnscratch as nn
from nnscratch.checkpoint import CheckpointError

log = logging.getLogger(__name__)

CLASS_NAMES_FILE = "class_names.json"


class ModelNotFoundError(LookupError):
    """No nnscratch model at the given path, URI or run."""


@dataclass
class LoadedModel:
    """A model with the labels of its classes and where it came from."""

    model: nn.MLP
    class_names: list[str]
    source: str


#: Where a checkpoint sits inside a model directory: MLflow's pyfunc layout, run artifacts, or the directory.
CHECKPOINT_SUBDIRS = ("artifacts", "checkpoint", "")


def find_checkpoint(directory: Path) -> Path:
    """The checkpoint (its ``.json``) of a model directory: ``artifacts/`` of an MLflow model, ``checkpoint/``
    of downloaded run artifacts, or the directory itself. Nothing deeper is searched.

    Raises
    ------
    ModelNotFoundError
        If there is none, or more than one in the same place.
    """
    for sub in CHECKPOINT_SUBDIRS:
        place = directory / sub
        found = sorted(p for p in place.glob("*.json") if p.with_suffix(".npz").is_file()) if place.is_dir() else []
        if len(found) > 1:
            names = ", ".join(str(p.relative_to(directory)) for p in found)
            raise ModelNotFoundError(f"several checkpoints in {place}: {names}; name one of them")
        if found:
            return found[0]
    places = ", ".join(str(directory / sub) for sub in CHECKPOINT_SUBDIRS)
    raise ModelNotFoundError(f"no nnscratch checkpoint (.npz + .json) in {places}")


def checkpoint_class_names(checkpoint_json: Path, n_classes: int) -> list[str]:
    """Class labels stored with a model, else ``"0" .. "C-1"``.

    Only the checkpoint's own files are read, in order: ``class_names`` in its JSON, ``class_names.json``
    beside it, ``metadata.class_names`` in the ``MLmodel`` of the MLflow model it belongs to (when it sits
    in that model's ``artifacts/``).

    Raises
    ------
    CheckpointError
        One of those files is malformed or lists a different number of classes; the message names it.
    """
    candidates = [(checkpoint_json, _read_json(checkpoint_json).get("class_names"))]
    beside = checkpoint_json.with_name(CLASS_NAMES_FILE)
    if beside.is_file():
        candidates.append((beside, _read_json(beside)))
    mlmodel = checkpoint_json.parent.parent / "MLmodel"
    if checkpoint_json.parent.name == "artifacts" and mlmodel.is_file():
        candidates.append((mlmodel, _mlmodel_class_names(mlmodel)))
    for source, names in candidates:
        if names is None:
            continue
        if not isinstance(names, list) or len(names) != n_classes:
            raise CheckpointError(f"{source}: class names must be a list of {n_classes} labels (the model's "
                                  f"classes), found {names!r:.200}")
        return [str(n) for n in names]
    return [str(i) for i in range(n_classes)]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path} is not valid JSON: {error}") from None


def _mlmodel_class_names(path: Path) -> list | None:
    import yaml  # comes with mlflow, the only producer of MLmodel files

    try:
        meta = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise CheckpointError(f"{path} is not valid YAML: {str(error).splitlines()[0]}") from None
    return ((meta.get("metadata") or {}) if isinstance(meta, dict) else {}).get("class_names")


def load_local(path: str | os.PathLike[str], source: str | None = None) -> LoadedModel:
    """Load a checkpoint file/base path, or the checkpoint of a model directory (see :func:`find_checkpoint`).

    Raises
    ------
    ModelNotFoundError
        If nothing loadable is there.
    CheckpointError
        The checkpoint or its class names are malformed (the message names the file).
    """
    p = Path(path)
    if p.is_dir():
        checkpoint = find_checkpoint(p)
    else:
        base = p.with_suffix("") if p.suffix in (".npz", ".json") else p
        checkpoint = base.with_name(base.name + ".json")
        if not (checkpoint.is_file() and checkpoint.with_suffix(".npz").is_file()):
            raise ModelNotFoundError(f"no nnscratch checkpoint at {path} (need {base}.npz and {base}.json)")
    model = nn.load(checkpoint)
    names = checkpoint_class_names(checkpoint, model.n_classes)
    return LoadedModel(model, names, source or str(path))


def is_local(spec: str) -> bool:
    """True when ``spec`` names an existing path, or a checkpoint base path (``spec.npz`` exists)."""
    p = Path(spec)
    return p.exists() or p.with_name(p.name + ".npz").is_file()


def looks_like_uri(spec: str) -> bool:
    """``scheme:/...`` (``models:/``, ``runs:/``, ``file://``, ``s3://``...), not a Windows drive."""
    scheme, sep, _ = spec.partition(":")
    return bool(sep) and len(scheme) > 1 and scheme.replace("-", "").isalnum()


def load_from_uri(uri: str, tracking_uri: str | None = None) -> LoadedModel:
    """Download an MLflow model or artifact URI to a temporary directory and load it."""
    import mlflow

    with tempfile.TemporaryDirectory(prefix="nnscratch-model-") as tmp:
        try:
            location = resolve_models_uri(uri, tracking_uri) if uri.startswith("models:") else uri
            local = mlflow.artifacts.download_artifacts(artifact_uri=location, dst_path=tmp,
                                                        tracking_uri=tracking_uri)
        except mlflow.exceptions.MlflowException as exc:
            raise ModelNotFoundError(f"cannot download {uri}: {exc.message}") from exc
        return load_local(local, source=uri)


def resolve_models_uri(uri: str, tracking_uri: str | None) -> str:
    """The artifact location behind ``models:/<model_id>``, ``models:/name/<version>`` or ``models:/name@alias``.

    Resolved with a client bound to ``tracking_uri`` (used as the registry too): MLflow's own
    download of a ``models:/`` URI consults only the process-wide tracking/registry URI.
    """
    from mlflow.store.artifact.utils.models import get_model_name_and_version
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    parts = get_model_name_and_version(client, uri)
    if len(parts) == 1:
        model_id = parts[0]
    else:
        name, version = parts
        model_id = client.get_model_version(name, version).model_id
        if not model_id:  # a version registered from a plain artifact path
            return client.get_model_version_download_uri(name, version)
    return client.get_logged_model(model_id).artifact_location


def run_model_uri(run_id: str, tracking_uri: str | None = None) -> str:
    """The URI of the model logged by run ``run_id``.

    MLflow 3 logged models of the run that are READY come first (``models:/<model_id>``; the one named
    ``model`` if there are several); else a run artifact directory holding a checkpoint.
    """
    from mlflow.entities import LoggedModelStatus
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        raise ModelNotFoundError(f"no run {run_id} in {client.tracking_uri}: {exc.message}") from exc
    models = [m for m in client.search_logged_models(
        experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id = '{run_id}'"
    ) if m.status == LoggedModelStatus.READY]  # a FAILED or PENDING model's upload did not finish
    if models:
        chosen = next((m for m in models if m.name == "model"), models[0])
        return f"models:/{chosen.model_id}"
    artifact_dir = _checkpoint_artifact_dir(client, run_id, "")
    if artifact_dir is None:
        raise ModelNotFoundError(f"run {run_id} logged no model and no checkpoint artifact")
    return f"runs:/{run_id}/{artifact_dir}"


def _checkpoint_artifact_dir(client, run_id: str, path: str, depth: int = 3) -> str | None:
    """The run artifact directory that holds a ``.npz`` checkpoint (breadth-first, bounded depth)."""
    entries = client.list_artifacts(run_id, path or None)
    if any(not e.is_dir and e.path.endswith(".npz") for e in entries):
        return path
    if depth == 0:
        return None
    for entry in (e for e in entries if e.is_dir):
        found = _checkpoint_artifact_dir(client, run_id, entry.path, depth - 1)
        if found is not None:
            return found
    return None


def default_tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db`` in the working directory (as train.py uses)."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    return env if env else f"sqlite:///{Path.cwd().resolve() / 'mlflow.db'}"


def load_model(spec: str | None = None, *, run_id: str | None = None, tracking_uri: str | None = None) -> LoadedModel:
    """Load a model from a local path or URI (``spec``) or from the run ``run_id``.

    Parameters
    ----------
    spec : str, optional
        Local checkpoint/directory, or an MLflow URI such as ``models:/digits@champion``.
    run_id : str, optional
        Exactly one of ``spec`` and ``run_id`` is given.
    tracking_uri : str, optional
        MLflow store for run ids and ``models:/`` URIs; default :func:`default_tracking_uri`.

    Raises
    ------
    ModelNotFoundError
    """
    if (spec is None) == (run_id is None):
        raise ValueError("give exactly one of a model path/URI and a run id")
    if spec is not None and is_local(spec):
        return load_local(spec)
    if spec is not None and not looks_like_uri(spec):
        raise ModelNotFoundError(f"{spec} is neither an existing path nor a model URI")
    uri_store = tracking_uri or default_tracking_uri()
    uri = spec if spec is not None else run_model_uri(run_id, uri_store)
    log.info("loading %s from %s", uri, uri_store)
    loaded = load_from_uri(uri, uri_store)
    if run_id is not None:
        loaded.source = f"run {run_id} ({uri})"
    return loaded
