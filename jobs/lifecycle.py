"""A job from prepare to its verdict, each step run by an activity: prepare (list the input, check the output,
plan the mini-batches), and finish (count exactly from the stored results, assemble the predictions file in
input order, write the logs, set the verdict, clean up the internal files). Finish always runs, for a canceled
job too, so nothing internal is left behind."""
from __future__ import annotations

import logging

from registry.environment_builds import BuildState
from registry.errors import UserError
from registry.storage import Record

from . import logs
from .contracts import FinishOutcome, FinishTask, JobError, MiniBatchResult, PreparedJob
from .engine import JobEngine
from .inputs import InputFile, InputReader
from .job_storage import JobStorage
from .outputs import already_exists, assemble_predictions
from .planning import plan_mini_batches, plan_to_json
from .running import concurrency
from .settings import DEFAULT_ENVIRONMENT_WAIT_SECONDS
from .status import JobStatus
from .verdict import exact_counts, job_error, missing_mini_batches, stopped_early, verdict

log = logging.getLogger("batch_endpoints.jobs")


def prepare_job(engine: JobEngine, name: str) -> PreparedJob:
    records = engine.records
    record = records.set_status(name, JobStatus.PREPARING)
    job = record.body
    stop = PreparedJob(proceed=False, slice_size=engine.settings.slice_size)
    if JobStatus(job["status"]) is not JobStatus.PREPARING:
        return stop  # canceled, or already decided: finish takes it from here
    storage = engine.storage_for(job)
    try:
        if environment_building(engine, job):
            return PreparedJob(proceed=False, slice_size=engine.settings.slice_size,
                               wait_seconds=DEFAULT_ENVIRONMENT_WAIT_SECONDS)
        reader = InputReader(engine.registry.datastores)
        if "files" in job["input"]:  # an inbox's burst: the files are fixed on the job
            files = [InputFile(**file) for file in job["input"]["files"]]
        else:
            files = reader.list_files(job["input"]["uri"], job["input"]["type"])
        if storage.appends_rows and storage.predictions_exist():
            raise already_exists(storage.predictions_uri)
        no_code = job["model_format"] != "custom" and not job["code_configuration"]
        plan = plan_mini_batches(files, job["settings"]["mini_batch_size"], engine.settings.split_bytes, no_code,
                                 reader.next_line_start)
        storage.write_plan(plan_to_json(plan))
        counts = {**job["counts"], "files": len(files), "mini_batches": len(plan)}
        job = records.set_status(name, JobStatus.RUNNING, known=record, counts=counts).body
        logs.write_overview(storage, job, "Scoring started.")
    except UserError as error:
        fail(engine, name, JobError(code=error.code, message=error.message))
        return stop
    if JobStatus(job["status"]) is not JobStatus.RUNNING:
        return stop
    return PreparedJob(proceed=True, mini_batches=len(plan), window=concurrency(job),
                       error_threshold=job["settings"]["error_threshold"], slice_size=engine.settings.slice_size)


def environment_building(engine: JobEngine, job: dict) -> bool:
    """Whether the job's environment is still building; raises EnvironmentBuildFailed when its build failed
    (or has not ended within the build timeout)."""
    environment = job["environment"]
    if environment is None:
        return False
    builds = engine.registry.builds
    record = builds.find(environment["key"])
    state = builds.state(record) if record is not None else BuildState.FAILED
    if state is BuildState.FAILED:
        log = (record.body["log"] if record is not None else "").strip().splitlines() or [
            "the build did not finish; update the deployment to build it again"]
        raise EnvironmentBuildFailed(f"The environment of deployment '{job['deployment']}' failed to build: " +
                                     " | ".join(log[-6:]))
    return state is BuildState.BUILDING


class EnvironmentBuildFailed(UserError):
    code = "EnvironmentBuildFailed"


def fail(engine: JobEngine, name: str, error: JobError) -> dict:
    job = engine.records.set_status(name, JobStatus.FAILED, error=error).body
    logs.write_overview(engine.storage_for(job), job, error.message)
    return job


def finish_job(engine: JobEngine, task: FinishTask) -> FinishOutcome:
    """The job's verdict. Runs once the orchestration scheduled nothing more (or at once for a job whose
    orchestration is gone); a job already decided is only cleaned up. Completed means every planned
    mini-batch has its one result: while rescore rounds are left, mini-batches without one (a write the
    storage lost) are handed back to be scored again; after that they fail the job."""
    record = engine.records.get(task.job)
    storage = engine.storage_for(record.body)
    status = JobStatus(record.body["status"])
    job = record.body
    if status is JobStatus.CANCEL_REQUESTED:
        storage.delete_internal()  # first: a canceled job is seen Canceled only once nothing of it is left
        job = _canceled(engine, storage, record)
    elif not status.is_terminal:
        results = engine.records.mini_batch_results(task.job)
        missing = missing_mini_batches(job["counts"]["mini_batches"], results)
        stopped = stopped_early(exact_counts(job["counts"], results), job["settings"]["error_threshold"], results)
        if missing and task.rescore_rounds_left > 0 and task.error is None and status is JobStatus.RUNNING \
                and not stopped:
            log.warning("job %s: %d mini-batch(es) have no result; scoring them again", task.job, len(missing))
            return FinishOutcome(status=None, missing=missing)
        job = _decide(engine, storage, record, task.error, results)
    storage.delete_internal()
    return FinishOutcome(status=JobStatus(job["status"]).value)


def _canceled(engine: JobEngine, storage: JobStorage, record: Record) -> dict:
    job = engine.records.set_status(record.body["name"], JobStatus.CANCELED, known=record).body
    logs.write_overview(storage, job, "The job was canceled.")
    return job


def _decide(engine: JobEngine, storage: JobStorage, record: Record, error: JobError | None,
            results: list[MiniBatchResult]) -> dict:
    """Exact counts from the stored results, the threshold, the predictions file, then the verdict."""
    records, name = engine.records, record.body["name"]
    counts = exact_counts(record.body["counts"], results)
    error = error or job_error(counts, record.body["settings"]["error_threshold"], results)
    if error is None and storage.appends_rows:
        record = records.set_status(name, JobStatus.FINALIZING, known=record, counts=counts)
        if JobStatus(record.body["status"]) is JobStatus.CANCEL_REQUESTED:
            return _canceled(engine, storage, record)
        try:
            assemble_predictions(storage, results)
        except UserError as failure:
            error = JobError(code=failure.code, message=failure.message)
        except Exception as failure:  # storage trouble while assembling: our fault, reported on the job
            log.exception("assembling the outputs of job %s failed", name)
            error = JobError(code="SystemError", message=f"Assembling the outputs failed: {failure}")
    job = records.set_status(name, verdict(error), known=record, counts=counts, error=error).body
    summary = logs.error_summary(job["settings"]["error_threshold"], results)
    if summary:
        storage.write_log(logs.ERROR_SUMMARY, summary)
    logs.write_overview(storage, job, job["error"]["message"] if job["error"] else "The job completed.")
    return job


def request_cancel(engine: JobEngine, name: str) -> dict:
    """Record the cancel; the running mini-batches stop within a second or so and the job's finish, which the
    orchestration reaches by itself, sets Canceled and cleans up."""
    return engine.records.request_cancel(name).body
