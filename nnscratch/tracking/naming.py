"""Run names a person reads in the MLflow runs list: ``trial-007 lr=2.6e-3 bs=32 h=128x64``.

Sweep children are named by their number and what the sweep varies; single runs by the few settings
that tell them apart. Values are cut to three significant digits, common keys to short forms, and the
whole name to :data:`MAX_LENGTH` characters (the exact values are the run's params).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

MAX_LENGTH = 40
SHORT_KEYS = {"batch_size": "bs", "hidden_sizes": "h", "keep_prob": "kp", "epochs": "ep", "optimizer": "opt",
              "schedule": "sched", "model": "model", "activation": "act"}
#: What names a single run, after its data set and optimizer.
SINGLE_RUN_KEYS = ("lr", "batch_size", "hidden_sizes", "epochs")


def short_value(value: Any) -> str:
    """``0.0026078`` -> ``2.61e-3``, ``[128, 64]`` -> ``128x64``, ``True`` -> ``true``."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return _short_float(value)
    if isinstance(value, (list, tuple)):
        return "x".join(short_value(v) for v in value)
    return str(value)


def _short_float(value: float) -> str:
    if value == 0 or not (1e-2 <= abs(value) < 1e4):
        mantissa, _, exponent = f"{value:.2e}".partition("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}" if value != 0 else "0"
    return f"{value:.3g}"


def short_setting(key: str, value: Any) -> str:
    """``hidden_sizes``, ``[128, 64]`` -> ``h=128x64``; dotted keys keep their last part."""
    leaf = key.rpartition(".")[2]
    return f"{SHORT_KEYS.get(leaf, leaf)}={short_value(value)}"


def parse_overrides(overrides: Sequence[str]) -> list[tuple[str, Any]]:
    """Key and value of each ``key=value`` override (deletions and sweeps are skipped)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    pairs = []
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        if override.is_delete() or override.is_sweep_override():
            continue
        pairs.append((override.key_or_group, override.value()))
    return pairs


def fit(head: str, parts: Iterable[str], max_length: int = MAX_LENGTH) -> str:
    """``head`` and as many of ``parts`` (in order) as fit in ``max_length`` characters."""
    name = head
    for part in parts:
        candidate = f"{name} {part}" if name else part
        if len(candidate) > max_length:
            break
        name = candidate
    return name


def sweep_run_name(kind: str, number: int, overrides: Sequence[str]) -> str:
    """``trial-007 lr=2.6e-3 bs=32`` (``kind`` trial, zero-padded) or ``job-2 lr=0.01`` (kind job)."""
    head = f"trial-{number:03d}" if kind == "trial" else f"{kind}-{number}"
    return fit(head, (short_setting(k, v) for k, v in parse_overrides(overrides)))


def single_run_name(cfg: Any) -> str:
    """``mnist sgd lr=0.1 bs=32 h=128x64 ep=10`` for a run outside a sweep (``cfg``: the job's DictConfig)."""
    from omegaconf import OmegaConf

    from nnscratch.tracking.params import config_settings

    params = config_settings(cfg)
    plain = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(plain, dict)
    settings = [(key, plain[key]) for key in SINGLE_RUN_KEYS if key in plain]
    return fit(" ".join(params[g] for g in ("data", "optimizer") if g in params),
               (short_setting(k, v) for k, v in settings))


def figure_title(cfg: Any, layer_sizes: Sequence[int], run_name: str | None = None) -> str:
    """``trial-007 · mnist [784, 128, 64, 10] adam lr=2.6e-3``: the learning curves' title."""
    from nnscratch.tracking.params import config_settings

    params = config_settings(cfg)
    what = f"{params.get('data', '')} {list(layer_sizes)} {params.get('optimizer', '')} " \
           f"lr={short_value(float(cfg.lr))}"
    head = (run_name or "").split(" ")[0]
    return f"{head} · {what}" if head.startswith(("trial-", "job-")) else what
