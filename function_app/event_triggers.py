"""Event-driven scoring: a blob trigger records files dropped in inboxes, and a timer every two seconds
starts the jobs of inbox bursts that have settled and of schedules that are due."""
from __future__ import annotations

import datetime as dt
import logging

import azure.durable_functions as df
import azure.functions as func

from jobs.engine import current_engine
from registry.defaults import DEFAULT_DATASTORE, DEFAULT_INBOX_PREFIX
from registry.errors import WorkspaceError
from registry.refs import DatastorePath

from .job_starter import start_job

bp = df.Blueprint()
log = logging.getLogger("batch_endpoints.events")
TICK_SCHEDULE = "*/2 * * * * *"


@bp.blob_trigger(arg_name="blob", path=f"{DEFAULT_DATASTORE}/{DEFAULT_INBOX_PREFIX}{{name}}",
                 connection="AzureWebJobsStorage")
def inbox_file_arrived(blob: func.InputStream) -> None:
    _, _, name = blob.name.partition("/")
    current_engine().registry.inboxes.record_drop(DEFAULT_DATASTORE, name)


@bp.timer_trigger(schedule=TICK_SCHEDULE, arg_name="timer", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def events_tick(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    engine = current_engine()
    registry = engine.registry
    now = dt.datetime.now(dt.timezone.utc)
    registry.inboxes.poll()
    for inbox, arrivals in registry.inboxes.due_bursts(now):
        job, files = registry.inboxes.claim(inbox, arrivals, now)
        if not files:
            continue
        body = {"input": {"type": "uri_folder", "path": str(DatastorePath(inbox.settings.datastore, inbox.prefix))},
                "settings": inbox.settings.settings}
        if inbox.settings.deployment_name:
            body["deployment_name"] = inbox.settings.deployment_name
        error = None
        try:
            await start_job(client, engine, inbox.endpoint, body, job_name=job, files=files,
                            source={"kind": "inbox", "blobs": [f["uri"] for f in files]})
            log.info("inbox of endpoint %s: job %s started for %d file(s)", inbox.endpoint, job, len(files))
        except WorkspaceError as refused:
            error = refused.message
            log.warning("inbox of endpoint %s: job %s refused: %s", inbox.endpoint, job, error)
        registry.inboxes.settle(inbox.endpoint, job, error)
    for schedule, run in registry.schedules.claim_due(now, engine.records.is_active):
        status = "submitted"
        try:
            await start_job(client, engine, schedule["endpoint_name"], schedule["create_job"], job_name=run["name"],
                            source={"kind": "schedule", "schedule": schedule["name"], "occurrence": run["occurrence"]})
            log.info("schedule %s: job %s started", schedule["name"], run["name"])
        except WorkspaceError as refused:
            status = f"failed: {refused.message}"
            log.warning("schedule %s: job %s refused: %s", schedule["name"], run["name"], refused.message)
        registry.schedules.settle(schedule["name"], run["name"], status)
