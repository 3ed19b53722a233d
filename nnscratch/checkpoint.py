"""Checkpoints as ``.npz`` (arrays) + ``.json`` (architecture), never pickle.

``save(model, "runs/best")`` writes ``runs/best.npz`` and ``runs/best.json``; ``load`` reads them
back with ``allow_pickle=False`` and rebuilds the same network bit for bit.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .network import MLP
from .optimizers import OPTIMIZERS, Optimizer

FORMAT = "nnscratch.mlp"
FORMAT_VERSION = 1


def checkpoint_paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """The (.npz, .json) pair for ``path`` given with or without a suffix."""
    base = Path(path)
    if base.suffix in (".npz", ".json"):
        base = base.with_suffix("")
    return base.with_name(base.name + ".npz"), base.with_name(base.name + ".json")


def save(model: MLP, path: str | os.PathLike[str], optimizer: Optimizer | None = None) -> Path:
    """Write the model (and optionally the optimizer's state) next to ``path``; returns the .npz path."""
    npz_path, json_path = checkpoint_paths(path)
    npz_path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {name: value for name, value in model.parameters.items()}
    meta: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "nnscratch_version": __version__,
        "model": model.config(),
        "parameters": {name: list(value.shape) for name, value in arrays.items()},
    }
    if optimizer is not None:
        meta["optimizer"] = {"name": _optimizer_name(optimizer), "hyperparameters": optimizer.hyperparameters()}
        arrays.update({f"optimizer/{k}": v for k, v in optimizer.state_dict().items()})
    _atomic_write(npz_path, lambda f: np.savez(f, **arrays))
    _atomic_write(json_path, lambda f: f.write(json.dumps(meta, indent=2).encode()))
    return npz_path


def load(path: str | os.PathLike[str]) -> MLP:
    """Rebuild a model saved by :func:`save`."""
    model, _ = load_with_optimizer(path)
    return model


def load_with_optimizer(path: str | os.PathLike[str]) -> tuple[MLP, Optimizer | None]:
    """Rebuild the model and, when it was saved, the optimizer with its state."""
    npz_path, json_path = checkpoint_paths(path)
    meta = _read_meta(json_path)
    arrays = _read_arrays(npz_path)
    model = MLP.from_config(meta["model"])
    for name, value in model.parameters.items():
        stored = arrays.get(name)
        if stored is None or stored.shape != value.shape:
            found = None if stored is None else stored.shape
            raise ValueError(f"{npz_path}: parameter {name} expected shape {value.shape}, found {found}")
        value[...] = stored
    return model, _restore_optimizer(meta, arrays, model)


def _read_meta(json_path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(json_path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"checkpoint metadata {json_path} is missing") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{json_path} is not valid JSON: {error}") from None
    if meta.get("format") != FORMAT or meta.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(
            f"{json_path}: format {meta.get('format')!r} v{meta.get('format_version')} is not an "
            f"nnscratch checkpoint this version can read ({FORMAT} v{FORMAT_VERSION})"
        )
    return meta


def _read_arrays(npz_path: Path) -> dict[str, np.ndarray]:
    if not zipfile.is_zipfile(npz_path):
        raise ValueError(f"{npz_path} is not an .npz archive; refusing to load it (pickled files are never loaded)")
    try:
        with np.load(npz_path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except ValueError as error:
        raise ValueError(f"{npz_path} holds object arrays, which need pickle; refusing to load: {error}") from None


def _restore_optimizer(meta: dict[str, Any], arrays: dict[str, np.ndarray], model: MLP) -> Optimizer | None:
    info = meta.get("optimizer")
    if info is None:
        return None
    optimizer = OPTIMIZERS[info["name"]](**info["hyperparameters"])
    state = {k.removeprefix("optimizer/"): v for k, v in arrays.items() if k.startswith("optimizer/")}
    optimizer.load_state_dict(state, model.params)
    return optimizer


def _optimizer_name(optimizer: Optimizer) -> str:
    return next(name for name, cls in OPTIMIZERS.items() if type(optimizer) is cls)


def _atomic_write(path: Path, write: Any) -> None:
    # write to a temporary file first so a crash never leaves a half-written checkpoint
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
