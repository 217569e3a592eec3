"""A job's logs, laid out as Azure ML lays them out, in the job's folder of the default datastore:
`logs/job_progress_overview.txt`, `logs/user/error.txt` with `logs/user/error/mini_batch_<n>.txt`, and the
scoring code's output in `logs/user/stdout/mini_batch_<n>.txt`. The texts are plain functions; the job's
storage writes them."""
from __future__ import annotations

from .contracts import MiniBatchResult
from .job_storage import JobStorage

OVERVIEW = "logs/job_progress_overview.txt"
ERROR_SUMMARY = "logs/user/error.txt"


def mini_batch_error_log(index: int) -> str:
    return f"logs/user/error/mini_batch_{index:06d}.txt"


def mini_batch_stdout_log(index: int) -> str:
    return f"logs/user/stdout/mini_batch_{index:06d}.txt"


def overview_text(job: dict, message: str) -> str:
    counts = job["counts"]
    lines = [
        f"Job: {job['name']}",
        f"Endpoint: {job['endpoint']}  Deployment: {job['deployment']}  Model: {job['model']}",
        f"Input: {job['input']['given']}",
        f"Output: {job['output']['uri']} ({job['settings']['output_action']})",
        f"Status: {job['status']}",
        f"Created: {job['created_at']}  Started: {job['started_at'] or '-'}  Ended: {job['ended_at'] or '-'}",
        f"Files: {counts['files']}  Mini-batches: {counts['mini_batches']} "
        f"(done {counts['mini_batches_done']}, failed {counts['mini_batches_failed']})",
        f"Files failed: {counts['files_failed']} (error_threshold {job['settings']['error_threshold']})",
        f"Rows scored: {counts['rows_scored']}",
        "",
        message,
    ]
    return "\n".join(lines) + "\n"


def write_overview(storage: JobStorage, job: dict, message: str) -> None:
    storage.write_log(OVERVIEW, overview_text(job, message))


def failure_report(index: int, files: list[str], detail: str, attempts: int) -> str:
    return (f"Mini-batch {index} failed after {attempts} attempt(s).\nFiles:\n" +
            "".join(f"  {name}\n" for name in files) + f"\n{detail}\n")


def error_summary(threshold: int, results: list[MiniBatchResult]) -> str | None:
    """The failed mini-batches, one line each with their files and error; None when none failed."""
    failed = [r for r in results if r.failed]
    if not failed:
        return None
    lines = [f"{len(failed)} mini-batch(es) failed; their files count against error_threshold "
             f"({threshold}). Details: logs/user/error/mini_batch_<n>.txt", ""]
    for result in failed:
        lines.append(f"mini-batch {result.index}: {', '.join(result.failed_files)}")
        lines.append(f"  {result.error or ''}")
    return "\n".join(lines) + "\n"
