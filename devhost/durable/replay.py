"""One orchestration episode, pure: history and new events in, the SDK's answer turned into new history.

The Durable SDK numbers tasks in the order it creates them; the host must write TaskScheduled,
TimerCreated and SubOrchestrationInstanceCreated events with the same numbers. Actions come back as a
cumulative list, so the host remembers on each OrchestratorCompleted event how many it has consumed.
Retries are the host's job: a failed retryable task gets a timer, and when that timer fires the task is
scheduled again, as long as attempts remain. The SDK numbers the retry timer when it reads the failure, so
an episode carries at most one retry-related event, placed last.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Callable

from .history import (
    SCHEDULING_EVENTS,
    TASK_RESULT_EVENTS,
    EventType,
    event,
    for_sdk,
    format_time,
)

OUT_OF_PROC_MARKER = "$OutOfProcData$:"


class ActionType:
    CallActivity = 0
    CallActivityWithRetry = 1
    CallSubOrchestrator = 2
    CallSubOrchestratorWithRetry = 3
    ContinueAsNew = 4
    CreateTimer = 5
    WaitForExternalEvent = 6
    CallEntity = 7
    CallHttp = 8
    SignalEntity = 9
    WhenAny = 11
    WhenAll = 12


UNSUPPORTED_ACTIONS = {
    ActionType.CallEntity: "durable entities",
    ActionType.SignalEntity: "durable entities",
    ActionType.CallHttp: "durable HTTP calls (call_http)",
}


@dataclass
class Outgoing:
    activities: list[dict] = field(default_factory=list)  # {taskId, name, input}
    timers: list[dict] = field(default_factory=list)  # {timerId, fireAt}
    sub_orchestrations: list[dict] = field(default_factory=list)  # {taskId, name, instanceId, input}


@dataclass
class EpisodeResult:
    events: list[dict]
    outgoing: Outgoing
    status: str  # Running | Completed | Failed | ContinuedAsNew
    output: str | None = None
    failure: dict | None = None
    custom_status: str | None = None
    continue_as_new_input: str | None = None


def flatten_actions(actions: list) -> list[dict]:
    """The SDK's cumulative action list, compound WhenAll/WhenAny expanded in order."""
    flat: list[dict] = []

    def walk(action):
        if isinstance(action, list):
            for item in action:
                walk(item)
        elif action.get("actionType") in (ActionType.WhenAll, ActionType.WhenAny):
            for child in action.get("compoundActions", []):
                walk(child)
        else:
            flat.append(action)

    walk(actions)
    return flat


def _scheduling_index(history: list[dict]) -> dict[int, dict]:
    return {e["EventId"]: e for e in history if e["EventType"] in SCHEDULING_EVENTS}


def is_retry_related(history_index: dict[int, dict], new_event: dict) -> bool:
    kind = new_event["EventType"]
    if kind in (EventType.TaskFailed, EventType.SubOrchestrationInstanceFailed):
        scheduled = history_index.get(new_event.get("TaskScheduledId"))
        return bool(scheduled and scheduled.get("RetryOptions"))
    if kind == EventType.TimerFired:
        timer = history_index.get(new_event.get("TimerId"))
        return bool(timer and timer.get("RetryOf") is not None)
    return False


def accept_new_events(history: list[dict], candidates: list[dict]) -> list[dict]:
    """Drop duplicates and strays: results for unknown or already-finished tasks, timers fired twice,
    messages already applied. This is what makes at-least-once delivery record each result once."""
    index = _scheduling_index(history)
    seen_messages = {e["MessageId"] for e in history if e.get("MessageId")}
    finished = {
        e["TaskScheduledId"] for e in history if e["EventType"] in TASK_RESULT_EVENTS
    }
    fired = {e["TimerId"] for e in history if e["EventType"] == EventType.TimerFired}
    accepted = []
    for candidate in candidates:
        message_id = candidate.get("MessageId")
        if message_id and message_id in seen_messages:
            continue
        kind = candidate["EventType"]
        if kind in TASK_RESULT_EVENTS:
            task_id = candidate.get("TaskScheduledId")
            if task_id not in index or task_id in finished:
                continue
            finished.add(task_id)
        elif kind == EventType.TimerFired:
            timer_id = candidate.get("TimerId")
            if timer_id not in index or timer_id in fired:
                continue
            fired.add(timer_id)
        if message_id:
            seen_messages.add(message_id)
        accepted.append(candidate)
    return accepted


