"""Starting a job from any trigger: record it, then start its orchestration; a job that could not start is
marked Failed, never left NotStarted. Starting a job that exists already (a retried schedule occurrence or
inbox burst) only starts its orchestration if that never happened."""
from __future__ import annotations

import azure.durable_functions as df

from jobs.contracts import JobError
from jobs.engine import JobEngine
from jobs.lifecycle import fail
from registry.errors import WorkspaceError
from registry.storage import Record

ORCHESTRATOR = "score_job"


async def start_job(client: df.DurableOrchestrationClient, engine: JobEngine, endpoint: str, body: dict, *,
                    deployment_header: str | None = None, job_name: str | None = None, source: dict | None = None,
                    files: list[dict] | None = None) -> Record:
    existing = engine.records.find(job_name) if job_name else None
    if existing is not None:
        status = await client.get_status(job_name)
        if status is None or status.runtime_status is None:
            await _start(client, engine, job_name)
        return existing
    record = engine.records.submit(endpoint, body, deployment_header, job_name=job_name, source=source, files=files)
    await _start(client, engine, record.body["name"])
    return record


async def _start(client: df.DurableOrchestrationClient, engine: JobEngine, name: str) -> None:
    try:
        await client.start_new(ORCHESTRATOR, instance_id=name, client_input={"job": name})
    except Exception as error:  # the job must not stay NotStarted forever
        fail(engine, name, JobError(code="SystemError", message=f"The job could not be started: {error}"))
        raise WorkspaceError(f"The job could not be started: {error}") from error


async def orchestration_running(client: df.DurableOrchestrationClient, name: str) -> bool:
    """Whether the job's orchestration is still there to reach its finish."""
    status = await client.get_status(name)
    return status is not None and status.runtime_status in (df.OrchestrationRuntimeStatus.Running,
                                                            df.OrchestrationRuntimeStatus.Pending)
