"""Hydra Sweeper plugin ``hydra/sweeper=optuna`` (Optuna >= 4), a drop-in replacement for hydra-optuna-sweeper.

The implementation lives in :mod:`nnscratch.sweeper`; this package holds the plugin class. Its config
schema is registered under the official module names, :mod:`hydra_plugins.hydra_optuna_sweeper.config`.
"""
