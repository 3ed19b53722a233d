"""Train a recorded run again from its MLflow record and compare: ``python -m nnscratch rerun RUN_ID``.

The config comes from the run's ``config/config.yaml`` artifact (the resolved config it trained with;
a sweep child's swept values are in it), so the rerun does not depend on today's ``conf/`` defaults.
Before training, the rerun says what differs between the record and now (code, numpy, BLAS library,
kernel and threads, dtype, data set digest), since any of these can change the numbers. It runs with
the recorded BLAS thread count, logs a new run tagged ``nnscratch.rerun_of`` in the original's
experiment, and compares the final metrics and the checkpoint's weights bit for bit.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, OmegaConf

import nnscratch
from nnscratch.config import TrainConfig, validate_config
from nnscratch.config.validation import SHORTHAND_LINKS, sync_shorthands
from nnscratch.tracking.params import flatten, resolved_container
from nnscratch.tracking.record import RunRecord, load_weights
from nnscratch.tracking.tags import ENVIRONMENT_KEYS, source_tags

log = logging.getLogger(__name__)

RERUN_OF_TAG = "nnscratch.rerun_of"
VERDICT_TAG = "nnscratch.rerun.weights"
#: Keys whose change cannot alter the numbers (where the run is logged, what it is called).
UNTRAINED_KEYS = ("tracking.", "progress")
#: Metrics that measure wall time, not the model.
TIMING_METRICS = ("epoch_time",)


class RerunRefused(RuntimeError):
    """``--strict`` and the code differs from the record; nothing was trained or logged."""


@dataclass(frozen=True)
class Difference:
    """One recorded fact that is different now (``recorded`` None: the original did not record it)."""

    key: str
    recorded: str | None
    now: str

    def __str__(self) -> str:
        return f"{self.key}: {'not recorded' if self.recorded is None else self.recorded} -> {self.now}"


def rebuild_config(record: RunRecord, tracking_uri: str, overrides: Sequence[str] = ()) -> DictConfig:
    """The run's recorded config, typed by the schema, logging to ``tracking_uri``.

    The top-level shorthands (``lr``, ``dtype``, ...) are linked to their group keys again, so an
    override such as ``dtype=float64`` reaches ``model.dtype`` and ``data.dtype`` as in train.py.
    """
    cfg = OmegaConf.merge(OmegaConf.structured(TrainConfig), record.config)
    assert isinstance(cfg, DictConfig)
    for path, shorthand in SHORTHAND_LINKS.items():
        if OmegaConf.select(cfg, path) == OmegaConf.select(cfg, shorthand):
            OmegaConf.update(cfg, path, "${" + shorthand + "}")
    cfg.merge_with(OmegaConf.from_dotlist(list(overrides)))
    cfg.tracking.tracking_uri = tracking_uri
    cfg.tracking.run_name = f"rerun of {record.run_name}"
    validate_config(sync_shorthands(cfg))
    return cfg


def config_differences(record: RunRecord, cfg: DictConfig) -> list[Difference]:
    """Trained-on config values that differ from the record (``tracking.*`` aside)."""
    recorded = dict(flatten(record.config))
    now = dict(flatten(resolved_container(cfg)))
    return [Difference(key, None if key not in recorded else str(recorded[key]), str(now.get(key)))
            for key in sorted(recorded.keys() | now.keys())
            if not key.startswith(UNTRAINED_KEYS) and recorded.get(key) != now.get(key)]


def environment_differences(recorded: Mapping[str, str], now: Mapping[str, str],
                            keys: Sequence[str] = ENVIRONMENT_KEYS) -> list[Difference]:
    """The ``keys`` whose tag values differ between the record and now."""
    return [Difference(key, recorded.get(key), now.get(key, "unknown"))
            for key in keys if recorded.get(key) != now.get(key, "unknown")]


def code_problems(recorded: Mapping[str, str], now: Mapping[str, str]) -> list[str]:
    """Why this checkout may not be the code the run was trained with (empty: it is)."""
    problems = []
    if recorded.get("git.dirty") != "false":
        problems.append("the run was made from a tree with uncommitted changes "
                        f"(git.dirty={recorded.get('git.dirty', 'not recorded')}): its code cannot be restored")
    if recorded.get("git.commit") != now.get("git.commit"):
        problems.append(f"the run was made at commit {recorded.get('git.commit', 'not recorded')}, "
                        f"this checkout is at {now.get('git.commit')}")
    if now.get("git.dirty") == "true":
        problems.append("this checkout has uncommitted changes")
    return problems


def recorded_threads(record: RunRecord) -> int | None:
    """The BLAS thread count the run recorded (None: not recorded, e.g. a run from before this tag)."""
    value = record.tags.get("blas.threads", "")
    return int(value) if value.isdigit() else None


@dataclass(frozen=True)
class WeightCheck:
    """Checkpoint weights of the original and the rerun compared byte for byte."""

    identical: bool | None  # None: a checkpoint is missing
    detail: str

    @property
    def verdict(self) -> str:
        return {True: "identical", False: "different", None: "not compared"}[self.identical]


def compare_weights(original: Mapping[str, np.ndarray] | None,
                    rerun: Mapping[str, np.ndarray] | None) -> WeightCheck:
    """Bitwise comparison of two checkpoints' arrays (same names, dtypes, shapes and bytes)."""
    if original is None or rerun is None:
        missing = "original" if original is None else "rerun"
        return WeightCheck(None, f"not compared: the {missing} run has no checkpoint/ (tracking.log_checkpoint)")
    if original.keys() != rerun.keys():
        return WeightCheck(False, f"different arrays: {sorted(original)} vs {sorted(rerun)}")
    changed = [name for name in original if original[name].dtype != rerun[name].dtype
               or original[name].shape != rerun[name].shape
               or original[name].tobytes() != rerun[name].tobytes()]
    n_values = sum(a.size for a in original.values())
    if not changed:
        return WeightCheck(True, f"bitwise identical ({len(original)} arrays, {n_values:,} values)")
    return WeightCheck(False, "different: " + ", ".join(_array_change(name, original[name], rerun[name])
                                                        for name in changed))


