"""Optuna sweeps for Hydra (the ``hydra/sweeper=optuna`` plugin) and what jobs need from them.

Not imported by :mod:`nnscratch`; importing a submodule imports Optuna and Hydra.

Job side (:mod:`.job`): :func:`current_trial`, :class:`PruningCallback`, :func:`record_run_id`,
:func:`trial_tags`, :func:`parent_run`. Callback side (:mod:`.context`): :func:`sweep_context`.
Sweeper side: :mod:`.sweeper` (orchestration), :mod:`.loop` (worker slots), :mod:`.space` (search
spaces in override syntax; :mod:`.legacy_space` the deprecated ``search_space`` form),
:mod:`.trial_setup`, :mod:`.errors`, :mod:`.storage`, :mod:`.locks`, :mod:`.liveness`,
:mod:`.recovery`, :mod:`.budget`, :mod:`.outcome`, :mod:`.results`. The official plugin's module
names (:mod:`hydra_plugins.hydra_optuna_sweeper.config`, ``._impl``) are adapters over these.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "current_trial": ".job", "PruningCallback": ".job", "record_run_id": ".job", "trial_tags": ".job",
    "parent_run": ".job", "sweep_context": ".context", "SweepContext": ".context",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name], __name__), name)
