"""Planning mini-batches: files grouped in name order, big line-based files cut at line boundaries, row
numbers made whole-file again when the pieces are assembled, and the runs of mini-batches activities take."""
from __future__ import annotations

from jobs.contracts import ItemRows, MiniBatchResult
from jobs.inputs import InputFile
from jobs.outputs import needs_parquet_part, row_offsets
from jobs.planning import PlannedItem, mini_batches_per_activity, plan_from_json, plan_mini_batches, plan_to_json
from jobs.settings import DEFAULT_MAX_MINI_BATCHES_PER_ACTIVITY, MAX_COMMITTED_BLOCKS


def lines_of(content: bytes):
    def line_start(file: InputFile, offset: int) -> int:
        found = content.find(b"\n", offset)
        return len(content) if found < 0 else found + 1

    return line_start


def test_files_are_grouped_mini_batch_size_at_a_time():
    files = [InputFile(f"f{i}.csv", f"azureml://datastores/d/paths/f{i}.csv", 10) for i in range(7)]
    plan = plan_mini_batches(files, 3, 1000, True, lines_of(b""))
    assert [[item.name for item in batch] for batch in plan] == [["f0.csv", "f1.csv", "f2.csv"],
                                                                 ["f3.csv", "f4.csv", "f5.csv"], ["f6.csv"]]
    assert all(item.range is None for batch in plan for item in batch)


def test_a_big_csv_is_cut_at_line_boundaries_after_its_header_and_each_piece_is_its_own_mini_batch():
    content = b"a,b\n" + b"".join(f"{i},{i * 2}\n".encode() for i in range(100))
    big = InputFile("big.csv", "azureml://datastores/d/paths/big.csv", len(content))
    small = InputFile("small.csv", "azureml://datastores/d/paths/small.csv", 10)
    plan = plan_mini_batches([big, small], 10, 100, True, lines_of(content))
    pieces = [batch[0] for batch in plan[:-1]]
    assert all(len(batch) == 1 for batch in plan[:-1]) and plan[-1][0].name == "small.csv"
    assert pieces[0].range[0] == 4 and pieces[-1].range[1] == len(content)
    assert all(a.range[1] == b.range[0] for a, b in zip(pieces, pieces[1:]))
    assert all(content[p.range[0] - 1:p.range[0]] == b"\n" for p in pieces)
    assert all(p.header_bytes == 4 for p in pieces)
    rows = b"".join(content[p.range[0]:p.range[1]] for p in pieces)
    assert rows == content[4:]
    assert plan_from_json(plan_to_json(plan)) == plan  # the plan as stored reads back the same


def test_parquet_files_and_files_for_a_scoring_script_are_never_cut():
    content = b"x\n" * 500
    parquet = InputFile("big.parquet", "u", 10_000)
    csv = InputFile("big.csv", "u", len(content))
    assert len(plan_mini_batches([parquet], 10, 100, True, lines_of(content))) == 1
    assert len(plan_mini_batches([csv], 10, 100, False, lines_of(content))) == 1


def test_pieces_get_the_rows_of_the_earlier_pieces_of_their_file_as_offset():
    results = [MiniBatchResult(index=index, status="succeeded", items=[ItemRows(name=name, piece=piece, rows=rows)])
               for index, (name, piece, rows) in enumerate([("big.csv", 0, 40), ("big.csv", 1, 35), ("big.csv", 2, 25),
                                                            ("a.csv", None, 7)])]
    assert row_offsets(results) == {0: 0, 1: 40, 2: 75}


def test_only_mini_batches_the_fan_in_reads_back_keep_a_parquet_part():
    whole_file = [PlannedItem("a.csv", "u", 10)]
    assert not needs_parquet_part(False, 12, whole_file)
    assert not needs_parquet_part(False, 12, [PlannedItem("big.csv", "u", 300, (0, 100), 0, 0)])
    assert needs_parquet_part(False, 12, [PlannedItem("big.csv", "u", 300, (100, 200), 0, 1)])
    assert needs_parquet_part(True, 12, whole_file)  # a scoring script's columns may differ
    assert needs_parquet_part(False, MAX_COMMITTED_BLOCKS, whole_file)


def test_an_activity_takes_a_share_of_what_is_left_so_early_runs_are_long_and_the_last_are_single():
    assert mini_batches_per_activity(10, 2) == 5
    assert mini_batches_per_activity(5, 2) == 3
    assert mini_batches_per_activity(2, 2) == 1
    assert mini_batches_per_activity(1000, 2) == DEFAULT_MAX_MINI_BATCHES_PER_ACTIVITY
    assert mini_batches_per_activity(5, 0) == 5  # a window below one counts as one
    assert mini_batches_per_activity(0, 4) == 1
