"""Train one network from the Hydra config in ``conf/`` and track it in MLflow.

    python train.py                                      # 784-128-64-10 on MNIST with SGD
    python train.py lr=0.05 epochs=3 optimizer=adam      # shorthand overrides
    python train.py +experiment=deep8_mnist              # a reference network (experiments/)
    python train.py -m optimizer=adam lr=0.1,0.01,0.001  # one MLflow parent run, three children
    mlflow ui --backend-store-uri sqlite:///mlflow.db    # compare runs

``run(cfg)`` returns the run's metrics and is importable; ``main`` is the Hydra entry point and
returns ``cfg.optimized_metric`` (what a sweeper maximizes).
"""

from __future__ import annotations

if __name__ == "__main__":
    # On a fresh machine: create .venv, install nnscratch into it and re-run this command there.
    import importlib.util
    from pathlib import Path

    _spec = importlib.util.spec_from_file_location(
        "nnscratch_bootstrap", Path(__file__).resolve().parent / "nnscratch" / "_bootstrap.py"
    )
    _bootstrap = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_bootstrap)
    _bootstrap.ensure_environment(Path(__file__).resolve().parent)

# --- end of bootstrap ---

import atexit
import copy
import gc
import logging
import math
import os
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf

import nnscratch as nn
from nnscratch.config import ConfigError, register_configs, sync_shorthands, validate_against_data, validate_config
from nnscratch.config.help import register_help_resolver
from nnscratch.config.job import Job
from nnscratch.config.hydra_main import main_options
from nnscratch.sweeper.signals import terminate_as_interrupt
from nnscratch.tracking.evaluation import evaluate_test
from nnscratch.tracking.naming import figure_title, single_run_name
from nnscratch.tracking.progress import announce_if_slow, make_progress
from nnscratch.tracking.trial import TrialLink

log = logging.getLogger("train")

register_configs()
register_help_resolver()


@dataclass
class Split:
    """Arrays a run trains, validates and tests on (X: (n, features), y: (n,))."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}


def _subset(X: np.ndarray, y: np.ndarray, size: int | None, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    if size is None or size >= len(y):
        return X, y
    keep = np.sort(rng.choice(len(y), size=size, replace=False))
    return X[keep], y[keep]


def load_data(cfg: DictConfig, rng: np.random.Generator) -> tuple[Any, Split]:
    """Load ``cfg.data``, check the config fits it, and cut it into train/val/test as configured (subsets
    drawn with ``rng``)."""
    loader = {k: v for k, v in _plain(cfg.data).items() if k not in ("val_fraction", "train_size", "test_size")}
    dataset = hydra.utils.instantiate(loader)
    validate_against_data(cfg, dataset)
    X, y = _subset(dataset.X_train, dataset.y_train, cfg.data.train_size, rng)
    X_train, y_train, X_val, y_val = nn.train_val_split(X, y, cfg.data.val_fraction, rng)
    X_test, y_test = _subset(dataset.X_test, dataset.y_test, cfg.data.test_size, rng)
    return dataset, Split(X_train, y_train, X_val, y_val, X_test, y_test)


def _plain(node: DictConfig) -> dict[str, Any]:
    container = OmegaConf.to_container(node, resolve=True, enum_to_str=True)
    assert isinstance(container, dict)
    return container


def build(cfg: DictConfig, gens: nn.Generators) -> tuple[nn.MLP, nn.Optimizer, Any]:
    """Model, optimizer and schedule from their config groups."""
    model = hydra.utils.instantiate(_plain(cfg.model), rng=gens.init, dropout_rng=gens.dropout)
    optimizer = hydra.utils.instantiate(_plain(cfg.optimizer))
    schedule = hydra.utils.instantiate(_plain(cfg.schedule))
    return model, optimizer, schedule


def _make_tracker(cfg: DictConfig, base_dir: str, multirun: bool) -> Any:
    if not cfg.tracking.enabled:
        from nnscratch.tracking.no_tracker import NoTracker  # imports no mlflow

        return NoTracker()
    from nnscratch.tracking.tracker import MLflowTracker
    from nnscratch.tracking.store import check_store, resolve_tracking_uri

    uri = resolve_tracking_uri(cfg.tracking.tracking_uri, base_dir)
    check_store(uri)  # seconds, not MLflow's minutes of retries, when the store is unreachable
    return MLflowTracker.from_config(cfg.tracking, uri, multirun=multirun)


def _parent_run_id(cfg: DictConfig, trial: TrialLink) -> str | None:
    """The sweep's MLflow parent run: from the multirun callback, else the one an Optuna study recorded."""
    if not cfg.tracking.enabled:
        return None
    from nnscratch.tracking.sweep import parent_run_id

    return parent_run_id() or trial.parent_run_id()


