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
import os
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

from .budget import REQUEUED_KEY, SURPLUS_KEY, budget_rank, used_budget
from . import trial_lines
from .job import PRUNED_AT_ATTR, env_overrides, job_env
from .launch import LaunchWatch
from .liveness import JOB_KEY, OWNER_KEY, RECORDED_KEY, Heartbeat, is_mine, owner_alive, owner_record
from .locks import StudyLock
from .mlflow_runs import end_orphan_run
from .outcome import Outcome, outcome_of, recorded_outcome
from .redaction import redacted
from .remote import prepare as prepare_remote
from .remote import runs_elsewhere
from .recovery import FAIL_REASON_ATTR, reap_stale_trials, retire_trial
from .reporter import JobInterrupted, TrialAlreadyFinished
from .settings import SweepSettings, StudyTarget
from .signals import stop_worker_pool, terminate_as_interrupt
from .space import SearchSpace

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0


@dataclass
class LoopState:
    """What the slots share: the stop flag and this run's failures."""

    stop: threading.Event = field(default_factory=threading.Event)
    interrupted: threading.Event = field(default_factory=threading.Event)
    failures: list[BaseException] = field(default_factory=list)
    results: int = 0
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
            The first failed job's (or launcher's) exception when the failure budget is exceeded or
            when trials failed and none completed; KeyboardInterrupt.
        """
        with self.lock:
            reap_stale_trials(self.study, self.storage, grace_period=self.settings.grace_seconds,
                              max_retries=self.settings.max_retries)
            used = used_budget(self.study.get_trials(deepcopy=False))
        prepare_remote(self.launcher, self.target.storage, self.config)
        to_run = max(0, self.n_trials - used)
        self.allowed_failures = math.floor(self.settings.max_failure_rate * max(1, to_run))
        log.info("study %s: %d of %d trials done or running, %d to run, %d at a time",
                 self.study.study_name, used, self.n_trials, to_run, slots)
        self.slots = slots
        try:
            with terminate_as_interrupt(), Heartbeat(self.storage, self.settings.heartbeat_interval) as heartbeat, \
                    trial_lines.quiet_launchers():
                self._run_slots(slots, heartbeat)
        except KeyboardInterrupt:
            stop_worker_pool()
            raise
        failures = self.state.failures
        if len(failures) > self.allowed_failures:
            log.error("%d trial(s) failed, more than max_failure_rate=%s allows (%d of %d)",
                      len(failures), self.settings.max_failure_rate, self.allowed_failures, to_run)
            raise failures[0]
        if failures and not self.state.results:
            log.error("no trial completed and %d failed; the first error: %s: %s",
                      len(failures), type(failures[0]).__name__, failures[0])
            raise failures[0]

    # --- slots ------------------------------------------------------------------------------------
    def _run_slots(self, slots: int, heartbeat: Heartbeat) -> None:
        if slots == 1:
            self._slot(heartbeat)
            return
        errors: list[BaseException] = []
        done = [threading.Event() for _ in range(slots)]
        for i in range(slots):
            threading.Thread(target=self._guarded_slot, args=(heartbeat, errors, done[i]),
                             name=f"trial-slot-{i}").start()
        try:
            _wait_all(done)
        except KeyboardInterrupt:
            self.state.interrupted.set()
            self.state.stop.set()
            _wait_all(done)  # the slots record what their jobs still return, then retire the rest
            raise
        if errors:
            raise errors[0]

    def _guarded_slot(self, heartbeat: Heartbeat, errors: list[BaseException], done: threading.Event) -> None:
        try:
            self._slot(heartbeat)
        except BaseException as error:  # noqa: BLE001 - handed to the main thread
            self.state.stop.set()
            errors.append(error)
        finally:
            done.set()

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
    def _next_trial(self, heartbeat: Heartbeat) -> tuple[optuna.Trial, int | None] | None:
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

    def _threads_per_job(self, trials: list[optuna.trial.FrozenTrial]) -> int | None:
        """BLAS threads for a job on this machine; ``None`` for a scheduler's job (it decides where it runs)."""
        if self.blas_threads is not None:
            return self.blas_threads
        if runs_elsewhere(self.launcher):
            return None
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
    def _run_trial(self, trial: optuna.Trial, threads: int | None) -> None:
        try:
            if self.custom_search_space is not None:
                self.custom_search_space(self.config, trial)
            overrides = self.space.overrides(trial.params)
        except Exception as error:  # noqa: BLE001 - a broken custom search space fails this trial
            self._finish(trial, Outcome(TrialState.FAIL, error=error))
            return
        log.info("%s", trial_lines.started(trial.number, self.space.python_values(trial.params)))
        env = env_overrides(job_env(redacted(self.target.storage), self.target.study_name, trial.number, threads,
                                    heartbeat_interval=self.settings.heartbeat_interval,
                                    max_retries=self.settings.max_retries))
        try:
            self._check_composes(overrides + env)
            job = self._launch(trial, overrides + env)
        except (HydraException, OmegaConfBaseException) as error:
            self._finish(trial, Outcome(TrialState.FAIL, error=error))  # a config error: retrying cannot help
            return
        except BaseException as error:  # noqa: BLE001 - the job's process died, the launcher broke, or Ctrl-C
            self._not_returned(trial, error)
            return
        if job is None:
            self._settle(trial)
        else:
            self._finish(trial, outcome_of(job, len(self.study.directions), self._latest(trial).user_attrs))

    def _launch(self, trial: optuna.Trial, overrides: list[str]) -> Any:
        def launch() -> Any:
            return self.launcher.launch([overrides], initial_job_idx=trial.number)[0]

        if _in_process(self.launcher):
            return launch()
        watch = LaunchWatch(self.storage, self._trial_id(trial.number), grace_period=self.settings.grace_seconds,
                            check_every=min(self.settings.heartbeat_interval, self.settings.grace_seconds / 2),
                            stopping=self.state.stop, interrupted=self.state.interrupted)
        return watch.run(launch)

    def _not_returned(self, trial: optuna.Trial, error: BaseException) -> None:
        """The launcher raised: the job's process died, the launcher broke, or the sweep was interrupted."""
        interrupted = isinstance(error, (KeyboardInterrupt, SystemExit)) or self.state.interrupted.is_set()
        log.warning("trial %d: job did not return (%s: %s)", trial.number, type(error).__name__, error)
        if self._latest(trial).system_attrs.get(RECORDED_KEY):
            self._settle(trial)  # the job recorded its outcome; the launcher only failed to bring it back
        else:
            reason = "interrupted" if interrupted else f"job did not return: {type(error).__name__}: {error}"[:500]
            self._retire(trial, reason)
            if not interrupted and not self._latest(trial).system_attrs.get(REQUEUED_KEY):
                self._count_failure(error)  # retries used up: a launcher failing every trial stops the sweep
        if interrupted:
            self.state.interrupted.set()
            self.state.stop.set()
            raise error

    def _settle(self, trial: optuna.Trial) -> None:
        """The watch ended without the launcher's answer: log what the job recorded, or retire the trial."""
        latest = self._latest(trial)
        if latest.state == TrialState.RUNNING:
            reason = ("interrupted" if self.state.interrupted.is_set() else
                      "cancelled: the sweep stopped" if self.state.stop.is_set() else "job stopped heart-beating")
            self._retire(trial, reason)
        elif latest.system_attrs.get(RECORDED_KEY) and not latest.system_attrs.get(REQUEUED_KEY):
            self._finish(trial, recorded_outcome(latest))

    def _retire(self, trial: optuna.Trial, reason: str) -> None:
        """FAIL the trial whose job is gone and queue its parameters again."""
        retire_trial(self.study, self.storage, self._latest(trial), reason=reason,
                     max_retries=self.settings.max_retries)

    def _finish(self, trial: optuna.Trial, outcome: Outcome) -> None:
        if isinstance(outcome.error, (JobInterrupted, TrialAlreadyFinished)):
            self._job_stopped(trial, outcome.error)
            return
        latest = self._latest(trial)
        if latest.state == TrialState.RUNNING:
            if not self._record(trial, outcome):
                return
        elif not latest.system_attrs.get(RECORDED_KEY):
            log.warning("trial %d was already finished by another worker (it looked stale); result dropped",
                        trial.number)
            return
        self._log_outcome(trial, outcome)
        if not outcome.failed:
            with self.state.lock:
                self.state.results += 1
        if outcome.failed:
            end_orphan_run(self.study, self._latest(trial), status="FAILED", reason="job raised")
        if outcome.failed and outcome.counts_as_failure:
            self._count_failure(outcome.error or RuntimeError("trial failed"))

    def _record(self, trial: optuna.Trial, outcome: Outcome) -> bool:
        """Tell the outcome the job could not record itself; False if another worker finished the trial."""
        try:
            if outcome.failed:
                self.storage.set_trial_user_attr(self._trial_id(trial.number), FAIL_REASON_ATTR,
                                                 f"{type(outcome.error).__name__}: {outcome.error}"[:500])
            _tell(self.study, trial, outcome)
        except UpdateFinishedTrialError:
            log.warning("trial %d was already finished by another worker (it looked stale); result dropped",
                        trial.number)
            return False
        return True

    def _job_stopped(self, trial: optuna.Trial, error: BaseException) -> None:
        """The job was interrupted (it queued its trial again) or found its trial retired already."""
        log.info("trial %d: %s", trial.number, error)
        latest = self._latest(trial)
        if isinstance(error, JobInterrupted) and latest.state == TrialState.RUNNING:
            self._retire(trial, "interrupted")
        if (latest.system_attrs.get(JOB_KEY) or {}).get("pid") == os.getpid():
            self.state.interrupted.set()  # the job ran in this process: Ctrl-C was meant for the sweep
            self.state.stop.set()
            raise KeyboardInterrupt(str(error))

    def _check_composes(self, overrides: list[str]) -> None:
        """Compose the job's config here before launching it in a worker process.

        The joblib launcher composes inside the worker pool, where a config error shuts the shared
        pool down and takes the other slots' healthy jobs with it; raising here fails only this trial.
        """
        context = getattr(self.launcher, "hydra_context", None)
        if context is None or _in_process(self.launcher):
            return  # in-process jobs raise config errors straight into launch()
        with self._compose_lock:
            context.config_loader.load_sweep_config(self.config, list(overrides))

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


def _wait_all(done: list[threading.Event]) -> None:
    """Wait for every event; Ctrl-C gets through. (Not Thread.join: a KeyboardInterrupt inside it makes
    Python 3.11 take the thread for finished.)"""
    for event in done:
        while not event.wait(0.5):
            pass


def _in_process(launcher: Launcher) -> bool:
    from hydra._internal.core_plugins.basic_launcher import BasicLauncher

    return isinstance(launcher, BasicLauncher)


def slots_for(launcher: Launcher, n_jobs: int, cpus: int) -> int:
    """Jobs to run at once: ``n_jobs``, 1 for the in-process launcher, at most the joblib pool size."""
    if _in_process(launcher):
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

