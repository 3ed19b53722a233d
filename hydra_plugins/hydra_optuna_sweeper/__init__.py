"""The official hydra-optuna-sweeper's module names, answered by nnscratch's sweeper, which replaces it.

``config`` holds the config schema (the official dataclasses and enums, registered as
``hydra/sweeper=optuna``), ``optuna_sweeper.OptunaSweeper`` is the plugin class, ``_impl`` the official
helpers (``create_params_from_overrides`` and friends) on top of :mod:`nnscratch.sweeper`. Configs
copied from projects that used the official plugin (lightning-hydra-template's ``hparams_search``)
name ``hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper``; that is this sweeper. Do not
install hydra-optuna-sweeper next to nnscratch: it would overwrite these files.
"""