def run(cfg: DictConfig, tags: dict[str, str] | None = None) -> dict[str, float]:
    """Train, evaluate and track the network described by ``cfg`` (``tags``: extra MLflow run tags).

    Returns
    -------
    dict
        Last-epoch ``train/*``, ``val/*`` metrics plus ``test/loss`` and ``test/acc``.

    Raises
    ------
    nnscratch.config.ConfigError
        A value is out of range or the model does not fit the data (before any MLflow run starts).
    nnscratch.DivergedError
        The loss became non-finite (the MLflow run ends FAILED).
    """
    cfg = sync_shorthands(copy.deepcopy(cfg))
    validate_config(cfg)
    gens = nn.make_generators(cfg.seed)
    dataset, split = load_data(cfg, gens.split)
    model, optimizer, schedule = build(cfg, gens)
    job = Job.current()
    log.info("%s on %s %s: %d parameters", model.layer_sizes, dataset.name, split.sizes(), model.n_parameters)
    tracker = _make_tracker(cfg, job.base_dir, job.multirun)
    trial = TrialLink.for_job(job.multirun, job.sweeper)
    run_tags = {**job.tags, **trial.tags(), **(tags or {})}
    with ExitStack() as stack:
        stack.enter_context(tracker.run(cfg, overrides=job.overrides, tags=run_tags,
                                        run_name=cfg.tracking.run_name or job.name or single_run_name(cfg),
                                        parent_run_id=_parent_run_id(cfg, trial)))
        tracker.log_dataset(dataset, split.sizes())
        progress = make_progress(cfg.progress.name, cfg.fit.epochs, multirun=job.multirun, label=job.label)
        if progress is not None:
            stack.callback(progress.close)
        callbacks = [*tracker.callbacks(split.X_val, split.y_val), *([progress] if progress else []),
                     *trial.callbacks(tracker.run_id, tracker.tracking_uri, tracker.experiment_id,
                                      cfg.optimized_metric)]
        history = nn.fit(model, optimizer, split.X_train, split.y_train, epochs=cfg.fit.epochs,
                         batch_size=cfg.fit.batch_size, l2=cfg.fit.l2, schedule=schedule,
                         validation=(split.X_val, split.y_val) if len(split.y_val) else None,
                         rng=gens.shuffle, callbacks=callbacks, max_loss_ratio=cfg.fit.max_loss_ratio)
        if cfg.tracking.enabled:
            stack.enter_context(announce_if_slow("recording test metrics, figures, checkpoint and model in MLflow",
                                                 prefix=f"[{job.label}] " if job.label else ""))
        evaluation = evaluate_test(model, split.X_test, split.y_test)
        tracker.log_results(model=model, history=history, evaluation=evaluation,
                            class_names=dataset.class_names, X_test=split.X_test,
                            image_shape=dataset.image_shape,
                            title=figure_title(cfg, model.layer_sizes, job.name))
    metrics = {**history.last, **evaluation.metrics, "n_parameters": float(model.n_parameters)}
    log.info("%s", " ".join(f"{k}={v:.4f}" for k, v in metrics.items() if "/" in k))
    return metrics


@hydra.main(config_path="conf", config_name="config", **main_options("nnscratch.*"))
def main(cfg: DictConfig) -> float | list[float]:
    """Hydra entry point: :func:`run` and return ``cfg.optimized_metric`` (NaN if training diverged).

    With ``extra_objectives`` set, returns ``[optimized_metric, *extra_objectives]`` for a
    multi-objective sweep.
    """
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # keep the console to our lines
    names = [cfg.optimized_metric, *(cfg.get("extra_objectives") or [])]
    try:
        with terminate_as_interrupt(children=False):  # SIGTERM ends the MLflow run KILLED, as Ctrl-C does
            metrics = run(cfg)
    except nn.DivergedError as error:
        log.error("%s", error)
        metrics = {name: math.nan for name in names}
    except ConfigError as error:
        if Job.current().multirun:
            raise  # the sweeper fails this job and goes on
        log.error("%s", error)  # names the field and the allowed values; a traceback would bury it
        sys.exit(2)
    values = [float(metrics[name]) for name in names]
    return values[0] if len(values) == 1 else values


if __name__ == "__main__":
    # Registered first, so it runs last at exit: the interpreter then skips collecting the millions of objects
    # MLflow, pandas and SQLAlchemy leave behind (1-2 s of a tracked sweep's exit, measured), which the OS frees.
    atexit.register(gc.freeze)
    main()