def split_for_retries(history: list[dict], new_events: list[dict]) -> list[list[dict]]:
    """Group new events into episodes, each ending at most one retry-related event."""
    index = _scheduling_index(history)
    chunks: list[list[dict]] = [[]]
    for new_event in new_events:
        chunks[-1].append(new_event)
        if is_retry_related(index, new_event):
            chunks.append([])
    return [chunk for chunk in chunks if chunk]


def _last_action_count(history: list[dict]) -> int:
    for e in reversed(history):
        if e["EventType"] == EventType.OrchestratorCompleted:
            return e.get("ActionCount", 0)
    return 0


def _parse_state(call: Callable[[str], str], context_json: str) -> tuple[dict, str | None]:
    """Run the SDK handle; a failing orchestrator raises with its state JSON after a marker."""
    try:
        return json.loads(call(context_json)), None
    except Exception as error:  # the user's orchestrator raised, or the SDK rejected the history
        message = str(error)
        cause = error.__cause__ or error
        import traceback

        details = "".join(traceback.format_exception(type(cause), cause, cause.__traceback__))
        if OUT_OF_PROC_MARKER in message:
            state = json.loads(message.split(OUT_OF_PROC_MARKER, 1)[1])
            return state, details
        return {"isDone": False, "actions": [], "error": message}, details


