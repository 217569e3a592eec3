"""The scoring job orchestration: prepare, score the mini-batches in slices (sub-orchestrations, so each
history stays bounded however many mini-batches a job has; a job of one slice scores it in its own history,
saving the round trips of a child), finish.

Within a slice at most `window` activities (instance_count x max_concurrency_per_instance) are in flight,
each scoring a run of consecutive mini-batches one after another; when one finishes the next starts. A job
stops early once more files failed than error_threshold allows."""
from __future__ import annotations

import os
import threading

import azure.durable_functions as df

from workspace.job_steps import MiniBatchRunner, finish_job, over_threshold, prepare_job
from workspace.mini_batches import mini_batches_per_activity
from workspace.service import current_workspace

bp = df.Blueprint()

SLICE_SIZE_SETTING = "BATCH_SLICE_SIZE"
DEFAULT_SLICE_SIZE = 200
_runner: MiniBatchRunner | None = None
_runner_lock = threading.Lock()


def slice_size() -> int:
    return int(os.environ.get(SLICE_SIZE_SETTING) or DEFAULT_SLICE_SIZE)


def slices(total: int, size: int) -> list[tuple[int, int]]:
    return [(start, min(start + size, total)) for start in range(0, total, size)]


@bp.orchestration_trigger(context_name="context")
def score_job(context: df.DurableOrchestrationContext):
    job = context.get_input()["job"]
    stopped = None
    try:
        plan = yield context.call_activity("prepare_scoring_job", job)
        if not plan["proceed"]:
            return (yield context.call_activity("finish_scoring_job", {"job": job}))
        failed_files = 0
        ranges = slices(plan["mini_batches"], plan["slice_size"])
        for number, (start, end) in enumerate(ranges):
            task = {"job": job, "start": start, "end": end, "window": plan["window"],
                    "error_threshold": plan["error_threshold"], "failed_files": failed_files}
            if len(ranges) == 1:
                outcome = yield from score_range(context, task)
            else:
                outcome = yield context.call_sub_orchestrator("score_slice", task,
                                                              instance_id=f"{job}:slice:{number:05d}")
            failed_files = outcome["failed_files"]
            if outcome["stopped"]:
                break
    except Exception as error:  # an activity kept failing for a system reason: the job fails, never hangs
        stopped = {"error": {"code": "SystemError", "message": str(error)[:2000]}}
    return (yield context.call_activity("finish_scoring_job", {"job": job, "stopped": stopped}))


@bp.orchestration_trigger(context_name="context")
def score_slice(context: df.DurableOrchestrationContext):
    return (yield from score_range(context, context.get_input()))


def score_range(context: df.DurableOrchestrationContext, task: dict):
    """Score mini-batches start..end-1 with at most window activities at once, each taking a run of them:
    the first ones an equal share each (no hand-over where a slice fits in one round), then, as each slot
    frees, its share of what is left; stop early on cancel or error_threshold."""
    job, window, threshold = task["job"], max(1, task["window"]), task["error_threshold"]
    failed_files, position, end = task["failed_files"], task["start"], task["end"]
    pending, stopped = [], False
    retry = df.RetryOptions(first_retry_interval_in_milliseconds=2000, max_number_of_attempts=3)

    def schedule(share: int | None = None) -> None:
        nonlocal position
        while not stopped and len(pending) < window and position < end:
            size = min(share or mini_batches_per_activity(end - position, window), end - position)
            pending.append(context.call_activity_with_retry("score_mini_batches", retry, {
                "job": job, "start": position, "end": position + size, "failed_files": failed_files,
                "error_threshold": threshold}))
            position += size

    schedule(mini_batches_per_activity(end - position, window))  # the slots start together: equal shares
    while pending:
        done = yield context.task_any(pending)
        pending.remove(done)
        result = done.result
        failed_files += result["failed_files"]
        if result["status"] == "canceled" or over_threshold(failed_files, threshold):
            stopped = True
        schedule()
    return {"failed_files": failed_files, "stopped": stopped}


@bp.activity_trigger(input_name="job")
def prepare_scoring_job(job: str) -> dict:
    return {**prepare_job(current_workspace(), job), "slice_size": slice_size()}


@bp.activity_trigger(input_name="task")
def score_mini_batches(task: dict) -> dict:
    return mini_batch_runner().run_range(task["job"], task["start"], task["end"], task["failed_files"],
                                         task["error_threshold"])


def mini_batch_runner() -> MiniBatchRunner:
    """One per worker process, shared by the activities the host runs on its threads."""
    global _runner
    with _runner_lock:
        if _runner is None:
            _runner = MiniBatchRunner(current_workspace())
        return _runner


@bp.activity_trigger(input_name="task")
def finish_scoring_job(task: dict) -> dict:
    return finish_job(current_workspace(), task["job"], task.get("stopped"))
