"""Assembling a job's predictions file from its mini-batches' parts, in input order, never over an existing file.

Each mini-batch stages its rows as uncommitted blocks of the predictions blob, cut while it scores (at most
its share of a blob's blocks), so when every part has the same columns the fan-in only stages a header and
commits the block list: no bytes are moved again, whatever the job's size. Otherwise (columns that differ
between parts, or more blocks than a blob holds) the file is rewritten from the Parquet parts, one part at a
time, so a worker's memory does not grow with the job. Either way the pieces of cut files get whole-file row
indexes. Staged blocks of a job that never commits expire with the storage account's uncommitted-block
clean-up (Azure: 7 days) and are never visible as a file."""
from __future__ import annotations

import csv
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from registry.errors import SystemFailure, UserError
from scoring.contracts import FILE_NAME_COLUMN, PREDICTION_COLUMN, ROW_COLUMN

from .contracts import MiniBatchResult
from .job_storage import JobStorage
from .planning import PlannedItem
from .settings import (DEFAULT_RESTAGE_BATCH_ROWS, DEFAULT_REWRITE_BLOCK_BYTES, DEFAULT_ROWS_BLOCK_BYTES,
                       MAX_COMMITTED_BLOCKS)


class OutputAlreadyExists(UserError):
    code = "OutputAlreadyExists"
    status = 409


def already_exists(uri: str) -> OutputAlreadyExists:
    return OutputAlreadyExists(f"The output file {uri} already exists. Give another output path or "
                               "output_file_name; nothing was overwritten.")


def row_offsets(results: list[MiniBatchResult]) -> dict[int, int]:
    """For each mini-batch holding a piece of a cut file, the number of rows of that file before it."""
    seen: dict[str, int] = {}
    offsets: dict[int, int] = {}
    for result in sorted(results, key=lambda r: r.index):
        for item in result.items:
            if item.piece is None:
                continue
            offsets[result.index] = seen.get(item.name, 0)
            seen[item.name] = seen.get(item.name, 0) + item.rows
    return offsets


def block_id(index: int, kind: str = "rows") -> str:
    """Block ids of one blob must all have the same length."""
    return f"{kind[:6]:-<6}-{index:08d}"


def rows_block_id(index: int, number: int) -> str:
    """The id of block `number` of mini-batch `index`'s rows; block 0 keeps the id a mini-batch's rows had when
    they were always one block."""
    return block_id(index) if number == 0 else block_id(index, f"r{number:05d}")


def together_block_id(index: int, count: int) -> str:
    """The id of the one block holding the rows of mini-batches index .. index + count - 1 (see MiniBatchResult
    .together): its count in the id, so runs that grouped them otherwise never stage over each other's block."""
    return block_id(index, f"t{count:05d}")


class RowsTogetherBroken(SystemFailure):
    """A block of several mini-batches' rows whose results do not all point to it: committing it would write
    rows twice or lose them, so the job fails instead."""


def check_together(results: list[MiniBatchResult]) -> None:
    """Every mini-batch whose rows are in another's block is one that block was made with, and the reverse."""
    by_index = {r.index: r for r in results}
    for head in (r for r in results if r.together > 1):
        members = [by_index.get(head.index + offset) for offset in range(1, head.together)]
        if any(member is None or member.rows_in != head.index for member in members):
            raise RowsTogetherBroken(f"The rows of mini-batches {head.index}..{head.index + head.together - 1} were "
                                     "staged together but not all their results say so.")
    for member in (r for r in results if r.rows_in is not None):
        head = by_index.get(member.rows_in)
        if head is None or not head.index < member.index < head.index + head.together:
            raise RowsTogetherBroken(f"Mini-batch {member.index} says its rows are in the block of mini-batch "
                                     f"{member.rows_in}, which was not made with them.")


def needs_parquet_part(has_script: bool, mini_batches: int, items: list[PlannedItem]) -> bool:
    """Whether a mini-batch keeps its rows as Parquet too, for the fan-in to read back: a piece after a cut file's
    first (its row indexes are shifted), a scoring script's rows (their columns may differ between
    mini-batches), or a job with more mini-batches than a blob has blocks. The no-code scorers' columns are
    fixed by the model, so their mini-batches otherwise only stage their block."""
    return (has_script or mini_batches >= MAX_COMMITTED_BLOCKS
            or any(item.is_piece and item.piece for item in items))


