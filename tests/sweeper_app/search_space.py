"""A ``custom_search_space`` function for the toy app: an extra parameter suggested in Python."""
from __future__ import annotations

import optuna
from omegaconf import DictConfig


def epochs_from_x(cfg: DictConfig, trial: optuna.Trial) -> None:
    """Suggest ``epochs`` (the official plugin's ``custom_search_space`` signature)."""
    trial.suggest_int("epochs", 1, 3)