def _array_change(name: str, a: np.ndarray, b: np.ndarray) -> str:
    if a.dtype != b.dtype or a.shape != b.shape:
        return f"{name} ({a.dtype}{list(a.shape)} vs {b.dtype}{list(b.shape)})"
    delta = np.abs(a.astype(np.float64) - b.astype(np.float64))
    return f"{name} ({np.count_nonzero(delta)} of {a.size} values, max |diff| {delta.max():.3g})"


@dataclass(frozen=True)
class Comparison:
    """The outcome of a rerun: the new run, final metrics side by side, the weight check."""

    original_run_id: str
    rerun_run_id: str
    metrics: dict[str, tuple[float | None, float | None]]
    weights: WeightCheck

    @property
    def metrics_equal(self) -> bool:
        return all(a == b for a, b in self.metrics.values())

    @property
    def reproduced(self) -> bool:
        """Same final metrics and bitwise-identical weights."""
        return self.metrics_equal and self.weights.identical is True

    def lines(self) -> list[str]:
        """The comparison as a text table for the console."""
        width = max([len("metric"), *map(len, self.metrics)])
        rows = [f"{'metric':<{width}}  {'original':>12}  {'rerun':>12}",
                *(f"{name:<{width}}  {_number(a):>12}  {_number(b):>12}  {_change(a, b)}".rstrip()
                  for name, (a, b) in self.metrics.items())]
        return [f"rerun {self.rerun_run_id} of run {self.original_run_id}", *rows,
                f"weights: {self.weights.detail}", self.verdict()]

    def verdict(self) -> str:
        if self.reproduced:
            return "reproduced: same final metrics, bitwise-identical weights"
        differing = [name for name, (a, b) in self.metrics.items() if a != b]
        parts = ([f"metrics differ ({', '.join(differing)})"] if differing else []) + \
            ([f"weights {self.weights.verdict}"] if self.weights.identical is not True else [])
        return "NOT reproduced exactly: " + "; ".join(parts) + " (see the differences reported before training)"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _change(a: float | None, b: float | None) -> str:
    if a == b:
        return ""
    if a is None or b is None:
        return "only in one run"
    return f"differs by {b - a:+.3g}"


def compare_metrics(original: Mapping[str, float], rerun: Mapping[str, float]) -> dict[str, tuple[Any, Any]]:
    """Final values of every metric either run logged (wall-time metrics aside), original first."""
    names = sorted((original.keys() | rerun.keys()) - set(TIMING_METRICS))
    return {name: (original.get(name), rerun.get(name)) for name in names}


