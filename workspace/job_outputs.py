"""Assembling a job's predictions file from its mini-batches' parts, in input order, never over an existing file.

Each mini-batch stages its rows as uncommitted blocks of the predictions blob, cut while it scores (at most
its share of a blob's blocks), so when every part has the same columns the fan-in only stages a header and
commits the block list: no bytes are moved again, whatever the job's size. Otherwise (columns that differ
between parts, or more blocks than a blob holds) the file is rewritten from the Parquet parts, one part at a
time, so a worker's memory does not grow with the job. Either way the pieces of cut files get whole-file row
indexes. Staged blocks of a job that never commits expire with the storage account's uncommitted-block
clean-up (Azure: 7 days) and are never visible as a file."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
from azure.storage.blob import BlobBlock, BlobClient

from .errors import UserError

MAX_COMMITTED_BLOCKS = 50_000  # Azure Blob storage's limit per block blob
REWRITE_BLOCK_BYTES = 64 * 1024 * 1024


class OutputAlreadyExists(UserError):
    code = "OutputAlreadyExists"
    status = 409


def row_offsets(results: list[dict]) -> dict[int, int]:
    """For each mini-batch holding a piece of a cut file, the number of rows of that file before it."""
    seen: dict[str, int] = {}
    offsets: dict[int, int] = {}
    for result in sorted(results, key=lambda r: r["index"]):
        for item in result.get("items", []):
            if item.get("piece") is None:
                continue
            offsets[result["index"]] = seen.get(item["name"], 0)
            seen[item["name"]] = seen.get(item["name"], 0) + item["rows"]
    return offsets


def part_name(parts_prefix: str, index: int) -> str:
    """The blob of a mini-batch's Parquet part."""
    return f"{parts_prefix}{index:08d}.parquet"


def block_id(index: int, kind: str = "rows") -> str:
    """Block ids of one blob must all have the same length."""
    return f"{kind[:6]:-<6}-{index:08d}"


def needs_parquet_part(job: dict, items: list[dict]) -> bool:
    """Whether a mini-batch keeps its rows as Parquet too, for the fan-in to read back: a piece after a cut file's
    first (its row indexes are shifted), a scoring script's rows (their columns may differ between
    mini-batches), or a job with more mini-batches than a blob has blocks. The no-code scorers' columns are
    fixed by the model, so their mini-batches otherwise only stage their block."""
    return (bool(job.get("code_configuration")) or job["counts"]["mini_batches"] >= MAX_COMMITTED_BLOCKS
            or any(item.get("range") and item.get("piece") for item in items))


def predictions_blob(workspace, job: dict) -> BlobClient:
    output = job["output"]
    return workspace.datastores.container(output["datastore"]).get_blob_client(output["folder"] + output["file_name"])


def rows_block_id(index: int, number: int) -> str:
    """The id of block `number` of mini-batch `index`'s rows; block 0 keeps the id a mini-batch's rows had when
    they were always one block."""
    return block_id(index) if number == 0 else block_id(index, f"r{number:05d}")


