"""nnscratch: neural networks from scratch in NumPy.

The core engine imports numpy only; tracking (MLflow), sweeps (Optuna) and figures (matplotlib)
live in subpackages that are imported on demand.
"""
from . import activations, initializers, losses, metrics, optimizers, schedules
from ._version import __version__
from .checkpoint import load, load_with_optimizer, save
from .network import MLP
from .optimizers import SGD, Adam, Momentum, Optimizer, RMSprop
from .seeding import Generators, make_generators
from .training import Callback, DivergedError, History, StopTraining, fit, train_val_split

__all__ = [
    "MLP", "SGD", "Adam", "Momentum", "RMSprop", "Optimizer", "Callback", "DivergedError", "Generators",
    "History", "StopTraining", "__version__", "activations", "fit", "initializers", "load",
    "load_with_optimizer", "losses", "make_generators", "metrics", "optimizers", "save", "schedules",
    "train_val_split",
]
