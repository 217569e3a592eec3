"""Assembling a job's predictions file from its mini-batches' parts: in input order, one part at a time (so a
worker's memory does not grow with the job), row indexes made whole-file for the pieces of cut files, and never
over an existing file."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
from azure.core.exceptions import ResourceExistsError

from .errors import UserError


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


def assemble_predictions(workspace, job: dict, results: list[dict], container_name: str, parts_prefix: str) -> int:
    internal = workspace.storage.container(container_name)
    offsets = row_offsets(results)
    with_rows = [r for r in sorted(results, key=lambda r: r["index"]) if r.get("rows")]
    output = job["output"]
    target = workspace.datastores.container(output["datastore"]).get_blob_client(output["folder"] + output["file_name"])
    with tempfile.TemporaryDirectory(prefix="assemble-") as temp:
        parts = []
        for result in with_rows:
            path = Path(temp) / f"{result['index']:08d}.parquet"
            with open(path, "wb") as sink:
                internal.download_blob(f"{parts_prefix}{result['index']:08d}.parquet").readinto(sink)
            parts.append((result["index"], path))
        schema = _schema([path for _, path in parts])
        written = 0
        csv_path = Path(temp) / "predictions.csv"
        with pcsv.CSVWriter(csv_path, schema) as writer:
            for index, path in parts:
                table = _conform(pq.read_table(path), schema)
                if index in offsets and "row" in table.column_names:
                    rows = pc.add(table["row"], offsets[index]).cast(table.schema.field("row").type)
                    table = table.set_column(table.column_names.index("row"), "row", rows)
                writer.write_table(table)
                written += table.num_rows
        try:
            with open(csv_path, "rb") as stream:
                target.upload_blob(stream, overwrite=False)
        except ResourceExistsError:
            raise OutputAlreadyExists(f"The output file {output['uri']} appeared while the job ran; it was not "
                                      "overwritten.") from None
    return written


def _schema(paths: list[Path]) -> pa.Schema:
    if not paths:
        return pa.schema([("file_name", pa.string()), ("row", pa.int64()), ("prediction", pa.string())])
    return pa.unify_schemas([pq.read_schema(p).remove_metadata() for p in paths], promote_options="permissive")


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    columns = [table[f.name].cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
               for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)
