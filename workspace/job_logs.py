"""A job's logs, laid out as Azure ML lays them out, in the job's folder of the default datastore:
`logs/job_progress_overview.txt`, `logs/user/error.txt` with `logs/user/error/mini_batch_<n>.txt`, and the
scoring code's output in `logs/user/stdout/mini_batch_<n>.txt`."""
from __future__ import annotations

from .defaults import DEFAULT_DATASTORE
from .jobs import job_folder

OVERVIEW = "logs/job_progress_overview.txt"
ERROR_SUMMARY = "logs/user/error.txt"


def write_text(workspace, job: dict, relative: str, text: str) -> None:
    workspace.datastores.container(DEFAULT_DATASTORE).upload_blob(
        job_folder(job["name"]) + relative, text.encode("utf-8"), overwrite=True)


def write_overview(workspace, job: dict, message: str) -> None:
    counts = job["counts"]
    lines = [
        f"Job: {job['name']}",
        f"Endpoint: {job['endpoint']}  Deployment: {job['deployment']}  Model: {job['model']}",
        f"Input: {job['input']['given']}",
        f"Output: {job['output']['uri']} ({job['settings']['output_action']})",
        f"Status: {job['status']}",
        f"Created: {job['created_at']}  Started: {job.get('started_at') or '-'}  Ended: {job.get('ended_at') or '-'}",
        f"Files: {counts['files']}  Mini-batches: {counts['mini_batches']} "
        f"(done {counts['mini_batches_done']}, failed {counts['mini_batches_failed']})",
        f"Files failed: {counts['files_failed']} (error_threshold {job['settings']['error_threshold']})",
        f"Rows scored: {counts['rows_scored']}",
        "",
        message,
    ]
    write_text(workspace, job, OVERVIEW, "\n".join(lines) + "\n")


def failure_report(index: int, files: list[str], detail: str, attempts: int) -> str:
    return (f"Mini-batch {index} failed after {attempts} attempt(s).\nFiles:\n" +
            "".join(f"  {name}\n" for name in files) + f"\n{detail}\n")


def write_error_summary(workspace, job: dict, results: list[dict]) -> None:
    failed = [r for r in results if r["status"] == "failed"]
    if not failed:
        return
    lines = [f"{len(failed)} mini-batch(es) failed; their files count against error_threshold "
             f"({job['settings']['error_threshold']}). Details: logs/user/error/mini_batch_<n>.txt", ""]
    for result in failed:
        lines.append(f"mini-batch {result['index']}: {', '.join(result['failed_files'])}")
        lines.append(f"  {result.get('error') or ''}")
    write_text(workspace, job, ERROR_SUMMARY, "\n".join(lines) + "\n")
