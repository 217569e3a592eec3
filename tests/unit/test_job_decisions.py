"""The job engine's decisions as plain functions over plain data: which status changes are allowed and what
each sets, the error_threshold, exact counts from the stored results, and how the predictions file is made."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from jobs.contracts import ItemRows, MiniBatchResult, MiniBatchState
from jobs.outputs import header_line, plan_assembly
from jobs.settings import MAX_COMMITTED_BLOCKS
from jobs.status import ACTIVE, ALLOWED, TERMINAL, JobStatus, TransitionError, transition
from jobs.verdict import add_moves, counts_moved, exact_counts, over_threshold, threshold_error, verdict

ROOT = Path(__file__).resolve().parents[2]

T0, T1 = "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:02.500Z"
COUNTS = {"files": 3, "mini_batches": 3, "mini_batches_done": 0, "mini_batches_failed": 0, "files_failed": 0,
          "rows_scored": 0}


def job(status: JobStatus, **fields) -> dict:
    return {"name": "j", "status": status.value, "created_at": T0, "started_at": None, "ended_at": None,
            "duration_seconds": None, "error": None, "counts": dict(COUNTS), **fields}


def result(index: int, status: str, rows: int = 0, failed_files=(), columns=None, blocks: int = 0, items=()):
    return MiniBatchResult(index=index, status=status, rows=rows, failed_files=list(failed_files), columns=columns,
                           blocks=blocks, items=[ItemRows(name=n, piece=p, rows=r) for n, p, r in items])


# -- status ----------------------------------------------------------------------------------------------
def test_a_job_walks_from_not_started_to_completed_and_its_times_are_set_on_the_way():
    preparing = transition(job(JobStatus.NOT_STARTED), JobStatus.PREPARING, T0)
    assert preparing["status"] == "Preparing" and preparing["started_at"] == T0
    running = transition(preparing, JobStatus.RUNNING, T1, counts={**COUNTS, "mini_batches": 7})
    assert running["started_at"] == T0 and running["counts"]["mini_batches"] == 7  # the first start stays
    finalizing = transition(running, JobStatus.FINALIZING, T1)
    done = transition(finalizing, JobStatus.COMPLETED, T1)
    assert done["ended_at"] == T1 and done["duration_seconds"] == 2.5 and done["error"] is None


def test_a_finished_job_never_changes_again():
    for status in TERMINAL:
        assert ALLOWED[status] == frozenset()
        for target in JobStatus:
            assert transition(job(status), target, T1) is None


def test_a_requested_cancel_is_never_undone_by_a_step_still_running():
    requested = transition(job(JobStatus.RUNNING, started_at=T0), JobStatus.CANCEL_REQUESTED, T1)
    assert requested["status"] == "CancelRequested" and requested["cancel_requested_at"] == T1
    for step in (JobStatus.PREPARING, JobStatus.RUNNING, JobStatus.FINALIZING, JobStatus.CANCEL_REQUESTED):
        assert transition(requested, step, T1) is None
    assert transition(requested, JobStatus.CANCELED, T1)["ended_at"] == T1


def test_every_active_status_may_fail_or_be_canceled_and_a_failure_carries_its_error():
    error = {"code": "SystemError", "message": "storage went away"}
    for status in ACTIVE - {JobStatus.CANCEL_REQUESTED}:
        assert transition(job(status), JobStatus.CANCEL_REQUESTED, T1) is not None
        failed = transition(job(status), JobStatus.FAILED, T1, error=error)
        assert failed["status"] == "Failed" and failed["error"] == error and failed["ended_at"] == T1
    with pytest.raises(TransitionError):
        transition(job(JobStatus.RUNNING), JobStatus.FAILED, T1)
    with pytest.raises(TransitionError):
        transition(job(JobStatus.RUNNING), JobStatus.COMPLETED, T1, error=error)


def test_steps_out_of_order_are_refused_but_a_prepare_run_again_after_a_crash_is_not():
    assert transition(job(JobStatus.NOT_STARTED), JobStatus.RUNNING, T1) is None
    assert transition(job(JobStatus.NOT_STARTED), JobStatus.COMPLETED, T1) is None
    assert transition(job(JobStatus.FINALIZING), JobStatus.RUNNING, T1) is None
    assert transition(job(JobStatus.RUNNING), JobStatus.PREPARING, T1)["status"] == "Preparing"
    assert transition(job(JobStatus.RUNNING), JobStatus.COMPLETED, T1)["status"] == "Completed"  # summary_only


def test_only_a_running_job_has_its_mini_batches_scored():
    assert [s for s in JobStatus if s.scores_mini_batches] == [JobStatus.RUNNING]


# -- error_threshold and counts --------------------------------------------------------------------------
def test_error_threshold_minus_one_never_fails_and_n_fails_past_n_files():
    assert not over_threshold(10_000, -1)
    assert not over_threshold(2, 2) and over_threshold(3, 2)
    assert over_threshold(1, 0)
    assert threshold_error({"files_failed": 2}, 2) is None
    error = threshold_error({"files_failed": 3}, 2)
    assert error.code == "ErrorThresholdExceeded" and "3 files failed" in error.message
    assert verdict(error) is JobStatus.FAILED and verdict(None) is JobStatus.COMPLETED


def test_exact_counts_come_from_the_stored_results_whatever_the_live_counts_say():
    drifted = {**COUNTS, "mini_batches_done": 7, "rows_scored": 999}
    results = [result(0, "succeeded", rows=10), result(1, "failed", failed_files=["big.csv"]),
               result(2, "failed", failed_files=["big.csv", "b.csv"]), result(3, "canceled")]
    counts = exact_counts(drifted, results)
    assert (counts["mini_batches_done"], counts["mini_batches_failed"], counts["files_failed"],
            counts["rows_scored"]) == (1, 2, 2, 10)  # a file failed in two pieces counts once
    assert counts["files"] == 3


def test_a_result_moves_the_live_counts_and_a_changed_result_takes_the_earlier_one_back():
    failed = result(0, "failed", failed_files=["a.csv"])
    first = counts_moved(None, failed)
    assert first == {"mini_batches_done": 0, "mini_batches_failed": 1, "files_failed": 1, "rows_scored": 0}
    changed = counts_moved(failed, result(0, "succeeded", rows=4))
    assert changed == {"mini_batches_done": 1, "mini_batches_failed": -1, "files_failed": -1, "rows_scored": 4}
    assert add_moves(first, changed) == {"mini_batches_done": 1, "mini_batches_failed": 0, "files_failed": 0,
                                         "rows_scored": 4}
    assert set(counts_moved(None, result(1, "canceled")).values()) == {0}  # a canceled one counts nowhere


# -- assembling the predictions file ---------------------------------------------------------------------
COLUMNS = ["file_name", "row", "prediction"]


def test_staged_blocks_of_the_same_columns_are_committed_in_input_order():
    results = [result(1, "succeeded", rows=5, columns=COLUMNS, blocks=2), result(0, "succeeded", rows=3,
                                                                                columns=COLUMNS, blocks=1),
               result(2, "failed", failed_files=["c.csv"])]
    assembly = plan_assembly(results)
    assert assembly.commit_blocks and assembly.columns == COLUMNS
    assert [r.index for r in assembly.with_rows] == [0, 1]  # the failed one has no rows to place


def test_the_predictions_header_is_written_as_pyarrow_writes_its_rows_without_a_worker_importing_pandas():
    import pyarrow as pa
    import pyarrow.csv as pcsv

    columns = ["file_name", "row", 'say "hi"', "a,b", "caf\u00e9"]
    written = pa.BufferOutputStream()
    pcsv.write_csv(pa.table({name: pa.array([], pa.string()) for name in columns}), written)
    assert header_line(columns) == written.getvalue().to_pybytes()
    check = ("import sys; from jobs.outputs import header_line; header_line(['file_name', 'row']); "
             "assert 'pandas' not in sys.modules, 'pandas imported'")
    done = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-500:]


def test_columns_that_differ_or_rows_without_blocks_are_rewritten_from_the_parts():
    differ = [result(0, "succeeded", rows=1, columns=COLUMNS, blocks=1),
              result(1, "succeeded", rows=1, columns=["file_name", "row", "label"], blocks=1)]
    assert not plan_assembly(differ).commit_blocks
    parquet_only = [result(0, "succeeded", rows=1, columns=None)]
    assert not plan_assembly(parquet_only).commit_blocks
    assert not plan_assembly([]).commit_blocks  # nothing scored: a file with a header only


def test_more_blocks_than_a_blob_holds_are_rewritten_and_cut_files_keep_whole_file_row_numbers():
    many = [result(0, "succeeded", rows=1, columns=COLUMNS, blocks=MAX_COMMITTED_BLOCKS)]
    assert not plan_assembly(many).commit_blocks
    pieces = [result(0, "succeeded", rows=40, columns=COLUMNS, blocks=1, items=[("big.csv", 0, 40)]),
              result(1, "succeeded", rows=35, columns=COLUMNS, blocks=1, items=[("big.csv", 1, 35)])]
    assert plan_assembly(pieces).offsets == {0: 0, 1: 40}


def test_every_planned_mini_batch_must_have_a_result():
    from jobs.verdict import missing_mini_batches, stopped_early, unaccounted_error

    results = [result(0, "succeeded", rows=1), result(2, "failed", failed_files=["c.csv"])]
    assert missing_mini_batches(4, results) == [1, 3]
    error = unaccounted_error(4, results)
    assert error.code == "MiniBatchesUnaccounted" and "mini-batches 1, 3" in error.message
    assert unaccounted_error(3, results + [result(1, "succeeded")]) is None
    assert stopped_early({"files_failed": 1}, 0, results) and not stopped_early({"files_failed": 1}, -1, results)


def test_a_runs_results_are_stored_together_and_what_could_not_be_written_waits_for_the_next_time():
    from jobs.running import Progress

    stored, moves, failures = [], [], {"record": 1, "move": 1}

    def record(results):
        if failures["record"]:
            failures["record"] -= 1
            raise ConnectionError("storage down")
        stored.append([r.index for r in results])
        return {"mini_batches_done": len(results), "mini_batches_failed": 0, "files_failed": 0,
                "rows_scored": sum(r.rows for r in results)}

    def move(moved):
        if failures["move"]:
            failures["move"] -= 1
            raise ConnectionError("storage down")
        moves.append(moved)

    with Progress(record, move, period=3600) as progress:  # no store on its own during the test
        progress.add(result(0, "succeeded", rows=2))
        with pytest.raises(ConnectionError):
            progress.flush()  # nothing stored: result 0 waits
        progress.add(result(1, "succeeded", rows=3))
        with pytest.raises(ConnectionError):
            progress.flush()  # 0 and 1 stored together; their moves wait
        assert stored == [[0, 1]] and moves == []
        progress.add(result(2, "succeeded", rows=4))
    assert stored == [[0, 1], [2]]  # the rest when the run ends
    assert moves == [{"mini_batches_done": 3, "mini_batches_failed": 0, "files_failed": 0, "rows_scored": 9}]


def test_small_mini_batches_rows_go_into_one_block_with_their_neighbours_and_a_failed_store_keeps_the_rest():
    """Rows handed over with a result are staged with those of the mini-batches right after it, up to about
    one block's bytes; a gap in the indexes starts another block; results without rows held are stored as
    before; a store that fails keeps only what it did not store for the next time."""
    from jobs.running import Progress

    plain, together, fail = [], [], {"at": 7}

    def store_together(results, rows):
        if any(r.index == fail["at"] for r in results):
            fail["at"] = None
            raise ConnectionError("storage down")
        together.append(([r.index for r in results], b"".join(rows)))
        return {"mini_batches_done": len(results), "mini_batches_failed": 0, "files_failed": 0, "rows_scored": 0}

    def record(results):
        plain.append([r.index for r in results])
        return None

    moves = []
    with Progress(record, moves.append, period=3600, together=store_together, together_bytes=10) as progress:
        for index, rows in ((0, b"aaaa"), (1, b"bbbb"), (2, b"cccc"), (4, b"eeee"), (5, None), (6, b"gg")):
            progress.add(result(index, "succeeded", rows=1, blocks=1), rows)
        with pytest.raises(ConnectionError):  # 20 bytes held: stored at once, and rows not staged fail the run
            progress.add(result(7, "succeeded", rows=1, blocks=1), b"hh")
        assert plain == [[5]]
        assert together == [([0, 1], b"aaaabbbb"), ([2], b"cccc"), ([4], b"eeee")]  # 4 more would pass 10; gaps
        assert progress.pending == [result(6, "succeeded", rows=1, blocks=1), result(7, "succeeded", rows=1, blocks=1)]
        assert progress.held == {6: b"gg", 7: b"hh"}  # the store of 6 and 7 failed: they wait
        assert moves == [{"mini_batches_done": 4, "mini_batches_failed": 0, "files_failed": 0, "rows_scored": 0}]
    assert together[3:] == [([6, 7], b"gghh")]
    assert plain == [[5]]


def test_a_block_of_several_mini_batches_rows_is_committed_only_where_all_their_results_point_to_it():
    from jobs.outputs import RowsTogetherBroken, check_together

    head = result(3, "succeeded", rows=2, blocks=1).model_copy(update={"together": 3})
    members = [result(i, "succeeded", rows=2).model_copy(update={"rows_in": 3}) for i in (4, 5)]
    check_together([result(2, "succeeded", rows=1, blocks=1), head, *members])
    with pytest.raises(RowsTogetherBroken):  # mini-batch 5's result was replaced by one with a block of its own
        check_together([head, members[0], result(5, "succeeded", rows=2, blocks=1)])
    with pytest.raises(RowsTogetherBroken):  # a member whose block was made without it
        check_together([head, *members, result(6, "succeeded", rows=2).model_copy(update={"rows_in": 3})])
