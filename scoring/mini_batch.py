"""Scoring one mini-batch of local files with a loaded scorer: prediction rows carry their source file name
and row index; a no-code scorer fails per file, a custom script's run() per mini-batch."""
from __future__ import annotations

import traceback
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from .arriving_files import wait_for
from .contracts import FILE_NAME_COLUMN, ROW_COLUMN, FileFailure, Outcome, ScoringItem
from .errors import ScoringUserError
from .scorers import CustomScriptScorer, predictions_frame


def score_mini_batch(scorer, items: list[ScoringItem], part_path: Path | None, keep_parquet: bool,
                     on_block: Callable[[int, Path], None] | None, max_blocks: int, block_bytes: int) -> Outcome:
    """Score items. With a part_path (None: summary_only) the prediction rows go to on_block as files of CSV
    lines with no header, cut into blocks of about block_bytes while the files score, each ready to become a
    block of the predictions file; and to part_path as Parquet when keep_parquet (the job reads them back)
    or when they cannot be CSV blocks of the job's file."""
    blocks = RowBlocks(part_path.parent / "rows", max_blocks, block_bytes, on_block) if part_path else None
    if isinstance(scorer, CustomScriptScorer):
        tables, outcome = _run_script(scorer, items)
        if blocks and tables:
            blocks.add(tables[0])
    else:
        tables, outcome = _score_files(scorer, items, blocks)
    if blocks and tables:
        outcome.blocks = blocks.finish()
        outcome.columns = blocks.columns if outcome.blocks else None
        if keep_parquet or not outcome.blocks:
            pq.write_table(_concat(tables), part_path)
    outcome.rows = sum(outcome.rows_per_item)
    return outcome


class RowBlocks:
    """A mini-batch's prediction rows as CSV lines, cut into files of about block_bytes while its files score;
    each finished file goes to on_block(number, path) at once, so the worker stages it as a block while the
    rest scores. At most max_blocks (the job's share of a blob's blocks): the last takes what is left. Rows
    whose columns differ from the first file's, or that have no CSV form, void the CSV (finish() gives 0): the
    job then reads this mini-batch's Parquet part."""

    def __init__(self, folder: Path, max_blocks: int, block_bytes: int,
                 on_block: Callable[[int, Path], None] | None):
        self.folder, self.max_blocks, self.block_bytes = folder, max(1, max_blocks), block_bytes
        self.on_block = on_block or (lambda number, path: None)
        self.columns: list[str] | None = None
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.count = 0
        self.void = False

    def add(self, table: pa.Table) -> None:
        if self.void:
            return
        if self.columns is not None and table.column_names != self.columns:
            self.void = True
            return
        self.columns = table.column_names
        lines = pa.BufferOutputStream()
        try:
            pcsv.write_csv(table, lines, pcsv.WriteOptions(include_header=False))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            self.void = True
            return
        self.pending.append(lines.getvalue().to_pybytes())
        self.pending_bytes += len(self.pending[-1])
        if self.pending_bytes >= self.block_bytes and self.count < self.max_blocks - 1:
            self._flush()

    def finish(self) -> int:
        """The number of blocks handed over, 0 when the rows cannot be CSV blocks."""
        if not self.void and self.pending_bytes:
            self._flush()
        return 0 if self.void else self.count

    def _flush(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.count:05d}.csv"
        writing = path.with_suffix(".writing")
        with open(writing, "wb") as sink:
            sink.writelines(self.pending)
        writing.replace(path)
        self.pending, self.pending_bytes = [], 0
        self.on_block(self.count, path)
        self.count += 1


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


def _score_files(scorer, items: list[ScoringItem], blocks: RowBlocks | None) -> tuple[list[pa.Table], Outcome]:
    """Each file's predictions behind its name and row index, straight in Arrow, and on to the blocks."""
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
        predicted = predicted.add_column(0, ROW_COLUMN, pa.array(np.arange(rows, dtype=np.int64)))
        tables.append(predicted.add_column(0, FILE_NAME_COLUMN, pa.repeat(pa.scalar(item.name, pa.string()), rows)))
        if blocks:
            blocks.add(tables[-1])
        outcome.succeeded.append(item.name)
        outcome.rows_per_item.append(rows)
    return tables, outcome


def _run_script(scorer: CustomScriptScorer, all_items: list[ScoringItem]) -> tuple[list[pa.Table], Outcome]:
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


def _run_arrived(scorer: CustomScriptScorer, items: list[ScoringItem]) -> tuple[list[pa.Table], Outcome]:
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
    if FILE_NAME_COLUMN not in frame.columns:
        names = [i.name for i in items] if count == len(items) else [""] * count
        frame.insert(0, FILE_NAME_COLUMN, names)
    if ROW_COLUMN not in frame.columns:
        frame.insert(1, ROW_COLUMN, range(count))
    rows = [count] + [0] * (len(items) - 1)
    return [_as_table(frame)], Outcome(succeeded=[i.name for i in items], rows_per_item=rows)
