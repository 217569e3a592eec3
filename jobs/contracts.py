"""The engine's typed payloads, each owning its serialization: what the orchestration hands its activities and
gets back (plain JSON in the Durable history), and the result of one mini-batch as its record stores it and
the outputs, logs, counts and API read it."""
from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

from .settings import DEFAULT_ERROR_CHARS


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_json(self) -> dict:
        return self.model_dump(mode="json")


class JobError(Payload):
    code: str
    message: str
    trace: str | None = None  # the traceback, where the user's code failed

    def to_json(self) -> dict:
        return self.model_dump(mode="json", exclude_none=True)

    @classmethod
    def system(cls, failure: Exception) -> "JobError":
        """An activity that kept failing, told in its reason's words: the worker's traceback that the failure
        carries stays in the logs, never server paths in the job's answer."""
        text = str(failure)
        reason = text.split("Traceback (most recent call last)", 1)[0].strip() or type(failure).__name__
        return cls(code="SystemError", message=reason[:DEFAULT_ERROR_CHARS])


# -- between the orchestration and its activities --------------------------------------------------------
class PreparedJob(Payload):
    """prepare's answer: whether to score, and how (a job that may not proceed goes straight to finish)."""

    proceed: bool
    mini_batches: int = 0
    window: int = 1  # mini-batches in flight at once: instance_count x max_concurrency_per_instance
    error_threshold: int = -1
    slice_size: int
    wait_seconds: float = 0  # the deployment's environment is still building: prepare again after this


class SliceTask(Payload):
    """Score mini-batches start..end-1 of a job with at most window activities at once."""

    job: str
    start: int
    end: int
    window: int
    error_threshold: int
    failed_files: int  # files already failed in the job's earlier slices


class SliceOutcome(Payload):
    failed_files: int
    stopped: bool  # canceled, or error_threshold passed: no further slice starts


class RunTask(Payload):
    """One activity: mini-batches start..end-1, one after another."""

    job: str
    start: int
    end: int
    failed_files: int
    error_threshold: int


class MiniBatchState(str, Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class RunSummary(Payload):
    status: MiniBatchState
    rows: int = 0
    failed_files: int = 0
    fatal: bool = False  # a mini-batch could not load the model or script: no other one would either


class FinishTask(Payload):
    job: str
    error: JobError | None = None  # the orchestration's own failure (an activity kept failing)
    rescore_rounds_left: int = 0  # while above 0, mini-batches with no result are handed back, not failed


class FinishOutcome(Payload):
    """The verdict, or (status None) the mini-batches to score again before finish is asked once more."""

    status: str | None
    missing: list[int] = Field(default_factory=list)


# -- a mini-batch's result --------------------------------------------------------------------------------
class ItemRows(Payload):
    name: str
    piece: int | None  # which piece of a cut file; None for a whole file
    rows: int


class MiniBatchResult(Payload):
    """One row of `JobMiniBatches`, written once per attempt that reached an end."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    index: int
    status: MiniBatchState
    rows: int = 0
    attempts: int = 0
    items: list[ItemRows] = Field(default_factory=list)
    failed_files: list[str] = Field(default_factory=list)
    error: str | None = None
    columns: list[str] | None = None  # of the rows staged as CSV blocks; None: read the Parquet part
    blocks: int = 0  # CSV blocks staged in the predictions blob
    together: int = 0  # its one block holds the rows of this many mini-batches from it on, stored with it at once
    rows_in: int | None = None  # its rows are in the block of that mini-batch (see together)
    started_at: str | None = None
    ended_at: str | None = None
    fatal: JobError | None = None  # the model or scoring script could not be loaded: the job fails with this
    host: str | None = None  # the instance of the app that ran it; None in records written before it was kept

    @property
    def succeeded(self) -> bool:
        return self.status is MiniBatchState.SUCCEEDED

    @property
    def failed(self) -> bool:
        return self.status is MiniBatchState.FAILED
