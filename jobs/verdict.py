"""How a job's mini-batch results decide its counts and its verdict: plain functions over plain data.

`error_threshold` counts failed files (Azure ML's rule for file inputs): -1 never fails the job, N fails it
once more than N files failed. The same decision stops the scheduling of further mini-batches early."""
from __future__ import annotations

from .contracts import JobError, MiniBatchResult
from .status import JobStatus


def over_threshold(failed_files: int, threshold: int) -> bool:
    return threshold != -1 and failed_files > threshold


def counts_moved(previous: MiniBatchResult | None, result: MiniBatchResult) -> dict[str, int]:
    """How a mini-batch's result moves the job's live counts, taking back its earlier result if it had one."""
    moved = {"mini_batches_done": 0, "mini_batches_failed": 0, "files_failed": 0, "rows_scored": 0}
    for counted, sign in ((previous, -1), (result, 1)):
        if counted is not None:
            moved["mini_batches_done"] += sign * int(counted.succeeded)
            moved["mini_batches_failed"] += sign * int(counted.failed)
            moved["files_failed"] += sign * len(counted.failed_files)
            moved["rows_scored"] += sign * counted.rows
    return moved


def add_moves(total: dict[str, int], moved: dict[str, int]) -> dict[str, int]:
    return {key: total.get(key, 0) + value for key, value in moved.items()}


def exact_counts(counts: dict, results: list[MiniBatchResult]) -> dict:
    """The job's counts from its stored results (one per mini-batch), whatever the live counts drifted to;
    a file that failed in several pieces counts once."""
    return {**counts, "mini_batches_done": sum(r.succeeded for r in results),
            "mini_batches_failed": sum(r.failed for r in results),
            "files_failed": len({name for r in results for name in r.failed_files}),
            "rows_scored": sum(r.rows for r in results)}


def threshold_error(counts: dict, threshold: int) -> JobError | None:
    if not over_threshold(counts["files_failed"], threshold):
        return None
    return JobError(code="ErrorThresholdExceeded",
                    message=f"{counts['files_failed']} files failed, more than error_threshold {threshold}; see "
                            "logs/user/error.txt.")


def fatal_error(results: list[MiniBatchResult]) -> JobError | None:
    """The first mini-batch's failure to load the model or scoring script: the job's own error."""
    return next((r.fatal for r in sorted(results, key=lambda r: r.index) if r.fatal is not None), None)


def missing_mini_batches(planned: int, results: list[MiniBatchResult]) -> list[int]:
    """The planned mini-batches with no stored result: each must have exactly one before a job completes."""
    return sorted(set(range(planned)) - {r.index for r in results})


def stopped_early(counts: dict, threshold: int, results: list[MiniBatchResult]) -> bool:
    """Whether the job stopped scheduling on purpose (its model could not load, or too many files failed): then
    mini-batches without a result are expected, and that error is the verdict."""
    return fatal_error(results) is not None or threshold_error(counts, threshold) is not None


def unaccounted_error(planned: int, results: list[MiniBatchResult]) -> JobError | None:
    missing = missing_mini_batches(planned, results)
    if not missing:
        return None
    shown = ", ".join(str(index) for index in missing[:20]) + (" ..." if len(missing) > 20 else "")
    return JobError(code="MiniBatchesUnaccounted",
                    message=f"{len(missing)} of {planned} mini-batches have no result after scoring them again "
                            f"(mini-batches {shown}); the job's inputs are not all accounted for, so it did not "
                            "complete. Run it again.")


def no_success_error(counts: dict) -> JobError | None:
    """A job in which no mini-batch succeeded fails, whatever error_threshold says (Azure ML's rule)."""
    if counts["mini_batches"] == 0 or counts["mini_batches_done"] > 0:
        return None
    return JobError(code="NoSucceededMiniBatch",
                    message=f"No mini-batch succeeded: all {counts['mini_batches']} failed ({counts['files_failed']} "
                            "files); see logs/user/error.txt.")


def job_error(counts: dict, threshold: int, results: list[MiniBatchResult]) -> JobError | None:
    """Why a job whose mini-batches all ran fails, most specific first; None: it completes."""
    return (fatal_error(results) or threshold_error(counts, threshold) or
            unaccounted_error(counts["mini_batches"], results) or no_success_error(counts))


def verdict(error: JobError | None) -> JobStatus:
    return JobStatus.FAILED if error is not None else JobStatus.COMPLETED
