"""Job records against Azurite, without a host: live counts move once per mini-batch result, and a status
change tried from a record read earlier never loses a write made since."""
from __future__ import annotations

import uuid

import pytest

from jobs.contracts import MiniBatchResult, MiniBatchState
from jobs.records import PARTITION, JobRecords
from jobs.status import JobStatus
from jobs.verdict import add_moves
from registry.service import Registry
from registry.storage import RowsExist, TooManyForOneTransaction


@pytest.fixture
def jobs(storage):
    registry = Registry.open(storage)
    return JobRecords(registry.storage, registry.datastores, registry.models, registry.data, registry.endpoints)


def new_job(jobs) -> str:
    name = f"job-{uuid.uuid4().hex[:8]}"
    counts = {"files": 2, "mini_batches": 2, "mini_batches_done": 0, "mini_batches_failed": 0, "files_failed": 0,
              "rows_scored": 0}
    body = {"name": name, "status": "Running", "endpoint": "e", "counts": counts,
            "created_at": "2026-01-01T00:00:00Z", "started_at": "2026-01-01T00:00:01Z", "error": None}
    jobs.table.create(PARTITION, name, body, "Job", name, Endpoint="e")
    return name


def result(index: int, status: MiniBatchState, rows: int = 0, failed_files: tuple = ()) -> MiniBatchResult:
    return MiniBatchResult(index=index, status=status, rows=rows, failed_files=list(failed_files))


def test_a_mini_batch_result_counts_once_and_a_changed_result_moves_the_counts(jobs):
    name = new_job(jobs)
    failed = result(0, MiniBatchState.FAILED, failed_files=("a.csv",))
    assert jobs.add_counts(name, jobs.record_mini_batch(name, failed)).body["counts"]["files_failed"] == 1
    assert jobs.record_mini_batch(name, failed) is None  # delivered again: nothing moves
    moved = jobs.add_counts(name, jobs.record_mini_batch(name, result(0, MiniBatchState.SUCCEEDED, rows=5)))
    counts = jobs.get(name).body["counts"]
    assert moved.body["counts"] == counts
    assert (counts["mini_batches_done"], counts["mini_batches_failed"], counts["files_failed"],
            counts["rows_scored"]) == (1, 0, 0, 5)
    assert [r.status for r in jobs.mini_batch_results(name)] == [MiniBatchState.SUCCEEDED]


def test_results_stored_together_count_once_even_where_one_of_them_was_stored_before(jobs):
    name = new_job(jobs)
    moved = jobs.record_mini_batches(name, [result(0, MiniBatchState.SUCCEEDED, rows=2),
                                            result(1, MiniBatchState.FAILED, failed_files=("b.csv",))])
    assert moved == {"mini_batches_done": 1, "mini_batches_failed": 1, "files_failed": 1, "rows_scored": 2}
    again = jobs.record_mini_batches(name, [result(1, MiniBatchState.SUCCEEDED, rows=3),  # scored again, now fine
                                            result(2, MiniBatchState.SUCCEEDED, rows=4)])
    assert again == {"mini_batches_done": 2, "mini_batches_failed": -1, "files_failed": -1, "rows_scored": 7}
    counts = jobs.add_counts(name, add_moves(moved, again)).body["counts"]
    assert (counts["mini_batches_done"], counts["mini_batches_failed"], counts["files_failed"],
            counts["rows_scored"]) == (3, 0, 0, 9)
    assert [(r.index, r.status) for r in jobs.mini_batch_results(name)] == [
        (0, MiniBatchState.SUCCEEDED), (1, MiniBatchState.SUCCEEDED), (2, MiniBatchState.SUCCEEDED)]
    jobs.record_mini_batch(name, result(200, MiniBatchState.FAILED, failed_files=("c.csv",)))
    many = [result(index, MiniBatchState.SUCCEEDED, rows=1) for index in range(3, 253)]  # in transactions of 100:
    moved = jobs.record_mini_batches(name, many)  # the first stored, the one holding 200 refused
    assert moved == {"mini_batches_done": 250, "mini_batches_failed": -1, "files_failed": -1, "rows_scored": 250}
    assert len(jobs.mini_batch_results(name)) == 253


