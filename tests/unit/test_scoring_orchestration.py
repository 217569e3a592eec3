"""The scoring job's orchestrators, replayed through the real Durable SDK: slices, the in-flight window of
activities each taking a run of mini-batches, early stop on error_threshold, and a job that is not to
proceed."""
from __future__ import annotations

import datetime as dt
import json

import azure.durable_functions as df

from devhost.durable.history import EventType, event, execution_started
from devhost.durable.replay import run_episode
from jobs.planning import slices
from orchestrations.scoring_jobs import bp

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def handle(name: str):
    app = df.DFApp()
    app.register_functions(bp)
    return next(f for f in app.get_functions() if f.get_function_name() == name).get_user_function()


def episode(name: str, history: list, new_events: list):
    return run_episode(handle(name), name=name, instance_id="job1", parent_instance_id=None, history=history,
                       new_events=new_events, now=T0)


def completed(task_id: int, result) -> dict:
    return event(EventType.TaskCompleted, T0, TaskScheduledId=task_id, Result=json.dumps(result))


def slice_input(start=0, end=5, window=2, threshold=-1, failed=0) -> dict:
    return execution_started(T0, "score_slice", json.dumps({"job": "job1", "start": start, "end": end,
                                                             "window": window, "error_threshold": threshold,
                                                             "failed_files": failed}))


def scheduled_runs(result) -> list[tuple[int, int]]:
    return [(json.loads(a["input"])["start"], json.loads(a["input"])["end"]) for a in result.outgoing.activities]


def ok(rows=3) -> dict:
    return {"status": "succeeded", "rows": rows, "failed_files": 0}


