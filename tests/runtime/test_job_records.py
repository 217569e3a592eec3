"""Job records against Azurite, without a host: live counts move once per mini-batch result, and a status
change tried from a record read earlier never loses a write made since."""
from __future__ import annotations

import uuid

import pytest

from workspace.jobs import PARTITION
from workspace.service import Workspace


@pytest.fixture
def jobs(storage):
    return Workspace.open(storage).jobs


def new_job(jobs) -> str:
    name = f"job-{uuid.uuid4().hex[:8]}"
    counts = {"files": 2, "mini_batches": 2, "mini_batches_done": 0, "mini_batches_failed": 0, "files_failed": 0,
              "rows_scored": 0}
    body = {"name": name, "status": "Running", "endpoint": "e", "counts": counts,
            "created_at": "2026-01-01T00:00:00Z"}
    jobs.table.create(PARTITION, name, body, "Job", name, Endpoint="e")
    return name


def test_a_mini_batch_result_counts_once_and_a_changed_result_moves_the_counts(jobs):
    name = new_job(jobs)
    failed = {"status": "failed", "rows": 0, "failed_files": ["a.csv"]}
    assert jobs.record_mini_batch(name, 0, failed).body["counts"]["files_failed"] == 1
    assert jobs.record_mini_batch(name, 0, failed) is None  # delivered again: nothing moves
    moved = jobs.record_mini_batch(name, 0, {"status": "succeeded", "rows": 5, "failed_files": []})
    counts = jobs.get(name).body["counts"]
    assert moved.body["counts"] == counts
    assert (counts["mini_batches_done"], counts["mini_batches_failed"], counts["files_failed"],
            counts["rows_scored"]) == (1, 0, 0, 5)
    assert [r["status"] for r in jobs.mini_batch_results(name)] == ["succeeded"]


def test_a_status_change_from_a_stale_record_keeps_what_was_written_since(jobs):
    name = new_job(jobs)
    stale = jobs.get(name)
    jobs.record_mini_batch(name, 1, {"status": "succeeded", "rows": 7, "failed_files": []})
    finished = jobs.set_status(name, "Completed", known=stale)
    assert finished.body["status"] == "Completed" and finished.body["counts"]["rows_scored"] == 7
    fresh = jobs.set_status(name, "Failed", known=finished)  # a finished job is never changed again
    assert fresh.body["status"] == "Completed"
