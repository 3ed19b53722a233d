"""The end-of-sweep summary lines."""
from __future__ import annotations

import logging

from nnscratch.sweeper.results import write_results


def test_a_sweep_without_a_completed_trial_does_not_print_empty_best_parameters(tmp_path, caplog):
    summary = {"name": "optuna", "best_params": {}, "best_value": None, "best_trial": None}
    with caplog.at_level(logging.INFO, logger="nnscratch.sweeper.results"):
        write_results(summary, tmp_path)
    assert "Best trial" not in caplog.text and "No trial completed" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="nnscratch.sweeper.results"):
        write_results({**summary, "best_params": {"lr": 0.1}, "best_value": 0.9, "best_trial": 3,
                       "metric_names": ["val/acc"]}, tmp_path)
    assert "Best trial 3: val/acc=0.9000 lr=0.1" in caplog.text