def test_results_whose_rows_share_a_block_are_stored_all_or_none_and_a_repeat_never_splits_them(jobs):
    name = new_job(jobs)
    jobs.record_mini_batch(name, result(6, MiniBatchState.SUCCEEDED, rows=1))  # a repeated delivery stored it
    group = [result(index, MiniBatchState.SUCCEEDED, rows=2).model_copy(update={"rows_in": 4}) for index in (5, 6)]
    with pytest.raises(RowsExist):
        jobs.record_together(name, [result(4, MiniBatchState.SUCCEEDED, rows=2).model_copy(update={"together": 3}),
                                    *group])
    assert [r.index for r in jobs.mini_batch_results(name)] == [6]  # none of the three stored
    head = result(0, MiniBatchState.SUCCEEDED, rows=2).model_copy(update={"together": 2})
    member = result(1, MiniBatchState.SUCCEEDED, rows=3).model_copy(update={"rows_in": 0})
    assert jobs.record_together(name, [head, member])["rows_scored"] == 5
    assert jobs.record_mini_batches(name, [result(1, MiniBatchState.SUCCEEDED, rows=3),  # scored again alone
                                           result(2, MiniBatchState.SUCCEEDED, rows=1)])["rows_scored"] == 1
    stored = {r.index: r for r in jobs.mini_batch_results(name)}
    assert (stored[0].together, stored[1].rows_in) == (2, 0)  # the pair stands: its block holds both
    too_many = [result(index, MiniBatchState.SUCCEEDED, rows=1) for index in range(10, 111)]
    uploads = []
    with pytest.raises(TooManyForOneTransaction):  # known before the block is uploaded
        jobs.record_together(name, too_many, before=lambda: uploads.append(len(jobs.mini_batch_results(name))))
    assert uploads == [] and sorted(stored) == [0, 1, 2, 6] and len(jobs.mini_batch_results(name)) == 4
    other = new_job(jobs)  # a hundred fit: the block is uploaded, then they are stored
    jobs.record_together(other, too_many[:100], before=lambda: uploads.append(len(jobs.mini_batch_results(other))))
    assert uploads == [0] and len(jobs.mini_batch_results(other)) == 100


def test_a_status_change_from_a_stale_record_keeps_what_was_written_since(jobs):
    name = new_job(jobs)
    stale = jobs.get(name)
    jobs.add_counts(name, jobs.record_mini_batch(name, result(1, MiniBatchState.SUCCEEDED, rows=7)))
    finished = jobs.set_status(name, JobStatus.COMPLETED, known=stale)
    assert finished.body["status"] == "Completed" and finished.body["counts"]["rows_scored"] == 7
    assert finished.body["ended_at"] and finished.body["duration_seconds"] is not None
    fresh = jobs.set_status(name, JobStatus.CANCEL_REQUESTED, known=finished)  # a finished job never changes
    assert fresh.body["status"] == "Completed"


def test_a_cancel_request_is_kept_against_a_step_still_running_and_a_finished_job_refuses_it(jobs):
    name = new_job(jobs)
    requested = jobs.request_cancel(name)
    assert requested.body["status"] == "CancelRequested" and requested.body["cancel_requested_at"]
    assert jobs.set_status(name, JobStatus.FINALIZING).body["status"] == "CancelRequested"
    assert jobs.set_status(name, JobStatus.CANCELED).body["status"] == "Canceled"
    moved = jobs.record_mini_batch(name, result(0, MiniBatchState.SUCCEEDED, rows=3))
    assert moved["rows_scored"] == 3
    assert jobs.add_counts(name, moved).body["counts"]["rows_scored"] == 0
    assert jobs.get(name).body["counts"]["rows_scored"] == 0  # a finished job's counts stay as decided
    with pytest.raises(Exception) as refused:
        jobs.request_cancel(name)
    assert getattr(refused.value, "status", None) == 409


def engine_with_job(storage, planned: int, results: list[int]):
    """A running summary_only job of `planned` mini-batches whose stored results are those of `results`."""
    from jobs.engine import JobEngine
    from jobs.settings import EngineSettings

    engine = JobEngine.open(Registry.open(storage), EngineSettings())
    name = new_job(engine.records)
    record = engine.records.get(name)
    body = {**record.body, "deployment": "d", "model": "azureml:m:1", "input": {"given": "x"},
            "output": {"datastore": "workspaceblobstore", "folder": f"jobs/{name}/", "file_name": "p.csv",
                       "uri": f"azureml://datastores/workspaceblobstore/paths/jobs/{name}/p.csv"},
            "settings": {"output_action": "summary_only", "error_threshold": -1}, "ended_at": None,
            "counts": {**record.body["counts"], "mini_batches": planned, "files": planned}}
    engine.records.table.replace(PARTITION, name, body, record.etag, "Job", name, Endpoint="e")
    for index in results:
        engine.records.record_mini_batch(name, result(index, MiniBatchState.SUCCEEDED, rows=2))
    return engine, name


def test_finish_hands_back_mini_batches_without_a_result_and_never_completes_without_them(storage):
    from jobs.contracts import FinishTask
    from jobs.lifecycle import finish_job

    engine, name = engine_with_job(storage, planned=3, results=[0, 2])  # the result of 1 was lost
    again = finish_job(engine, FinishTask(job=name, rescore_rounds_left=1))
    assert again.status is None and again.missing == [1]
    assert engine.records.get(name).body["status"] == "Running"  # nothing decided yet
    verdict = finish_job(engine, FinishTask(job=name, rescore_rounds_left=0))
    job = engine.records.get(name).body
    assert verdict.status == "Failed" and job["error"]["code"] == "MiniBatchesUnaccounted"
    assert "mini-batches 1" in job["error"]["message"] and job["counts"]["rows_scored"] == 4


def test_finish_completes_once_every_mini_batch_has_its_result(storage):
    from jobs.contracts import FinishTask
    from jobs.lifecycle import finish_job

    engine, name = engine_with_job(storage, planned=3, results=[0, 1, 2])
    assert finish_job(engine, FinishTask(job=name, rescore_rounds_left=2)).status == "Completed"
    assert engine.records.get(name).body["counts"]["rows_scored"] == 6
