"""The official plugin's class name, answered by nnscratch's sweeper (see the package docstring)."""
from hydra_plugins.nnscratch_optuna_sweeper import optuna_sweeper as _nnscratch  # a module: not re-registered


class OptunaSweeper(_nnscratch.OptunaSweeper):
    """:class:`hydra_plugins.nnscratch_optuna_sweeper.optuna_sweeper.OptunaSweeper` under the official name."""
