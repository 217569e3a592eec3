"""Queue message bodies exchanged by the management API, the orchestration dispatcher and activity workers."""
from __future__ import annotations

import uuid

from .history import EventType, event, utc_now


def control_message(execution_id: str | None, history_event: dict) -> dict:
    """A message for an orchestration; its id travels into history so a redelivery is recognised."""
    return {"MessageId": uuid.uuid4().hex, "ExecutionId": execution_id, "Event": history_event}


def work_item(instance_id: str, execution_id: str, task_id: int, name: str, input_json: str | None) -> dict:
    return {
        "MessageId": uuid.uuid4().hex,
        "InstanceId": instance_id,
        "ExecutionId": execution_id,
        "TaskId": task_id,
        "Name": name,
        "Input": input_json,
    }


def task_completed(task_id: int, result_json: str | None) -> dict:
    return event(EventType.TaskCompleted, utc_now(), TaskScheduledId=task_id, Result=result_json)


def task_failed(task_id: int, reason: str, details: str | None) -> dict:
    return event(EventType.TaskFailed, utc_now(), TaskScheduledId=task_id, Reason=reason, Details=details)