def rows_blocks_per_mini_batch(job: dict) -> int:
    """A mini-batch's share of a blob's blocks, after the header: the most blocks its rows may be cut into."""
    return max(1, (MAX_COMMITTED_BLOCKS - 1) // max(1, job["counts"]["mini_batches"]))


def stage_rows(target: BlobClient, index: int, number: int, csv_rows: Path) -> None:
    """Stage one block of a mini-batch's rows in the predictions file; a retry re-stages the same blocks."""
    stage_block(target, rows_block_id(index, number), csv_rows.read_bytes())


def stage_block(target: BlobClient, block: str, data: bytes) -> None:
    """With its MD5 (transactional Content-MD5), so the service refuses a block damaged on the way."""
    target.stage_block(block, data, length=len(data), validate_content=True)


def assemble_predictions(workspace, job: dict, results: list[dict], container_name: str, parts_prefix: str) -> int:
    internal = workspace.storage.container(container_name)
    offsets = row_offsets(results)
    with_rows = [r for r in sorted(results, key=lambda r: r["index"]) if r.get("rows")]
    target = predictions_blob(workspace, job)
    columns = {tuple(r["columns"]) if r.get("columns") else None for r in with_rows}
    blocks = 1 + sum(r.get("blocks", 1) for r in with_rows)
    if with_rows and len(columns) == 1 and None not in columns and blocks <= MAX_COMMITTED_BLOCKS:
        return _commit_blocks(job, target, with_rows, list(next(iter(columns))), offsets, internal, parts_prefix)
    return _rewrite_from_parts(job, target, with_rows, offsets, internal, parts_prefix)


def _commit_blocks(job: dict, target: BlobClient, with_rows: list[dict], columns: list[str],
                   offsets: dict[int, int], internal, parts_prefix: str) -> int:
    header = pa.BufferOutputStream()
    pcsv.write_csv(pa.table({name: pa.array([], pa.string()) for name in columns}), header)
    stage_block(target, block_id(0, "header"), header.getvalue().to_pybytes())
    blocks = [BlobBlock(block_id(0, "header"))]
    for result in with_rows:
        index = result["index"]
        if offsets.get(index):
            part = internal.download_blob(part_name(parts_prefix, index)).readall()
            table = _shifted(pq.read_table(pa.BufferReader(part)), offsets[index])
            rows = pa.BufferOutputStream()
            pcsv.write_csv(table, rows, pcsv.WriteOptions(include_header=False))
            stage_block(target, block_id(index, "whole"), rows.getvalue().to_pybytes())
            blocks.append(BlobBlock(block_id(index, "whole")))
        else:
            blocks += [BlobBlock(rows_block_id(index, number)) for number in range(result.get("blocks", 1))]
    _commit(job, target, blocks)
    return sum(r["rows"] for r in with_rows)


def _shifted(table: pa.Table, offset: int) -> pa.Table:
    if "row" not in table.column_names:
        return table
    rows = pc.add(table["row"], offset).cast(table.schema.field("row").type)
    return table.set_column(table.column_names.index("row"), "row", rows)


def _appeared(job: dict) -> OutputAlreadyExists:
    return OutputAlreadyExists(f"The output file {job['output']['uri']} appeared while the job ran; it was not "
                               "overwritten.")


def _rewrite_from_parts(job: dict, target: BlobClient, with_rows: list[dict], offsets: dict[int, int], internal,
                        parts_prefix: str) -> int:
    with tempfile.TemporaryDirectory(prefix="assemble-") as temp:
        parts = []
        for result in with_rows:
            path = Path(temp) / f"{result['index']:08d}.parquet"
            with open(path, "wb") as sink:
                internal.download_blob(part_name(parts_prefix, result["index"])).readinto(sink)
            parts.append((result["index"], path))
        schema = _schema([path for _, path in parts])
        written = 0
        csv_path = Path(temp) / "predictions.csv"
        with pcsv.CSVWriter(csv_path, schema) as writer:
            for index, path in parts:
                table = _conform(pq.read_table(path), schema)
                if index in offsets:
                    table = _shifted(table, offsets[index])
                writer.write_table(table)
                written += table.num_rows
        blocks = []
        with open(csv_path, "rb") as stream:
            while chunk := stream.read(REWRITE_BLOCK_BYTES):
                blocks.append(BlobBlock(block_id(len(blocks), "file")))
                stage_block(target, blocks[-1].id, chunk)
        _commit(job, target, blocks)
    return written


def _commit(job: dict, target: BlobClient, blocks: list[BlobBlock]) -> None:
    """The file appears at once, and only if nothing is there yet (the mini-batches' uncommitted blocks go)."""
    try:
        target.commit_block_list(blocks, match_condition=MatchConditions.IfMissing)
    except (ResourceExistsError, ResourceModifiedError):
        raise _appeared(job) from None


def _schema(paths: list[Path]) -> pa.Schema:
    if not paths:
        return pa.schema([("file_name", pa.string()), ("row", pa.int64()), ("prediction", pa.string())])
    return pa.unify_schemas([pq.read_schema(p).remove_metadata() for p in paths], promote_options="permissive")


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    columns = [table[f.name].cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
               for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)
