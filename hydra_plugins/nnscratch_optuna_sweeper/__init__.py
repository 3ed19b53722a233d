"""Hydra Sweeper plugin ``hydra/sweeper=optuna`` (Optuna >= 4), a drop-in replacement for hydra-optuna-sweeper.

The implementation lives in :mod:`nnscratch.sweeper`; this package only registers the plugin class and
its configs with Hydra.
"""
