"""A job's status and the one function that changes it: which changes are allowed and what each sets.

    NotStarted -> Preparing -> Running -> Finalizing -> Completed
                                   \\-> Completed (summary_only: nothing to assemble)
    any active -> Failed | CancelRequested;  CancelRequested -> Canceled (or the verdict its finish reached)

A finished job never changes again, and a requested cancel is never undone by a step still running. A change
that is not allowed leaves the record as it is (`transition` gives None); the step that asked reads the status
it finds and acts on that."""
from __future__ import annotations

from enum import Enum

from registry.clock import seconds_between


class JobStatus(str, Enum):
    NOT_STARTED = "NotStarted"
    PREPARING = "Preparing"
    RUNNING = "Running"
    FINALIZING = "Finalizing"
    CANCEL_REQUESTED = "CancelRequested"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL

    @property
    def scores_mini_batches(self) -> bool:
        """Only a running job has its mini-batches scored; any other status stops them."""
        return self is JobStatus.RUNNING


TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED})
ACTIVE = frozenset(JobStatus) - TERMINAL

_STOPPABLE = {JobStatus.FAILED, JobStatus.CANCEL_REQUESTED}
ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.NOT_STARTED: frozenset({JobStatus.PREPARING, *_STOPPABLE}),
    # Preparing again: a prepare step run a second time after its worker crashed
    JobStatus.PREPARING: frozenset({JobStatus.PREPARING, JobStatus.RUNNING, *_STOPPABLE}),
    JobStatus.RUNNING: frozenset({JobStatus.PREPARING, JobStatus.FINALIZING, JobStatus.COMPLETED, *_STOPPABLE}),
    JobStatus.FINALIZING: frozenset({JobStatus.COMPLETED, *_STOPPABLE}),
    JobStatus.CANCEL_REQUESTED: TERMINAL,
    **{status: frozenset() for status in TERMINAL},
}


class TransitionError(ValueError):
    """A change given the wrong fields (a failure without its error): a bug in the caller, not a race."""


def transition(job: dict, to: JobStatus, now: str, *, counts: dict | None = None,
               error: dict | None = None) -> dict | None:
    """The job's record after changing to `to` at `now`, or None where the change is not allowed from its
    status. Sets started_at on the first step that starts work, ended_at and duration_seconds on a verdict,
    the error on a failure (and only there), and the counts when given."""
    current = JobStatus(job["status"])
    if to not in ALLOWED[current]:
        return None
    if (to is JobStatus.FAILED) != (error is not None):
        raise TransitionError(f"a change to {to.value} {'needs' if to is JobStatus.FAILED else 'takes no'} error")
    changed = {**job, "status": to.value}
    if counts is not None:
        changed["counts"] = counts
    if error is not None:
        changed["error"] = error
    if to in (JobStatus.PREPARING, JobStatus.RUNNING) and not job["started_at"]:
        changed["started_at"] = now
    if to is JobStatus.CANCEL_REQUESTED:
        changed["cancel_requested_at"] = now
    if to.is_terminal:
        changed["ended_at"] = now
        changed["duration_seconds"] = seconds_between(job["started_at"] or job["created_at"], now)
    return changed
