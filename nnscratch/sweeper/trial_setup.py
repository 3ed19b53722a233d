"""What each trial gets before its job starts, as in the official plugin.

The fixed params (``y=0`` next to swept ones) are set as trial user attributes, where a
``custom_search_space`` function (and later readers) find them; then the custom function suggests its
parameters, which may not overlap the fixed ones.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import optuna
from omegaconf import DictConfig

from .errors import SweepConfigError

TrialSetup = Callable[[DictConfig, optuna.Trial], None]


def trial_setup(fixed: Mapping[str, str], custom: TrialSetup | None) -> TrialSetup:
    """``fn(config, trial)``: record ``fixed`` on the trial, run ``custom``, refuse overlaps.

    Raises (from the returned function)
    ------
    SweepConfigError
        When ``custom`` suggests a parameter that has a fixed value (official message).
    """
    def setup(config: DictConfig, trial: optuna.Trial) -> None:
        for name, value in fixed.items():
            trial.set_user_attr(name, value)
        if custom is None:
            return
        custom(config, trial)
        overlap = sorted(trial.params.keys() & fixed.keys())
        if overlap:
            raise SweepConfigError("Overlapping fixed parameters and search space parameters found!"
                                   f"Overlapping parameters: {overlap}")

    return setup
