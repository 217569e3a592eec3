"""History events in the PascalCase shape the Durable SDK reads, and the event type numbers."""
from __future__ import annotations

import datetime as dt
from enum import IntEnum


class EventType(IntEnum):
    ExecutionStarted = 0
    ExecutionCompleted = 1
    ExecutionFailed = 2
    ExecutionTerminated = 3
    TaskScheduled = 4
    TaskCompleted = 5
    TaskFailed = 6
    SubOrchestrationInstanceCreated = 7
    SubOrchestrationInstanceCompleted = 8
    SubOrchestrationInstanceFailed = 9
    TimerCreated = 10
    TimerFired = 11
    OrchestratorStarted = 12
    OrchestratorCompleted = 13
    EventSent = 14
    EventRaised = 15
    ContinueAsNew = 16
    GenericEvent = 17
    HistoryState = 18
    ExecutionSuspended = 19
    ExecutionResumed = 20


SCHEDULING_EVENTS = {EventType.TaskScheduled, EventType.TimerCreated, EventType.SubOrchestrationInstanceCreated}
TASK_RESULT_EVENTS = {
    EventType.TaskCompleted,
    EventType.TaskFailed,
    EventType.SubOrchestrationInstanceCompleted,
    EventType.SubOrchestrationInstanceFailed,
}

# Fields the host keeps on events for its own bookkeeping; the SDK ignores them.
HOST_FIELDS = ("MessageId", "RetryOptions", "RetryRoot", "RetryOf", "ActionCount", "InstanceIdOfChild")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def format_time(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def event(event_type: EventType, timestamp: dt.datetime, event_id: int = -1, **fields) -> dict:
    return {"EventType": int(event_type), "EventId": event_id, "Timestamp": format_time(timestamp), **fields}


def execution_started(timestamp: dt.datetime, name: str, input_json: str | None, **fields) -> dict:
    return event(EventType.ExecutionStarted, timestamp, Name=name, Version=None, Input=input_json, **fields)


def for_sdk(history: list[dict], played: bool) -> list[dict]:
    """Events as the SDK expects them: only the protocol's fields, with IsPlayed set."""
    return [
        {**{k: v for k, v in e.items() if k not in HOST_FIELDS}, "IsPlayed": played}
        for e in history
    ]
