"""Blob, timer and queue triggers for the trigger tests.

Every invocation is recorded as one blob `observations/<RUN_ID>/<function>/<unique>.json`, so a test can
count invocations exactly. Containers, queues and the tick schedule come from app settings (`%NAME%`),
which each test sets for its own runtime.
"""
import datetime
import json
import os
import time
import uuid

import azure.functions as func
from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient

app = func.FunctionApp()

OBSERVATIONS = "observations"

# Defaults for a manual `python -m devhost start` (local.settings.json is not committed); tests set their own.
for _setting, _default in {"RUN_ID": "manual", "BLOB_CONTAINER": "trigger-inbox", "TICK_SCHEDULE": "0 0 0 1 1 *",
                           "WORK_QUEUE": "trigger-work", "FAILING_QUEUE": "trigger-failing"}.items():
    os.environ.setdefault(_setting, _default)


def record(function: str, **facts) -> None:
    service = BlobServiceClient.from_connection_string(os.environ["AzureWebJobsStorage"])
    container = service.get_container_client(OBSERVATIONS)
    try:
        container.create_container()
    except ResourceExistsError:
        pass
    facts = {"function": function, "at": time.time(), **facts}
    name = f"{os.environ['RUN_ID']}/{function}/{time.time_ns()}-{uuid.uuid4().hex}.json"
    container.upload_blob(name, json.dumps(facts))


@app.blob_trigger(arg_name="blob", path="%BLOB_CONTAINER%/{name}", connection="AzureWebJobsStorage")
def on_blob(blob: func.InputStream) -> None:
    record("on_blob", name=blob.name, length=blob.length, content=blob.read().decode())


@app.timer_trigger(schedule="%TICK_SCHEDULE%", arg_name="timer")
def tick(timer: func.TimerRequest) -> None:
    record("tick", past_due=timer.past_due, schedule_status=timer.schedule_status)


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
def on_startup(timer: func.TimerRequest) -> None:
    record("on_startup", past_due=timer.past_due,
           utc=datetime.datetime.now(datetime.timezone.utc).isoformat())


@app.queue_trigger(arg_name="msg", queue_name="%WORK_QUEUE%", connection="AzureWebJobsStorage")
def on_message(msg: func.QueueMessage) -> None:
    record("on_message", id=msg.id, body=msg.get_body().decode(), dequeue_count=msg.dequeue_count)


@app.queue_trigger(arg_name="msg", queue_name="%FAILING_QUEUE%", connection="AzureWebJobsStorage")
def always_fails(msg: func.QueueMessage) -> None:
    record("always_fails", id=msg.id, body=msg.get_body().decode(), dequeue_count=msg.dequeue_count)
    raise RuntimeError(f"cannot process {msg.get_body().decode()!r}")
