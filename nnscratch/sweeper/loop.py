"""Worker slots: each asks for one trial, launches its job, tells the result, and asks again.

With ``n`` slots, ``n`` jobs run at once and a finished (or pruned) trial frees its slot for the next
one at once; nothing waits for a batch. Every slot calls ``launcher.launch([one job])`` from its own
thread, which the joblib launcher supports (its loky pool is shared). The in-process launcher gets one
slot, because Hydra's job setup (working directory, logging, HydraConfig) is process-global.

Asking happens under the study lock (:mod:`.locks`): the slot first retires stale trials of dead
workers, then counts the budget (:mod:`.budget`), then asks. When the budget is used but trials of
other workers are still running, the slot waits for them: if one of them dies, its re-queued
parameters are run here.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna
from hydra.errors import HydraException
from hydra.plugins.launcher import Launcher
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage
from optuna.trial import TrialState

from .budget import SURPLUS_KEY, budget_rank, used_budget
from . import trial_lines
from .job import PRUNED_AT_ATTR, env_overrides, job_env
from .liveness import OWNER_KEY, Heartbeat, is_mine, owner_alive, owner_record
from .locks import StudyLock
from .mlflow_runs import end_orphan_run
from .outcome import Outcome, outcome_of
from .recovery import FAIL_REASON_ATTR, reap_stale_trials, retire_trial
from .settings import SweepSettings, StudyTarget
from .space import SearchSpace

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0


@dataclass
class LoopState:
    """What the slots share: the stop flag and this run's failures."""

    stop: threading.Event = field(default_factory=threading.Event)
    failures: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class TrialLoop:
    """Run the study's missing trials through ``launcher`` with ``slots`` jobs at a time.

    Parameters
    ----------
    study, storage : the study and its storage object
    lock : StudyLock
        The study's cross-process lock.
    target : StudyTarget
        Study name and storage string (passed to every job).
    space : SearchSpace
        Swept parameters and fixed overrides.
    settings : SweepSettings
        ``timeout``, ``max_failure_rate``, heartbeat and retry options.
    n_trials : int
        The study's total budget (already capped for grids).
    launcher : hydra.plugins.launcher.Launcher
    config : DictConfig
        The multirun config (given to ``custom_search_space``).
    cpus : int
        Cores this machine offers.
    blas_threads : int, optional
        BLAS threads per job; ``None``: ``cpus`` divided by the jobs running on this machine (this
        sweep's slots and other workers' trials), at least 1.
    custom_search_space : callable, optional
        ``fn(config, trial)`` suggesting extra parameters.
    """

    def __init__(self, *, study: optuna.Study, storage: BaseStorage, lock: StudyLock, target: StudyTarget,
                 space: SearchSpace, settings: SweepSettings, n_trials: int, launcher: Launcher,
                 config: DictConfig, cpus: int, blas_threads: int | None = None,
                 custom_search_space: Callable[[DictConfig, optuna.Trial], None] | None = None) -> None:
        self.study, self.storage, self.target, self.space = study, storage, target, space
        self.settings, self.n_trials, self.launcher, self.config = settings, n_trials, launcher, config
        self.cpus, self.blas_threads, self.custom_search_space = cpus, blas_threads, custom_search_space
        self.slots = 1
        self.lock = lock
        self.me = owner_record()
        self.state = LoopState()
        self.started = time.monotonic()
        self.allowed_failures = 0
        self._waiting_logged = False
        self._compose_lock = threading.Lock()

    # --- public -----------------------------------------------------------------------------------
    def run(self, slots: int) -> None:
        """Run until the budget is used, the timeout passes or failures exceed ``max_failure_rate``.

        Raises
        ------
        BaseException
            The first failed job's exception when the failure budget is exceeded; KeyboardInterrupt.
        """
        with self.lock:
            reap_stale_trials(self.study, self.storage, grace_period=self.settings.grace_seconds,
                              max_retries=self.settings.max_retries)
            used = used_budget(self.study.get_trials(deepcopy=False))
        to_run = max(0, self.n_trials - used)
        self.allowed_failures = math.floor(self.settings.max_failure_rate * max(1, to_run))
        log.info("study %s: %d of %d trials done or running, %d to run, %d at a time",
                 self.study.study_name, used, self.n_trials, to_run, slots)
        self.slots = slots
        with Heartbeat(self.storage, self.settings.heartbeat_interval) as heartbeat, trial_lines.quiet_launchers():
            self._run_slots(slots, heartbeat)
        if len(self.state.failures) > self.allowed_failures:
            log.error("%d trial(s) failed, more than max_failure_rate=%s allows (%d of %d)",
                      len(self.state.failures), self.settings.max_failure_rate, self.allowed_failures, to_run)
            raise self.state.failures[0]

    # --- slots ------------------------------------------------------------------------------------
    def _run_slots(self, slots: int, heartbeat: Heartbeat) -> None:
        if slots == 1:
            self._slot(heartbeat)
            return
        errors: list[BaseException] = []
        threads = [threading.Thread(target=self._guarded_slot, args=(heartbeat, errors), name=f"trial-slot-{i}")
                   for i in range(slots)]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(timeout=0.5)
        except KeyboardInterrupt:
            self.state.stop.set()
            for thread in threads:
                thread.join()
            raise
        if errors:
            raise errors[0]

    def _guarded_slot(self, heartbeat: Heartbeat, errors: list[BaseException]) -> None:
        try:
            self._slot(heartbeat)
        except BaseException as error:  # noqa: BLE001 - handed to the main thread
            self.state.stop.set()
            errors.append(error)

    def _slot(self, heartbeat: Heartbeat) -> None:
        while not self.state.stop.is_set():
            asked = self._next_trial(heartbeat)
            if asked is None:
                return
            trial, threads = asked
            try:
                self._run_trial(trial, threads)
            finally:
                heartbeat.discard(self._trial_id(trial.number))

    # --- asking -----------------------------------------------------------------------------------
    def _next_trial(self, heartbeat: Heartbeat) -> tuple[optuna.Trial, int] | None:
        while not self.state.stop.is_set():
            if self._timed_out():
                return None
            with self.lock:
                reap_stale_trials(self.study, self.storage, grace_period=self.settings.grace_seconds,
                                  max_retries=self.settings.max_retries)
                trials = self.study.get_trials(deepcopy=False)
                if used_budget(trials) < self.n_trials:
                    trial = self._ask(heartbeat)
                    return None if trial is None else (trial, self._threads_per_job(trials))
                others = [t.number for t in trials if t.state == TrialState.RUNNING and not is_mine(t, self.me)]
            if not others:
                return None
            if not self._waiting_logged:
                log.info("budget used; waiting for trials %s of other workers to finish", others)
                self._waiting_logged = True
            self.state.stop.wait(POLL_SECONDS)
        return None

    def _ask(self, heartbeat: Heartbeat) -> optuna.Trial | None:
        trial = self.study.ask(self.space.distributions)
        trial_id = self._trial_id(trial.number)
        self.storage.set_trial_system_attr(trial_id, OWNER_KEY, self.me)
        heartbeat.add(trial_id)
        trials = self.study.get_trials(deepcopy=False)
        if not self.lock.exact and budget_rank(trials, trial.number) >= self.n_trials:
            heartbeat.discard(trial_id)
            self.storage.set_trial_system_attr(trial_id, SURPLUS_KEY, True)
            self.study.tell(trial, state=TrialState.FAIL)
            log.info("trial %d is beyond n_trials=%d (another worker was faster); dropped",
                     trial.number, self.n_trials)
            return None
        return trial

    def _threads_per_job(self, trials: list[optuna.trial.FrozenTrial]) -> int:
        if self.blas_threads is not None:
            return self.blas_threads
        local = sum(1 for t in trials if t.state == TrialState.RUNNING and t.system_attrs.get(OWNER_KEY)
                    and owner_alive(t.system_attrs[OWNER_KEY]))
        return max(1, self.cpus // max(self.slots, local + 1))

    def _timed_out(self) -> bool:
        timeout = self.settings.timeout
        if timeout is not None and time.monotonic() - self.started > timeout:
            log.info("timeout of %ss reached; no new trials", timeout)
            return True
        return False

    # --- running ----------------------------------------------------------------------------------
    def _run_trial(self, trial: optuna.Trial, threads: int) -> None:
        try:
            if self.custom_search_space is not None:
                self.custom_search_space(self.config, trial)
            overrides = self.space.overrides(trial.params)
        except Exception as error:  # noqa: BLE001 - a broken custom search space fails this trial
            self._finish(trial, Outcome(TrialState.FAIL, error=error))
            return
        log.info("%s", trial_lines.started(trial.number, self.space.python_values(trial.params)))
        env = env_overrides(job_env(self.target.storage, self.target.study_name, trial.number, threads))
        try:
            self._check_composes(overrides + env)
            job = self.launcher.launch([overrides + env], initial_job_idx=trial.number)[0]
        except (HydraException, OmegaConfBaseException) as error:
            self._finish(trial, Outcome(TrialState.FAIL, error=error))  # a config error: retrying cannot help
            return
        except BaseException as error:  # noqa: BLE001 - the job's process died or the user interrupted
            self._retire(trial, error)
            if isinstance(error, (KeyboardInterrupt, SystemExit)):
                self.state.stop.set()
                raise
            return
        self._finish(trial, outcome_of(job, len(self.study.directions), self._latest(trial).user_attrs))

    def _check_composes(self, overrides: list[str]) -> None:
        """Compose the job's config here before launching it in a worker process.

        The joblib launcher composes inside the worker pool, where a config error shuts the shared
        pool down and takes the other slots' healthy jobs with it; raising here fails only this trial.
        """
        from hydra._internal.core_plugins.basic_launcher import BasicLauncher

        context = getattr(self.launcher, "hydra_context", None)
        if context is None or isinstance(self.launcher, BasicLauncher):
            return  # in-process jobs raise config errors straight into launch()
        with self._compose_lock:
            context.config_loader.load_sweep_config(self.config, list(overrides))

    def _retire(self, trial: optuna.Trial, error: BaseException) -> None:
        """The job's process died (or the launcher broke): FAIL the trial and queue its parameters again."""
        log.warning("trial %d: job did not return (%s: %s)", trial.number, type(error).__name__, error)
        reason = "interrupted" if isinstance(error, KeyboardInterrupt) else f"job died: {type(error).__name__}"
        retire_trial(self.study, self.storage, self._latest(trial), reason=reason,
                     max_retries=self.settings.max_retries)

    def _finish(self, trial: optuna.Trial, outcome: Outcome) -> None:
        trial_id = self._trial_id(trial.number)
        try:
            if outcome.failed:
                self.storage.set_trial_user_attr(trial_id, FAIL_REASON_ATTR,
                                                 f"{type(outcome.error).__name__}: {outcome.error}"[:500])
            _tell(self.study, trial, outcome)
        except UpdateFinishedTrialError:
            log.warning("trial %d was already finished by another worker (it looked stale); result dropped",
                        trial.number)
            return
        self._log_outcome(trial, outcome)
        if outcome.failed:
            end_orphan_run(self._latest(trial).user_attrs, status="FAILED", reason="job raised")
        if outcome.failed and outcome.counts_as_failure:
            self._count_failure(outcome.error or RuntimeError("trial failed"))

    def _count_failure(self, error: BaseException) -> None:
        with self.state.lock:
            self.state.failures.append(error)
            over = len(self.state.failures) > self.allowed_failures
        if over:
            self.state.stop.set()

    def _log_outcome(self, trial: optuna.Trial, outcome: Outcome) -> None:
        if outcome.state == TrialState.COMPLETE:
            log.info("%s", trial_lines.finished(trial.number, self.study.metric_names, outcome.values,
                                                trial.datetime_start))
        elif outcome.state == TrialState.PRUNED:
            log.info("%s", trial_lines.pruned(trial.number, self._latest(trial).user_attrs.get(PRUNED_AT_ATTR),
                                              trial.datetime_start))
        elif not outcome.counts_as_failure:
            log.warning("trial %d failed: %s", trial.number, outcome.error)
        else:
            log.warning("trial %d failed: %s: %s", trial.number, type(outcome.error).__name__, outcome.error,
                        exc_info=outcome.error)

    def _latest(self, trial: optuna.Trial) -> optuna.trial.FrozenTrial:
        return self.storage.get_trial(self._trial_id(trial.number))

    def _trial_id(self, number: int) -> int:
        study_id = self.storage.get_study_id_from_name(self.study.study_name)
        return self.storage.get_trial_id_from_study_id_trial_number(study_id, number)


def _tell(study: optuna.Study, trial: optuna.Trial, outcome: Outcome) -> None:
    try:
        study.tell(trial, values=outcome.values, state=outcome.state)
    except RuntimeError as error:
        # GridSampler.after_trial calls study.stop() when the grid is exhausted, which only works inside
        # study.optimize; the trial is already stored by then, and the budget check stops the loop.
        if "Study.stop" not in str(error):
            raise


def slots_for(launcher: Launcher, n_jobs: int, cpus: int) -> int:
    """Jobs to run at once: ``n_jobs``, 1 for the in-process launcher, at most the joblib pool size."""
    from hydra._internal.core_plugins.basic_launcher import BasicLauncher

    if isinstance(launcher, BasicLauncher):
        if n_jobs > 1:
            log.info("the basic launcher runs jobs in this process, one at a time; for n_jobs=%d use "
                     "hydra/launcher=joblib or start more workers against the same storage", n_jobs)
        return 1
    pool = _joblib_pool_size(launcher, cpus)
    if pool is not None and pool < n_jobs:
        log.warning("hydra.launcher.n_jobs=%d < hydra.sweeper.n_jobs=%d; running %d at a time", pool, n_jobs, pool)
        return pool
    return n_jobs


def _joblib_pool_size(launcher: Launcher, cpus: int) -> int | None:
    options: Any = getattr(launcher, "joblib", None)
    if not options or options.get("n_jobs") is None:
        return None
    n = int(options["n_jobs"])
    return max(1, cpus + 1 + n) if n < 0 else n