def run_episode(
    handle: Callable[[str], str],
    *,
    name: str,
    instance_id: str,
    parent_instance_id: str | None,
    history: list[dict],
    new_events: list[dict],
    now: dt.datetime,
) -> EpisodeResult:
    started = event(EventType.OrchestratorStarted, now)
    sdk_history = for_sdk(history, played=True) + for_sdk([started, *new_events], played=False)
    execution_started = next(e for e in history + new_events if e["EventType"] == EventType.ExecutionStarted)
    context = {
        "history": sdk_history,
        "input": execution_started.get("Input"),
        "instanceId": instance_id,
        "isReplaying": False,
        "parentInstanceId": parent_instance_id,
        "upperSchemaVersion": 1,
        "upperSchemaVersionNew": 4,
    }
    state, details = _parse_state(handle, json.dumps(context))
    appended = [started, *new_events]
    custom_status = None if state.get("customStatus") is None else json.dumps(state["customStatus"])

    if state.get("error") is not None:
        message = state["error"]
        appended.append(event(EventType.ExecutionFailed, now, Reason=message, Details=details))
        appended.append(event(EventType.OrchestratorCompleted, now, ActionCount=_last_action_count(history)))
        return EpisodeResult(
            appended,
            Outgoing(),
            "Failed",
            output=json.dumps(f"Orchestrator function '{name}' failed: {message}"),
            failure={"message": message, "details": details},
            custom_status=custom_status,
        )

    flat = flatten_actions(state.get("actions") or [])
    consumed = _last_action_count(history)
    index = _scheduling_index(history)
    next_id = len(index)
    outgoing = Outgoing()
    continue_input: str | None = None

    def schedule(kind: int, fields: dict) -> int:
        nonlocal next_id
        task_id = next_id
        next_id += 1
        scheduled = event(kind, now, task_id, **fields)
        appended.append(scheduled)
        index[task_id] = scheduled
        return task_id

    def schedule_task(action_type: int, fields: dict) -> None:
        if action_type in (ActionType.CallActivity, ActionType.CallActivityWithRetry):
            task_id = schedule(EventType.TaskScheduled, fields)
            outgoing.activities.append({"taskId": task_id, "name": fields["Name"], "input": fields["Input"]})
        else:
            task_id = next_id
            child_id = fields.get("InstanceIdOfChild") or f"{instance_id}:{task_id:04d}"
            fields = {**fields, "InstanceId": child_id, "InstanceIdOfChild": fields.get("InstanceIdOfChild")}
            schedule(EventType.SubOrchestrationInstanceCreated, fields)
            outgoing.sub_orchestrations.append(
                {"taskId": task_id, "name": fields["Name"], "instanceId": child_id, "input": fields["Input"]}
            )

    for action in flat[consumed:]:
        kind = action.get("actionType")
        if kind in UNSUPPORTED_ACTIONS:
            message = f"{UNSUPPORTED_ACTIONS[kind]} are not supported by the local runtime"
            appended.append(event(EventType.ExecutionFailed, now, Reason=message, Details=None))
            appended.append(event(EventType.OrchestratorCompleted, now, ActionCount=consumed))
            return EpisodeResult(
                appended, Outgoing(), "Failed",
                output=json.dumps(f"Orchestrator function '{name}' failed: {message}"),
                failure={"message": message, "details": None}, custom_status=custom_status,
            )
        if kind in (ActionType.CallActivity, ActionType.CallActivityWithRetry):
            fields = {"Name": action["functionName"], "Input": action.get("input")}
            if kind == ActionType.CallActivityWithRetry:
                fields["RetryOptions"] = action.get("retryOptions")
            schedule_task(kind, fields)
        elif kind in (ActionType.CallSubOrchestrator, ActionType.CallSubOrchestratorWithRetry):
            fields = {
                "Name": action["functionName"],
                "Input": action.get("input"),
                "InstanceIdOfChild": action.get("instanceId"),
            }
            if kind == ActionType.CallSubOrchestratorWithRetry:
                fields["RetryOptions"] = action.get("retryOptions")
            schedule_task(kind, fields)
        elif kind == ActionType.CreateTimer:
            timer_id = schedule(EventType.TimerCreated, {"FireAt": action["fireAt"]})
            outgoing.timers.append({"timerId": timer_id, "fireAt": action["fireAt"]})
        elif kind == ActionType.ContinueAsNew:
            continue_input = action.get("input")
            if continue_input is not None and not isinstance(continue_input, str):
                continue_input = json.dumps(continue_input)
            next_id += 1  # the SDK numbers fire-and-forget actions too
    consumed = len(flat)

    # The retry step for a retry-related event, which split_for_retries placed last.
    last = new_events[-1] if new_events else None
    if last is not None and is_retry_related(index, last):
        if last["EventType"] in (EventType.TaskFailed, EventType.SubOrchestrationInstanceFailed):
            failed = index[last["TaskScheduledId"]]
            root = failed.get("RetryRoot", failed["EventId"])
            delay = dt.timedelta(milliseconds=failed["RetryOptions"].get("firstRetryIntervalInMilliseconds", 0))
            fire_at = format_time(now + delay)
            timer_id = schedule(
                EventType.TimerCreated, {"FireAt": fire_at, "RetryOf": failed["EventId"], "RetryRoot": root}
            )
            outgoing.timers.append({"timerId": timer_id, "fireAt": fire_at})
        else:
            timer = index[last["TimerId"]]
            root_event = index[timer["RetryRoot"]]
            attempts = 1 + sum(1 for e in index.values() if e.get("RetryRoot") == root_event["EventId"]
                               and e["EventType"] != EventType.TimerCreated)
            if attempts < root_event["RetryOptions"].get("maxNumberOfAttempts", 1):
                fields = {
                    k: root_event[k]
                    for k in ("Name", "Input", "RetryOptions", "InstanceIdOfChild")
                    if k in root_event
                }
                fields["RetryRoot"] = root_event["EventId"]
                action_type = (
                    ActionType.CallActivityWithRetry
                    if root_event["EventType"] == EventType.TaskScheduled
                    else ActionType.CallSubOrchestratorWithRetry
                )
                schedule_task(action_type, fields)

    if state.get("isDone"):
        if continue_input is not None or any(a.get("actionType") == ActionType.ContinueAsNew for a in flat):
            appended.append(event(EventType.ContinueAsNew, now, Result=continue_input))
            appended.append(event(EventType.OrchestratorCompleted, now, ActionCount=consumed))
            return EpisodeResult(appended, outgoing, "ContinuedAsNew", custom_status=custom_status,
                                 continue_as_new_input=continue_input)
        output = json.dumps(state.get("output"))
        appended.append(event(EventType.ExecutionCompleted, now, Result=output, OrchestrationStatus=1))
        appended.append(event(EventType.OrchestratorCompleted, now, ActionCount=consumed))
        return EpisodeResult(appended, outgoing, "Completed", output=output, custom_status=custom_status)

    appended.append(event(EventType.OrchestratorCompleted, now, ActionCount=consumed))
    return EpisodeResult(appended, outgoing, "Running", custom_status=custom_status)
