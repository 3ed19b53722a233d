"""Compatibility name for the official hydra-optuna-sweeper plugin, which nnscratch replaces.

Configs copied from projects that used the official plugin (lightning-hydra-template's
``hparams_search``, for instance) set ``hydra.sweeper._target_`` to
``hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper``; that name now resolves to
:class:`hydra_plugins.nnscratch_optuna_sweeper.optuna_sweeper.OptunaSweeper`. Do not install
hydra-optuna-sweeper next to nnscratch (it pins optuna<3 and would shadow these files).
"""
