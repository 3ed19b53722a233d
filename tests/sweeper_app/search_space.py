"""A ``custom_search_space`` function for the toy app: an extra parameter suggested in Python."""
from __future__ import annotations

import optuna
from omegaconf import DictConfig


def epochs_from_x(cfg: DictConfig, trial: optuna.Trial) -> None:
    """Suggest ``epochs`` (the official plugin's ``custom_search_space`` signature)."""
    trial.suggest_int("epochs", 1, 3)


def like_the_official_example(cfg: DictConfig, trial: optuna.Trial) -> None:
    """The official docs' example: a parameter derived from a swept one; new keys take a ``+``."""
    trial.suggest_float("+z", trial.params["x"] - 0.5, trial.params["x"] + 0.5)
    trial.suggest_float("+w", 0.0, 1.0)


def suggests_y(cfg: DictConfig, trial: optuna.Trial) -> None:
    """Suggests ``y``, which a test fixes: the official plugin refuses that overlap."""
    trial.suggest_float("y", -1.0, 1.0)
