"""Starting a job from any trigger: record it, then start its orchestration; a job that could not start is
marked Failed, never left NotStarted. Starting a job that exists already (a retried schedule occurrence or
inbox burst) only starts its orchestration if that never happened."""
from __future__ import annotations

import azure.durable_functions as df

from workspace.errors import WorkspaceError
from workspace.job_steps import fail
from workspace.service import Workspace
from workspace.storage import Record

ORCHESTRATOR = "score_job"


async def start_job(client: df.DurableOrchestrationClient, workspace: Workspace, endpoint: str, body: dict, *,
                    deployment_header: str | None = None, job_name: str | None = None, source: dict | None = None,
                    files: list[dict] | None = None) -> Record:
    existing = workspace.jobs.table.find("job", job_name) if job_name else None
    if existing is not None:
        status = await client.get_status(job_name)
        if status is None or status.runtime_status is None:
            await _start(client, workspace, job_name)
        return existing
    record = workspace.jobs.submit(endpoint, body, deployment_header, job_name=job_name, source=source, files=files)
    await _start(client, workspace, record.body["name"])
    return record


async def _start(client: df.DurableOrchestrationClient, workspace: Workspace, name: str) -> None:
    try:
        await client.start_new(ORCHESTRATOR, instance_id=name, client_input={"job": name})
    except Exception as error:  # the job must not stay NotStarted forever
        fail(workspace, name, "SystemError", f"The job could not be started: {error}")
        raise WorkspaceError(f"The job could not be started: {error}") from error
