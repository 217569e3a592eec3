"""Orchestrations exercising each Durable Functions feature the local runtime supports."""
import datetime
import json
import os
import time
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)


def _json(body, status=200):
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")


# -- client routes: every call goes through the SDK's DurableOrchestrationClient ---------------------
@app.route(route="start/{name}/{instance_id?}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    body = req.get_body()
    payload = json.loads(body) if body else None
    instance_id = await client.start_new(req.route_params["name"], req.route_params.get("instance_id"), payload)
    return client.create_check_status_response(req, instance_id)


@app.route(route="instances/{instance_id}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def status(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    result = await client.get_status(req.route_params["instance_id"], show_history=True,
                                     show_history_output=True, show_input=True)
    if not result:
        return _json({"found": False}, 404)
    return _json(result.to_json() | {"historyEvents": result.historyEvents if hasattr(result, "historyEvents") else None})


@app.route(route="instances", methods=["GET"])
@app.durable_client_input(client_name="client")
async def list_instances(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    statuses = [df.OrchestrationRuntimeStatus(s) for s in req.params.get("status", "").split(",") if s]
    found = await client.get_status_by(runtime_status=statuses or None)
    return _json([s.instance_id for s in found])


@app.route(route="instances/{instance_id}/{action}", methods=["POST", "DELETE"])
@app.durable_client_input(client_name="client")
async def manage(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    instance_id, action = req.route_params["instance_id"], req.route_params["action"]
    if action == "terminate":
        await client.terminate(instance_id, "stopped by test")
    elif action == "suspend":
        await client.suspend(instance_id, "paused by test")
    elif action == "resume":
        await client.resume(instance_id, "resumed by test")
    elif action == "rewind":
        await client.rewind(instance_id, "rewound by test")
    elif action == "purge":
        result = await client.purge_instance_history(instance_id)
        return _json({"deleted": result.instances_deleted})
    elif action.startswith("raise-"):
        await client.raise_event(instance_id, action[len("raise-"):], req.get_json())
    else:
        return _json({"error": action}, 400)
    return _json({"done": action}, 202)


# -- orchestrators -----------------------------------------------------------------------------
@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    count = context.get_input()
    results = yield context.task_all([context.call_activity("double", i) for i in range(count)])
    return {"count": len(results), "sum": sum(results)}


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext):
    value = context.get_input()
    value = yield context.call_activity("double", value)
    value = yield context.call_activity("increment", value)
    value = yield context.call_activity("double", value)
    return value


@app.orchestration_trigger(context_name="context")
def with_retry(context: df.DurableOrchestrationContext):
    options = df.RetryOptions(first_retry_interval_in_milliseconds=200, max_number_of_attempts=3)
    return (yield context.call_activity_with_retry("flaky", options, context.get_input()))


@app.orchestration_trigger(context_name="context")
def retry_exhausted(context: df.DurableOrchestrationContext):
    options = df.RetryOptions(first_retry_interval_in_milliseconds=100, max_number_of_attempts=2)
    try:
        yield context.call_activity_with_retry("flaky", options, context.get_input())
    except Exception as error:
        return {"caught": "always failing" in str(error)}
    return {"caught": False}


@app.orchestration_trigger(context_name="context")
def durable_timer(context: df.DurableOrchestrationContext):
    started = context.current_utc_datetime
    yield context.create_timer(started + datetime.timedelta(seconds=context.get_input()))
    return (context.current_utc_datetime - started).total_seconds()


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):
    context.set_custom_status({"stage": "waiting for approval"})
    decision = yield context.wait_for_external_event("Approval")
    context.set_custom_status({"stage": "decided"})
    return {"decision": decision}


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    values = context.get_input()
    first = yield context.call_sub_orchestrator("child", values[0])
    rest = yield context.task_all([context.call_sub_orchestrator("child", v) for v in values[1:]])
    return [first, *rest]


@app.orchestration_trigger(context_name="context")
def child(context: df.DurableOrchestrationContext):
    value = yield context.call_activity("double", context.get_input())
    return {"child": context.instance_id, "parent": context.parent_instance_id, "value": value}


@app.orchestration_trigger(context_name="context")
def parent_of_failing(context: df.DurableOrchestrationContext):
    try:
        yield context.call_sub_orchestrator("failing")
    except Exception as error:
        return {"caught": str(error)}


@app.orchestration_trigger(context_name="context")
def failing(context: df.DurableOrchestrationContext):
    yield context.call_activity("explode", "boom")
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def single_flaky(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("flaky", context.get_input()))


@app.orchestration_trigger(context_name="context")
def counter(context: df.DurableOrchestrationContext):
    value = context.get_input() or 0
    value = yield context.call_activity("increment", value)
    if value < 5:
        context.continue_as_new(value)
        return None
    return value


@app.orchestration_trigger(context_name="context")
def wait_forever(context: df.DurableOrchestrationContext):
    yield context.wait_for_external_event("never")
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def race(context: df.DurableOrchestrationContext):
    deadline = context.current_utc_datetime + datetime.timedelta(seconds=context.get_input())
    timeout = context.create_timer(deadline)
    event = context.wait_for_external_event("Go")
    winner = yield context.task_any([event, timeout])
    if winner == event:
        timeout.cancel()
        return {"winner": "event", "value": event.result}
    return {"winner": "timer"}


@app.orchestration_trigger(context_name="context")
def recorded_fan_out(context: df.DurableOrchestrationContext):
    settings = context.get_input()
    tasks = [context.call_activity("slow_record", {"dir": settings["dir"], "item": i, "sleep": settings["sleep"]})
             for i in range(settings["count"])]
    results = yield context.task_all(tasks)
    return sorted(results)


@app.orchestration_trigger(context_name="context")
def big_payload(context: df.DurableOrchestrationContext):
    text = yield context.call_activity("repeat", context.get_input())
    return len(text)


# -- activities --------------------------------------------------------------------------------
@app.activity_trigger(input_name="value")
def double(value: int) -> int:
    return value * 2


@app.activity_trigger(input_name="value")
def increment(value: int) -> int:
    return value + 1


@app.activity_trigger(input_name="settings")
def flaky(settings: dict) -> str:
    """Fails until it has been called `failures` times before, counting calls in a file."""
    path = Path(settings["dir"]) / f"flaky-{settings['token']}"
    calls = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(calls))
    if settings.get("always") or calls <= settings["failures"]:
        raise RuntimeError(f"always failing" if settings.get("always") else f"failure {calls}")
    return f"succeeded on call {calls}"


@app.activity_trigger(input_name="message")
def explode(message: str) -> str:
    raise ValueError(message)


@app.activity_trigger(input_name="settings")
def slow_record(settings: dict) -> int:
    """Sleeps, then appends its item to a log: a crash mid-run shows up as a repeated line, not a lost one."""
    time.sleep(settings["sleep"])
    with open(Path(settings["dir"]) / "executions.log", "a") as log:
        log.write(f"{settings['item']} {os.getpid()}\n")
    return settings["item"]


@app.activity_trigger(input_name="size")
def repeat(size: int) -> str:
    return "x" * size
