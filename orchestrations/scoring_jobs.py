"""The scoring job orchestration: prepare, score the mini-batches in slices (sub-orchestrations, so each
history stays bounded however many mini-batches a job has; a job of one slice scores it in its own history,
saving the round trips of a child), finish. Finish always runs: after the last slice, after a cancel, after
error_threshold was passed, and after an activity kept failing.

Within a slice at most `window` activities (instance_count x max_concurrency_per_instance) are in flight,
each scoring a run of consecutive mini-batches one after another; when one finishes the next starts. A job
stops early once more files failed than error_threshold allows, or once a run reports its job canceled.
A job completes only once every planned mini-batch has its result: those finish finds none for (a write the
storage lost) are scored again, a bounded number of rounds, before it may decide."""
from __future__ import annotations

import datetime as dt
import os
import threading

import azure.durable_functions as df

from jobs.contracts import (FinishOutcome, FinishTask, JobError, MiniBatchState, PreparedJob, RunSummary, RunTask, SliceOutcome,
                            SliceTask)
from jobs.engine import current_engine
from jobs.lifecycle import finish_job, prepare_job
from jobs.planning import mini_batches_per_activity, slices
from jobs.running import MiniBatchRunner
from jobs.settings import (DEFAULT_ACTIVITY_ATTEMPTS, DEFAULT_ACTIVITY_FIRST_RETRY_MS,
                           DEFAULT_RESCORE_ROUNDS)
from jobs.verdict import over_threshold

bp = df.Blueprint()

_runner: MiniBatchRunner | None = None
_runner_lock = threading.Lock()


@bp.orchestration_trigger(context_name="context")
def score_job(context: df.DurableOrchestrationContext):
    job = context.get_input()["job"]
    error, window, threshold, rounds = None, 1, -1, 0
    try:
        plan = PreparedJob.model_validate((yield context.call_activity("prepare_scoring_job", job)))
        while plan.wait_seconds:  # the deployment's environment is still building
            yield context.create_timer(context.current_utc_datetime + dt.timedelta(seconds=plan.wait_seconds))
            plan = PreparedJob.model_validate((yield context.call_activity("prepare_scoring_job", job)))
        failed_files = 0
        ranges = slices(plan.mini_batches, plan.slice_size) if plan.proceed else []
        window, threshold = plan.window, plan.error_threshold
        rounds = DEFAULT_RESCORE_ROUNDS if plan.proceed else 0
        for number, (start, end) in enumerate(ranges):
            task = SliceTask(job=job, start=start, end=end, window=plan.window, error_threshold=plan.error_threshold,
                             failed_files=failed_files)
            if len(ranges) == 1:
                outcome = yield from score_range(context, task)
            else:
                outcome = SliceOutcome.model_validate((yield context.call_sub_orchestrator(
                    "score_slice", task.to_json(), instance_id=f"{job}:slice:{number:05d}")))
            failed_files = outcome.failed_files
            if outcome.stopped:
                break
    except Exception as failure:  # an activity kept failing for a system reason: the job fails, never hangs
        error = JobError.system(failure)
    return (yield from finish(context, FinishTask(job=job, error=error, rescore_rounds_left=0 if error else rounds),
                              max(1, window), threshold))


def finish(context: df.DurableOrchestrationContext, task: FinishTask, window: int, threshold: int):
    """Finish, which hands back the mini-batches it finds no result for (a write the storage lost) while rescore
    rounds are left: those are scored again, window at a time, and finish is asked again."""
    while True:
        decided = FinishOutcome.model_validate((yield context.call_activity("finish_scoring_job", task.to_json())))
        if decided.status is not None:
            return decided.to_json()
        try:
            for start in range(0, len(decided.missing), window):
                yield context.task_all([context.call_activity_with_retry("score_mini_batches", _retry(), RunTask(
                    job=task.job, start=index, end=index + 1, failed_files=0, error_threshold=threshold).to_json())
                    for index in decided.missing[start:start + window]])
            task = task.model_copy(update={"rescore_rounds_left": task.rescore_rounds_left - 1})
        except Exception as failure:  # scoring them again kept failing for a system reason
            task = FinishTask(job=task.job, error=JobError.system(failure))


@bp.orchestration_trigger(context_name="context")
def score_slice(context: df.DurableOrchestrationContext):
    outcome = yield from score_range(context, SliceTask.model_validate(context.get_input()))
    return outcome.to_json()


def score_range(context: df.DurableOrchestrationContext, task: SliceTask):
    """Score mini-batches start..end-1 with at most window activities at once, each taking a run of them:
    the first ones an equal share each (no hand-over where a slice fits in one round), then, as each slot
    frees, its share of what is left; stop early on cancel or error_threshold."""
    window, threshold = max(1, task.window), task.error_threshold
    failed_files, position, end = task.failed_files, task.start, task.end
    pending, stopped = [], False
    retry = _retry()

    def schedule(share: int | None = None) -> None:
        nonlocal position
        while not stopped and len(pending) < window and position < end:
            size = min(share or mini_batches_per_activity(end - position, window), end - position)
            run = RunTask(job=task.job, start=position, end=position + size, failed_files=failed_files,
                          error_threshold=threshold)
            pending.append(context.call_activity_with_retry("score_mini_batches", retry, run.to_json()))
            position += size

    schedule(mini_batches_per_activity(end - position, window))  # the slots start together: equal shares
    while pending:
        done = yield context.task_any(pending)
        pending.remove(done)
        summary = RunSummary.model_validate(done.result)
        failed_files += summary.failed_files
        if summary.status is MiniBatchState.CANCELED or summary.fatal or over_threshold(failed_files, threshold):
            stopped = True
        schedule()
    return SliceOutcome(failed_files=failed_files, stopped=stopped)


def _retry() -> df.RetryOptions:
    return df.RetryOptions(first_retry_interval_in_milliseconds=DEFAULT_ACTIVITY_FIRST_RETRY_MS,
                           max_number_of_attempts=DEFAULT_ACTIVITY_ATTEMPTS)


@bp.activity_trigger(input_name="job")
def prepare_scoring_job(job: str) -> dict:
    return prepare_job(current_engine(), job).to_json()


@bp.activity_trigger(input_name="task")
def score_mini_batches(task: dict) -> dict:
    run = RunTask.model_validate(task)
    return mini_batch_runner().run_range(run.job, run.start, run.end, run.failed_files, run.error_threshold).to_json()


def mini_batch_runner() -> MiniBatchRunner:
    """One per worker process, shared by the activities the host runs on its threads."""
    global _runner
    with _runner_lock:
        if _runner is None:
            _runner = MiniBatchRunner(current_engine(), os.cpu_count() or 1)
        return _runner


@bp.activity_trigger(input_name="task")
def finish_scoring_job(task: dict) -> dict:
    return finish_job(current_engine(), FinishTask.model_validate(task)).to_json()