def test_slices_cover_every_mini_batch_once():
    assert slices(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert slices(0, 4) == []


def test_a_slice_keeps_at_most_window_activities_in_flight_each_taking_a_share_of_what_is_left():
    first = episode("score_slice", [], [slice_input(end=10, window=2)])
    assert scheduled_runs(first) == [(0, 5), (5, 10)]  # the slots start together: equal shares, no hand-over
    second = episode("score_slice", first.events, [completed(1, ok())])
    assert scheduled_runs(second) == [] and second.status == "Running"
    third = episode("score_slice", first.events + second.events, [completed(0, ok())])
    assert third.status == "Completed" and json.loads(third.output) == {"failed_files": 0, "stopped": False}


def test_as_each_slot_frees_it_takes_its_share_of_what_is_left_and_the_last_runs_are_single():
    first = episode("score_slice", [], [slice_input(end=70, window=2)])
    assert scheduled_runs(first) == [(0, 32), (32, 64)]  # equal shares, at most 32 mini-batches a run
    second = episode("score_slice", first.events, [completed(0, ok())])
    assert scheduled_runs(second) == [(64, 67)]  # ceil(6/2)
    third = episode("score_slice", first.events + second.events, [completed(1, ok())])
    assert scheduled_runs(third) == [(67, 69)]  # ceil(3/2)
    history = first.events + second.events + third.events
    fourth = episode("score_slice", history, [completed(2, ok())])
    assert scheduled_runs(fourth) == [(69, 70)]
    assert all(json.loads(a["input"])["error_threshold"] == -1 for a in first.outgoing.activities)


def test_a_slice_stops_scheduling_once_the_error_threshold_is_passed():
    first = episode("score_slice", [], [slice_input(window=1, threshold=1, failed=1)])
    failed = {"status": "failed", "rows": 0, "failed_files": 1}
    second = episode("score_slice", first.events, [completed(0, failed)])
    assert second.status == "Completed" and scheduled_runs(second) == []
    assert json.loads(second.output) == {"failed_files": 2, "stopped": True}


def test_a_canceled_mini_batch_stops_the_slice():
    first = episode("score_slice", [], [slice_input(window=1)])
    second = episode("score_slice", first.events, [completed(0, {"status": "canceled", "rows": 0,
                                                                  "failed_files": 0})])
    assert second.status == "Completed" and json.loads(second.output)["stopped"] is True


def test_a_job_runs_its_slices_one_after_another_then_finishes():
    started = execution_started(T0, "score_job", json.dumps({"job": "job1"}))
    first = episode("score_job", [], [started])
    assert [a["name"] for a in first.outgoing.activities] == ["prepare_scoring_job"]
    plan = {"proceed": True, "mini_batches": 5, "window": 2, "error_threshold": -1, "slice_size": 3}
    second = episode("score_job", first.events, [completed(0, plan)])
    (child,) = second.outgoing.sub_orchestrations
    assert child["instanceId"] == "job1:slice:00000" and json.loads(child["input"])["end"] == 3
    history = first.events + second.events
    third = episode("score_job", history, [event(EventType.SubOrchestrationInstanceCompleted, T0,
                                                 TaskScheduledId=1,
                                                 Result=json.dumps({"failed_files": 0, "stopped": False}))])
    (child,) = third.outgoing.sub_orchestrations
    assert child["instanceId"] == "job1:slice:00001" and json.loads(child["input"])["start"] == 3
    history += third.events
    fourth = episode("score_job", history, [event(EventType.SubOrchestrationInstanceCompleted, T0,
                                                  TaskScheduledId=2,
                                                  Result=json.dumps({"failed_files": 0, "stopped": False}))])
    assert [a["name"] for a in fourth.outgoing.activities] == ["finish_scoring_job"]


def test_a_job_of_one_slice_scores_it_in_its_own_history():
    started = execution_started(T0, "score_job", json.dumps({"job": "job1"}))
    first = episode("score_job", [], [started])
    plan = {"proceed": True, "mini_batches": 3, "window": 2, "error_threshold": -1, "slice_size": 200}
    second = episode("score_job", first.events, [completed(0, plan)])
    assert second.outgoing.sub_orchestrations == [] and scheduled_runs(second) == [(0, 2), (2, 3)]
    history = first.events + second.events
    third = episode("score_job", history, [completed(2, ok())])
    assert scheduled_runs(third) == []
    history += third.events
    fourth = episode("score_job", history, [completed(1, ok())])
    assert [a["name"] for a in fourth.outgoing.activities] == ["finish_scoring_job"]


def test_a_job_that_may_not_proceed_goes_straight_to_finish():
    started = execution_started(T0, "score_job", json.dumps({"job": "job1"}))
    first = episode("score_job", [], [started])
    second = episode("score_job", first.events, [completed(0, {"proceed": False, "slice_size": 200})])
    assert [a["name"] for a in second.outgoing.activities] == ["finish_scoring_job"]
    assert second.outgoing.sub_orchestrations == []


def test_mini_batches_finish_finds_no_result_for_are_scored_again_then_finish_decides():
    started = execution_started(T0, "score_job", json.dumps({"job": "job1"}))
    first = episode("score_job", [], [started])
    plan = {"proceed": True, "mini_batches": 3, "window": 2, "error_threshold": -1, "slice_size": 200}
    second = episode("score_job", first.events, [completed(0, plan)])
    history = first.events + second.events
    third = episode("score_job", history, [completed(1, ok()), completed(2, ok())])
    (finish,) = third.outgoing.activities
    assert finish["name"] == "finish_scoring_job" and json.loads(finish["input"])["rescore_rounds_left"] == 2
    history += third.events
    fourth = episode("score_job", history, [completed(3, {"status": None, "missing": [1]})])
    assert scheduled_runs(fourth) == [(1, 2)]  # the lost one alone
    history += fourth.events
    fifth = episode("score_job", history, [completed(4, ok())])
    (finish,) = fifth.outgoing.activities
    assert finish["name"] == "finish_scoring_job" and json.loads(finish["input"])["rescore_rounds_left"] == 1
    history += fifth.events
    last = episode("score_job", history, [completed(5, {"status": "Completed", "missing": []})])
    assert last.status == "Completed" and json.loads(last.output)["status"] == "Completed"