def rows_blocks_per_mini_batch(mini_batches: int) -> int:
    """A mini-batch's share of a blob's blocks, after the header: the most blocks its rows may be cut into."""
    return max(1, (MAX_COMMITTED_BLOCKS - 1) // max(1, mini_batches))


@dataclass(frozen=True)
class Assembly:
    """How the predictions file is made: by committing the staged blocks (columns set, blocks known), or by
    rewriting it from the Parquet parts."""

    commit_blocks: bool
    columns: list[str] | None
    with_rows: list[MiniBatchResult]  # in input order
    offsets: dict[int, int]


def plan_assembly(results: list[MiniBatchResult]) -> Assembly:
    """Commit the staged blocks when every mini-batch with rows staged CSV of the same columns and the blocks
    fit in one blob; otherwise rewrite from the parts."""
    with_rows = [r for r in sorted(results, key=lambda r: r.index) if r.rows]
    columns = {tuple(r.columns) if r.columns else None for r in with_rows}
    blocks = 1 + sum(r.blocks for r in with_rows)
    if with_rows and len(columns) == 1 and None not in columns and blocks <= MAX_COMMITTED_BLOCKS:
        return Assembly(True, list(next(iter(columns))), with_rows, row_offsets(results))
    return Assembly(False, None, with_rows, row_offsets(results))


def assemble_predictions(storage: JobStorage, results: list[MiniBatchResult]) -> int:
    """Write the predictions file; the number of rows in it. Raises OutputAlreadyExists where a file
    appeared while the job ran."""
    check_together(results)
    assembly = plan_assembly(results)
    if assembly.commit_blocks:
        blocks, written = _commit_staged(storage, assembly)
    else:
        blocks, written = _rewrite_from_parts(storage, assembly)
    if not storage.commit_predictions(blocks):
        raise OutputAlreadyExists(f"The output file {storage.predictions_uri} appeared while the job ran; it "
                                  "was not overwritten.")
    return written


def header_line(columns: list[str]) -> bytes:
    """The predictions file's header as pyarrow writes one (every name quoted), written by the csv module: any
    pyarrow array made here would import pandas, a quarter of a second in the first fan-in of each worker."""
    line = io.StringIO()
    csv.writer(line, quoting=csv.QUOTE_ALL, lineterminator="\n").writerow(columns)
    return line.getvalue().encode()


def _commit_staged(storage: JobStorage, assembly: Assembly) -> tuple[list[str], int]:
    storage.stage_block(block_id(0, "header"), header_line(assembly.columns))
    blocks = [block_id(0, "header")]
    for result in assembly.with_rows:
        index = result.index
        if assembly.offsets.get(index):
            blocks += _stage_shifted(storage, index, assembly.offsets[index])
        elif result.rows_in is not None:
            continue  # in the block of the mini-batch before it that holds them (see together)
        elif result.together > 1:
            blocks.append(together_block_id(index, result.together))
        else:
            blocks += [rows_block_id(index, number) for number in range(result.blocks)]
    return blocks, sum(r.rows for r in assembly.with_rows)


def _stage_shifted(storage: JobStorage, index: int, offset: int) -> list[str]:
    """A later piece of a cut file: its rows staged again from its Parquet part with their index in the whole
    file, a row group at a time into blocks of about DEFAULT_ROWS_BLOCK_BYTES, so memory holds one block
    whatever the piece's size. The ids of the blocks staged, in order."""
    part = pq.ParquetFile(pa.BufferReader(storage.read_part(index)))
    staged: list[str] = []
    pending: list[bytes] = []
    pending_bytes = 0

    def stage() -> None:
        staged.append(block_id(index, f"w{len(staged):05d}"))
        storage.stage_block(staged[-1], b"".join(pending))
        pending.clear()

    for batch in part.iter_batches(DEFAULT_RESTAGE_BATCH_ROWS, use_threads=False):
        lines = pa.BufferOutputStream()
        pcsv.write_csv(_shifted(pa.Table.from_batches([batch]), offset), lines,
                       pcsv.WriteOptions(include_header=False))
        pending.append(lines.getvalue().to_pybytes())
        pending_bytes += len(pending[-1])
        if pending_bytes >= DEFAULT_ROWS_BLOCK_BYTES:
            stage()
            pending_bytes = 0
    if pending:
        stage()
    return staged


def _shifted(table: pa.Table, offset: int) -> pa.Table:
    if ROW_COLUMN not in table.column_names:
        return table
    rows = pc.add(table[ROW_COLUMN], offset).cast(table.schema.field(ROW_COLUMN).type)
    return table.set_column(table.column_names.index(ROW_COLUMN), ROW_COLUMN, rows)


def _rewrite_from_parts(storage: JobStorage, assembly: Assembly) -> tuple[list[str], int]:
    with tempfile.TemporaryDirectory(prefix="assemble-") as temp:
        parts = []
        for result in assembly.with_rows:
            path = Path(temp) / f"{result.index:08d}.parquet"
            storage.download_part(result.index, path)
            parts.append((result.index, path))
        schema = _schema([path for _, path in parts])
        written = 0
        csv_path = Path(temp) / "predictions.csv"
        with pcsv.CSVWriter(csv_path, schema) as writer:
            for index, path in parts:
                table = _conform(pq.read_table(path), schema)
                if index in assembly.offsets:
                    table = _shifted(table, assembly.offsets[index])
                writer.write_table(table)
                written += table.num_rows
        blocks = []
        with open(csv_path, "rb") as stream:
            while chunk := stream.read(DEFAULT_REWRITE_BLOCK_BYTES):
                blocks.append(block_id(len(blocks), "file"))
                storage.stage_block(blocks[-1], chunk)
    return blocks, written


def _schema(paths: list[Path]) -> pa.Schema:
    if not paths:
        return pa.schema([(FILE_NAME_COLUMN, pa.string()), (ROW_COLUMN, pa.int64()), (PREDICTION_COLUMN, pa.string())])
    return pa.unify_schemas([pq.read_schema(p).remove_metadata() for p in paths], promote_options="permissive")


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    columns = [table[f.name].cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
               for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)