def train_module() -> ModuleType:
    """``train.py`` of this checkout (it sits next to the ``nnscratch`` package)."""
    path = Path(nnscratch.__file__).resolve().parent.parent / "train.py"
    if not path.is_file():
        raise FileNotFoundError(f"rerun needs train.py of an nnscratch checkout; not found at {path}")
    spec = importlib.util.spec_from_file_location("nnscratch_train", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Rerun:
    """Rerun of one recorded run.

    Parameters
    ----------
    tracking_uri : str
        Store that holds the run; the rerun is logged there too.
    run_id : str
    overrides : sequence of str
        ``key=value`` changes to the recorded config (reported as differences).
    blas_threads : int, optional
        BLAS threads to train with; default: the recorded count (else as the BLAS is configured).
    """

    def __init__(self, tracking_uri: str, run_id: str, overrides: Sequence[str] = (),
                 blas_threads: int | None = None) -> None:
        self.client = MlflowClient(tracking_uri)
        self.record = RunRecord.load(self.client, run_id)
        self.cfg = rebuild_config(self.record, tracking_uri, overrides)
        self.blas_threads = blas_threads if blas_threads is not None else recorded_threads(self.record)
        self.train = train_module()

    def differences(self, now: Mapping[str, str]) -> list[Difference]:
        """Everything that differs between the record and this rerun, code aside (``now``: source tags)."""
        dataset, _ = self.train.load_data(self.cfg, np.random.default_rng(0))  # only its digest is used
        return [*environment_differences(self.record.tags, now), *config_differences(self.record, self.cfg),
                *environment_differences(self.record.tags, {"data.sha256": dataset.digest}, ("data.sha256",))]

    def run(self, strict: bool = False) -> Comparison:
        """Report differences, train, compare. :class:`RerunRefused` under ``strict`` if the code differs."""
        with _blas_limit(self.blas_threads):
            self._report(source_tags(), strict)
            self.train.run(self.cfg, tags={RERUN_OF_TAG: self.record.run_id})
        rerun_id = _last_run_id()
        comparison = Comparison(self.record.run_id, rerun_id,
                                compare_metrics(self.record.metrics, self.client.get_run(rerun_id).data.metrics),
                                compare_weights(load_weights(self.client, self.record.run_id),
                                                load_weights(self.client, rerun_id)))
        self.client.set_tag(rerun_id, VERDICT_TAG, comparison.weights.verdict)
        return comparison


    def _report(self, now: Mapping[str, str], strict: bool) -> None:
        """Log what differs from the record; raise :class:`RerunRefused` first if ``strict`` and the code does."""
        problems = code_problems(self.record.tags, now)
        if strict and problems:
            raise RerunRefused("--strict: " + "; ".join(problems))
        for problem in problems:
            log.warning("%s", problem)
        if self.record.overrides:
            log.info("recorded overrides (fixed in the rerun): %s", " ".join(self.record.overrides))
        differences = self.differences(now)
        for difference in differences:
            log.warning("differs from the record: %s", difference)
        if not differences:
            log.info("environment, config and data set match the record")


def _blas_limit(threads: int | None) -> contextlib.AbstractContextManager[Any]:
    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads, user_api="blas")


def _last_run_id() -> str:
    import mlflow

    run = mlflow.last_active_run()
    assert run is not None, "train.run() started no MLflow run"
    return run.info.run_id


def default_tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db`` in the current directory (as train.py)."""
    from nnscratch.tracking.store import resolve_tracking_uri

    return resolve_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI"), os.getcwd())


def main(args: Any) -> int:
    """``python -m nnscratch rerun``: print the comparison; exit status 2 if the rerun could not start."""
    from nnscratch.config import ConfigError
    from nnscratch.tracking.record import RecordError

    from omegaconf.errors import OmegaConfBaseException

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # keep the console to our lines
    uri = args.tracking_uri or default_tracking_uri()
    try:
        comparison = Rerun(uri, args.run_id, args.overrides, args.blas_threads).run(strict=args.strict)
    except (RecordError, RerunRefused, ConfigError, OmegaConfBaseException, FileNotFoundError) as error:
        log.error("rerun %s: %s", args.run_id, error)
        return 2
    print("\n".join(comparison.lines()))
    return 0
