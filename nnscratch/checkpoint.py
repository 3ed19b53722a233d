"""Checkpoints as ``.npz`` (arrays) + ``.json`` (architecture), never pickle.

``save(model, "runs/best")`` writes ``runs/best.npz`` and ``runs/best.json``; ``load`` reads them
back with ``allow_pickle=False`` and rebuilds the same network bit for bit.
"""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ._atomic import atomic_write
from ._version import __version__
from .network import MLP, parameter_shapes
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
    # each file is replaced whole (fsynced first), so a crash or a full disk never leaves a half-written one
    atomic_write(npz_path, lambda f: np.savez(f, **arrays))
    atomic_write(json_path, lambda f: f.write(json.dumps(meta, indent=2).encode()))
    return npz_path


def load(path: str | os.PathLike[str]) -> MLP:
    """Rebuild a model saved by :func:`save`."""
    model, _ = load_with_optimizer(path)
    return model


def load_with_optimizer(path: str | os.PathLike[str]) -> tuple[MLP, Optimizer | None]:
    """Rebuild the model and, when it was saved, the optimizer with its state.

    Raises
    ------
    CheckpointError
        The JSON or the ``.npz`` is malformed or they disagree; the message names the file. Shapes are
        checked against the ``.npz`` headers before the model is allocated, and only the members the
        model and optimizer use are decompressed.
    """
    npz_path, json_path = checkpoint_paths(path)
    meta = _read_meta(json_path)
    config, optimizer_class = _model_config(meta, json_path), _optimizer_class(meta, json_path)
    expected = parameter_shapes(_layer_sizes(config, json_path))
    headers = _member_headers(npz_path)
    _check_shapes(npz_path, expected, headers)
    wanted = [*expected, *_optimizer_members(optimizer_class, expected, headers)]
    arrays = _read_arrays(npz_path, wanted)
    try:
        model = MLP.from_config(config)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{json_path}: the model section is invalid: {error}") from None
    for name, value in model.parameters.items():
        value[...] = arrays[name]
    return model, _restore_optimizer(meta, arrays, model, json_path)


class CheckpointError(ValueError):
    """A checkpoint's files are malformed or inconsistent; the message names the file."""


def _read_meta(json_path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(json_path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"checkpoint metadata {json_path} is missing") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{json_path} is not valid JSON: {error}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or not _readable_version(meta):
        found = meta if not isinstance(meta, dict) else f"{meta.get('format')!r} v{meta.get('format_version')}"
        raise CheckpointError(
            f"{json_path}: format {found} is not an nnscratch checkpoint this version can read "
            f"({FORMAT} v{FORMAT_VERSION})"
        )
    return meta


def _readable_version(meta: dict[str, Any]) -> bool:
    version = meta.get("format_version", 0)
    return isinstance(version, int) and version <= FORMAT_VERSION


def _model_config(meta: dict[str, Any], json_path: Path) -> dict[str, Any]:
    config = meta.get("model")
    if not isinstance(config, dict):
        raise CheckpointError(f"{json_path}: 'model' must be an object with the MLP's arguments, got {config!r}")
    return config


def _layer_sizes(config: dict[str, Any], json_path: Path) -> list[int]:
    hidden = config.get("hidden_sizes", [])
    sizes = [config.get("input_size"), *(hidden if isinstance(hidden, list) else [hidden]),
             config.get("output_size")]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in sizes):
        raise CheckpointError(f"{json_path}: layer sizes must be integers >= 1, got input_size, hidden_sizes, "
                              f"output_size = {config.get('input_size')!r}, {hidden!r}, {config.get('output_size')!r}")
    return sizes


def _optimizer_class(meta: dict[str, Any], json_path: Path) -> type[Optimizer] | None:
    info = meta.get("optimizer")
    if info is None:
        return None
    if not isinstance(info, dict) or info.get("name") not in OPTIMIZERS or not isinstance(
            info.get("hyperparameters"), dict):
        raise CheckpointError(f"{json_path}: 'optimizer' must name one of {sorted(OPTIMIZERS)} with its "
                              f"hyperparameters, got {info!r}")
    return OPTIMIZERS[info["name"]]


def _member_headers(npz_path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """``{member: (shape, dtype)}`` from the ``.npy`` headers alone (nothing is decompressed beyond them)."""
    if not zipfile.is_zipfile(npz_path):
        raise CheckpointError(f"{npz_path} is not an .npz archive; refusing to load it "
                              f"(pickled files are never loaded)")
    headers = {}
    try:
        with zipfile.ZipFile(npz_path) as archive:
            for info in archive.infolist():
                if info.filename.endswith(".npy"):
                    with archive.open(info) as member:
                        headers[info.filename[:-4]] = _npy_header(member)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise CheckpointError(f"{npz_path} is damaged: {error}") from None
    return headers


def _npy_header(member: Any) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(member)
    read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}.get(version)
    if read is None:
        raise ValueError(f"unsupported .npy format version {version}")
    shape, _, dtype = read(member)
    return tuple(shape), dtype


def _check_shapes(npz_path: Path, expected: dict[str, tuple[int, ...]],
                  headers: dict[str, tuple[tuple[int, ...], np.dtype]]) -> None:
    for name, shape in expected.items():
        found, dtype = headers.get(name, (None, None))
        if dtype is not None and dtype.hasobject:
            raise CheckpointError(f"{npz_path}: {name} holds object arrays, which need pickle; refusing to load")
        if found != shape:
            raise CheckpointError(f"{npz_path}: parameter {name} expected shape {shape}, found {found}")


def _optimizer_members(optimizer_class: type[Optimizer] | None, expected: dict[str, tuple[int, ...]],
                       headers: dict[str, Any]) -> list[str]:
    if optimizer_class is None:
        return []
    names = ["optimizer/steps"] + [f"optimizer/{p}/{m}" for p in expected for m in optimizer_class.state_names]
    return [name for name in names if name in headers]


def _read_arrays(npz_path: Path, names: list[str]) -> dict[str, np.ndarray]:
    try:
        with np.load(npz_path, allow_pickle=False) as archive:
            return {name: archive[name] for name in names}
    except ValueError as error:
        raise CheckpointError(f"{npz_path} holds object arrays, which need pickle; refusing to load: "
                              f"{error}") from None
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise CheckpointError(f"{npz_path} is damaged: {error}") from None


def _restore_optimizer(meta: dict[str, Any], arrays: dict[str, np.ndarray], model: MLP,
                       json_path: Path) -> Optimizer | None:
    info = meta.get("optimizer")
    if info is None:
        return None
    state = {k.removeprefix("optimizer/"): v for k, v in arrays.items() if k.startswith("optimizer/")}
    try:
        optimizer = OPTIMIZERS[info["name"]](**info["hyperparameters"])
        optimizer.load_state_dict({"steps": np.array(0), **state}, model.params)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{json_path}: the optimizer section does not match its state: {error}") from None
    return optimizer


def _optimizer_name(optimizer: Optimizer) -> str:
    return next(name for name, cls in OPTIMIZERS.items() if type(optimizer) is cls)
