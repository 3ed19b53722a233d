"""Which trials count toward ``n_trials``, the study's total budget.

Every trial counts (COMPLETE, PRUNED, RUNNING, and FAIL from an exception in the job) except:

* WAITING trials (enqueued, not started yet);
* FAIL trials whose worker died and that were put back in the queue (``nnscratch:requeued``): the
  re-run stands in for them;
* FAIL trials created beyond the budget by a race the lock could not prevent (``nnscratch:surplus``).

So a rerun of the same command runs exactly the trials still missing, and killed trials are re-run
rather than lost.
"""
from __future__ import annotations

from collections.abc import Iterable

from optuna.trial import FrozenTrial, TrialState

REQUEUED_KEY = "nnscratch:requeued"
SURPLUS_KEY = "nnscratch:surplus"
RETRIES_KEY = "nnscratch:retries"


def counts_toward_budget(trial: FrozenTrial) -> bool:
    if trial.state == TrialState.WAITING:
        return False
    if trial.state == TrialState.FAIL:
        return not (trial.system_attrs.get(REQUEUED_KEY) or trial.system_attrs.get(SURPLUS_KEY))
    return True


def used_budget(trials: Iterable[FrozenTrial]) -> int:
    """How many of ``n_trials`` the study has used (see the module docstring)."""
    return sum(counts_toward_budget(t) for t in trials)


def budget_rank(trials: Iterable[FrozenTrial], number: int) -> int:
    """0-based position of trial ``number`` among the counted trials (by trial number)."""
    return sum(counts_toward_budget(t) for t in trials if t.number < number)
