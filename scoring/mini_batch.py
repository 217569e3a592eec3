"""Scoring one mini-batch of local files with a loaded scorer: prediction rows carry their source file name
and row index; a no-code scorer fails per file, a custom script's run() per mini-batch."""
from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from .arriving_files import wait_for
from .errors import ScoringUserError
from .scorers import CustomScriptScorer, predictions_frame

FILE_NAME = "file_name"
ROW = "row"


@dataclass
class Item:
    path: str  # local file
    name: str  # the file's name as the user knows it (relative to the input)


@dataclass
class FileFailure:
    name: str
    error: str
    trace: str = ""


@dataclass
class Outcome:
    rows: int = 0
    succeeded: list[str] = field(default_factory=list)
    failed: list[FileFailure] = field(default_factory=list)
    rows_per_item: list[int] = field(default_factory=list)
    columns: list[str] | None = None  # of the prediction rows written


def score_mini_batch(scorer, items: list[Item], part_path: Path | None, keep_parquet: bool = True) -> Outcome:
    """Score items and write the prediction rows beside part_path (None: summary_only) as CSV lines with no
    header, ready to become this mini-batch's block of the predictions file; and at part_path as Parquet when
    keep_parquet (the job reads them back) or when a column has no CSV form."""
    if isinstance(scorer, CustomScriptScorer):
        tables, outcome = _run_script(scorer, items)
    else:
        tables, outcome = _score_files(scorer, items)
    if part_path is not None and tables:
        table = _concat(tables)
        if not write_csv_rows(table, csv_rows_path(part_path)) or keep_parquet:
            pq.write_table(table, part_path)
        outcome.columns = table.column_names
    outcome.rows = sum(outcome.rows_per_item)
    return outcome


def csv_rows_path(part_path: Path) -> Path:
    return part_path.with_suffix(".csv")


def write_csv_rows(table: pa.Table, path: Path) -> bool:
    """CSV lines without a header; False, and nothing written, when a column has no CSV form."""
    try:
        pcsv.write_csv(table, path, pcsv.WriteOptions(include_header=False))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        path.unlink(missing_ok=True)
        return False
    return True


def _concat(tables: list[pa.Table]) -> pa.Table:
    """One table of the mini-batch's rows; a column whose type differs between files takes the wider type."""
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise ScoringUserError(f"The files of the mini-batch gave predictions of different types: {error}") from None


def _as_table(predicted: pa.Table | pd.DataFrame) -> pa.Table:
    if isinstance(predicted, pa.Table):
        return predicted
    return pa.Table.from_pandas(predicted, preserve_index=False)


def _score_files(scorer, items: list[Item]) -> tuple[list[pa.Table], Outcome]:
    """Each file's predictions behind its name and row index, straight in Arrow."""
    tables, outcome = [], Outcome()
    for item in items:
        try:
            wait_for(Path(item.path))
            predicted = _as_table(scorer.score_file(Path(item.path), item.name))
        except ScoringUserError as error:
            outcome.failed.append(FileFailure(item.name, str(error)))
            outcome.rows_per_item.append(0)
            continue
        rows = predicted.num_rows
        predicted = predicted.add_column(0, ROW, pa.array(np.arange(rows, dtype=np.int64)))
        tables.append(predicted.add_column(0, FILE_NAME, pa.repeat(pa.scalar(item.name, pa.string()), rows)))
        outcome.succeeded.append(item.name)
        outcome.rows_per_item.append(rows)
    return tables, outcome


def _run_script(scorer: CustomScriptScorer, all_items: list[Item]) -> tuple[list[pa.Table], Outcome]:
    """run() gets the files that arrived; those that could not be downloaded fail on their own."""
    arrived, unavailable = [], []
    for position, item in enumerate(all_items):
        try:
            wait_for(Path(item.path))
            arrived.append(position)
        except ScoringUserError as error:
            unavailable.append(FileFailure(item.name, str(error)))
    tables, outcome = _run_arrived(scorer, [all_items[p] for p in arrived]) if arrived else ([], Outcome())
    rows = dict(zip(arrived, outcome.rows_per_item))
    outcome.rows_per_item = [rows.get(position, 0) for position in range(len(all_items))]
    outcome.failed += unavailable
    return tables, outcome


def _run_arrived(scorer: CustomScriptScorer, items: list[Item]) -> tuple[list[pa.Table], Outcome]:
    try:
        result = scorer.run([item.path for item in items])
    except Exception as error:  # the user's script: any exception is theirs
        trace = traceback.format_exc()
        failure = f"run() raised {type(error).__name__}: {error}"
        return [], Outcome(failed=[FileFailure(i.name, failure, trace) for i in items],
                           rows_per_item=[0] * len(items))
    count = 0 if result is None else len(result)
    if count < len(items):
        failure = (f"run() returned {count} results for a mini-batch of {len(items)} files; with append_row it "
                   "must return at least one result per input file (Azure ML's rule).")
        return [], Outcome(failed=[FileFailure(i.name, failure) for i in items], rows_per_item=[0] * len(items))
    frame = predictions_frame(result if isinstance(result, pd.DataFrame) else list(result), count, "run()")
    if FILE_NAME not in frame.columns:
        names = [i.name for i in items] if count == len(items) else [""] * count
        frame.insert(0, FILE_NAME, names)
    if ROW not in frame.columns:
        frame.insert(1, ROW, range(count))
    rows = [count] + [0] * (len(items) - 1)
    return [_as_table(frame)], Outcome(succeeded=[i.name for i in items], rows_per_item=rows)
