"""Episode replay through the real Durable SDK, without storage: ids, retries, completion, failure."""
from __future__ import annotations

import datetime as dt
import json

import azure.durable_functions as df

from devhost.durable.history import EventType, event, execution_started
from devhost.durable.replay import accept_new_events, run_episode, split_for_retries

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def handle_of(generator):
    app = df.DFApp()
    app.orchestration_trigger(context_name="context")(generator)
    (function,) = app.get_functions()
    return function.get_user_function()


def episode(handle, history, new_events, now=T0):
    return run_episode(handle, name="orch", instance_id="i1", parent_instance_id=None,
                       history=history, new_events=new_events, now=now)


def fan_out(context):
    results = yield context.task_all([context.call_activity("work", n) for n in range(3)])
    return sum(results)


def retrying(context):
    options = df.RetryOptions(first_retry_interval_in_milliseconds=1000, max_number_of_attempts=2)
    return (yield context.call_activity_with_retry("work", options, "x"))


def test_a_first_episode_schedules_every_activity_with_the_sdk_task_ids():
    started = execution_started(T0, "orch", json.dumps(None))
    result = episode(handle_of(fan_out), [], [started])
    assert result.status == "Running"
    assert [a["taskId"] for a in result.outgoing.activities] == [0, 1, 2]
    assert [json.loads(a["input"]) for a in result.outgoing.activities] == [0, 1, 2]
    kinds = [e["EventType"] for e in result.events]
    assert kinds[0] == EventType.OrchestratorStarted and kinds[-1] == EventType.OrchestratorCompleted
    assert result.events[-1]["ActionCount"] == 3


def test_completions_finish_the_orchestration_with_its_output():
    handle = handle_of(fan_out)
    first = episode(handle, [], [execution_started(T0, "orch", "null")])
    done = [event(EventType.TaskCompleted, T0, TaskScheduledId=i, Result=json.dumps(i * 10)) for i in range(3)]
    result = episode(handle, first.events, done)
    assert result.status == "Completed"
    assert json.loads(result.output) == 30
    assert result.outgoing.activities == []


def test_duplicate_and_stray_results_are_dropped():
    first = episode(handle_of(fan_out), [], [execution_started(T0, "orch", "null")])
    done = event(EventType.TaskCompleted, T0, TaskScheduledId=1, Result="1", MessageId="m1")
    again = dict(done, MessageId="m2")
    stray = event(EventType.TaskCompleted, T0, TaskScheduledId=99, Result="1")
    assert accept_new_events(first.events, [done, again, stray]) == [done]
    assert accept_new_events(first.events + [done], [done]) == []


def test_a_failed_retryable_task_gets_a_timer_then_is_scheduled_again():
    handle = handle_of(retrying)
    history = episode(handle, [], [execution_started(T0, "orch", "null")]).events
    failed = event(EventType.TaskFailed, T0, TaskScheduledId=0, Reason="bad", Details="")
    assert split_for_retries(history, [failed]) == [[failed]]
    second = episode(handle, history, [failed])
    assert [t["timerId"] for t in second.outgoing.timers] == [1]
    assert second.outgoing.timers[0]["fireAt"].startswith("2026-01-01T00:00:01")
    history += second.events
    fired = event(EventType.TimerFired, T0, TimerId=1, FireAt=second.outgoing.timers[0]["fireAt"])
    third = episode(handle, history, [fired], now=T0 + dt.timedelta(seconds=1))
    assert [a["taskId"] for a in third.outgoing.activities] == [2]
    history += third.events
    last_failure = event(EventType.TaskFailed, T0, TaskScheduledId=2, Reason="bad again", Details="")
    fourth = episode(handle, history, [last_failure])
    history += fourth.events
    final_timer = event(EventType.TimerFired, T0, TimerId=3, FireAt=fourth.outgoing.timers[0]["fireAt"])
    fifth = episode(handle, history, [final_timer])
    assert fifth.status == "Failed"
    assert "bad again" in fifth.failure["message"]


def test_an_exception_in_the_orchestrator_fails_it_with_the_message_and_traceback():
    def broken(context):
        yield context.call_activity("work", 1)
        raise KeyError("missing thing")

    handle = handle_of(broken)
    history = episode(handle, [], [execution_started(T0, "orch", "null")]).events
    result = episode(handle, history, [event(EventType.TaskCompleted, T0, TaskScheduledId=0, Result="1")])
    assert result.status == "Failed"
    assert "missing thing" in result.failure["message"]
    assert "KeyError" in result.failure["details"]
    assert result.events[-2]["EventType"] == EventType.ExecutionFailed
