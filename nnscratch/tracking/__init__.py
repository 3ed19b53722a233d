"""MLflow tracking for nnscratch runs (imports mlflow; never imported by ``import nnscratch``).

- :mod:`.store`     tracking URI and experiment
- :mod:`.tags`      git commit/dirty, host, versions
- :mod:`.params`    resolved config -> flat params
- :mod:`.metrics`   batched per-epoch metrics (a ``fit`` callback)
- :mod:`.datasets`  data set as an MLflow dataset input (name + SHA-256)
- :mod:`.artifacts` config, confusion tables, figures, checkpoint
- :mod:`.pyfunc`    the model as an MLflow pyfunc ("models from code", :mod:`.pyfunc_code`)
- :mod:`.runs`      run lifecycle: FINISHED / FAILED / KILLED
- :mod:`.tracker`   what train.py calls; :mod:`.evaluation` test-set results
- :mod:`.sweep`     Hydra callback: one parent run per multirun (:mod:`.parent_run`)
- :mod:`.progress`  tqdm bar / per-epoch log lines
- :mod:`.naming`    run names (``trial-007 lr=2.6e-3 bs=32``); :mod:`.leaderboard` the sweep's ranking
- :mod:`.ui_links`  addresses of runs and compare views in the MLflow UI
"""
