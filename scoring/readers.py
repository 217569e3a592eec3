"""One reader per input format: CSV, Parquet and JSON lines into an Arrow table (the ONNX scorer feeds its
columns straight to the graph) or a DataFrame (MLflow's pyfunc takes pandas), with the model signature's
column types so a float32 signature accepts CSV's float64 numbers. CSV goes through pyarrow's reader on the
scoring process's own share of the cores (one thread when mini-batches run side by side). `read_batches`
reads a file a piece at a time, with the types the model wants, so a scorer that takes rows in any grouping
(ONNX) holds one piece in memory whatever the file's size."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Callable, Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from .errors import ScoringUserError
from .formats import table_format

DEFAULT_READ_BLOCK_BYTES = 1024 * 1024  # of a file's text parsed at once by read_batches: as fast per row as
#   the whole file at once (measured), and memory holds one piece, not the file
FAST_NULL_VALUES = [""]  # missing values in a first reading of a CSV; any other spelling reads it again
DEFAULT_PARQUET_BATCH_ROWS = 64 * 1024  # rows of a Parquet file read at once by read_batches
ARROW_TYPES = {"float64": pa.float64(), "float32": pa.float32(), "int64": pa.int64(), "int32": pa.int32(),
               "bool": pa.bool_(), "string": pa.string()}


def read_batches(path: Path, name: str, types: Callable[[list[str]], dict[str, pa.DataType]],
                 threads: int = 1) -> Iterator[pa.Table]:
    """The file as tables of consecutive rows, a piece at a time. types(column names) gives the columns to
    read and their types (a CSV's are then parsed straight into them, so no column type is guessed from the
    first piece alone); a Parquet or JSON-lines file keeps its own and is cast."""
    kind = _format(name)
    try:
        if kind in ("csv", "tsv"):
            delimiter = "," if kind == "csv" else "\t"
            wanted = types(_header(path, delimiter))
            yield from _or_empty(_csv_batches(path, delimiter, wanted, threads), pa.schema(list(wanted.items())))
            return
        if kind == "parquet":
            parquet = pq.ParquetFile(path)
            wanted = types(parquet.schema_arrow.names)
            schema = pa.schema([(c, wanted[c]) for c in wanted])
            yield from _or_empty((pa.Table.from_batches([batch]).cast(schema) for batch in
                                  parquet.iter_batches(DEFAULT_PARQUET_BATCH_ROWS, columns=list(wanted))), schema)
            return
        table = pa.Table.from_pandas(pd.read_json(path, lines=True), preserve_index=False)
        wanted = types(table.column_names)
        yield table.select(list(wanted)).cast(pa.schema([(c, wanted[c]) for c in wanted]))
    except (ValueError, TypeError, OSError, UnicodeDecodeError, KeyError, pa.ArrowInvalid) as error:
        if _not_of_its_type(error):
            raise ValueNotOfItsType(f"'{name}' holds a value not of the type its column takes: {error}") from None
        raise ScoringUserError(f"'{name}' cannot be read as {kind}: {error}") from None


def _csv_batches(path: Path, delimiter: str, wanted: dict[str, pa.DataType], threads: int) -> Iterator[pa.Table]:
    """The file's rows in the types wanted, read first taking only an empty field as missing (a number column
    parses a fifth faster when no value is looked up among the spellings of missing); a value that does not
    parse then reads the file again with every spelling pyarrow knows ("NA", "null", "#N/A", ...), from the
    row after the last one given. Both read the same rows in the same pieces, so none is given twice."""
    given = 0
    try:
        for batch in _open_csv(path, delimiter, wanted, threads, FAST_NULL_VALUES):
            yield pa.Table.from_batches([batch])
            given += batch.num_rows
        return
    except pa.ArrowInvalid as error:
        if not _not_of_its_type(error):
            raise
    for batch in _open_csv(path, delimiter, wanted, threads, None):
        if given >= batch.num_rows:
            given -= batch.num_rows
            continue
        yield pa.Table.from_batches([batch.slice(given)])
        given = 0


def _not_of_its_type(error: Exception) -> bool:
    """pyarrow's error for a value its column's type cannot take."""
    return isinstance(error, pa.ArrowInvalid) and "conversion error" in str(error).lower()


def _open_csv(path: Path, delimiter: str, wanted: dict[str, pa.DataType], threads: int,
              null_values: list[str] | None) -> pcsv.CSVStreamingReader:
    return pcsv.open_csv(path, read_options=pcsv.ReadOptions(use_threads=threads > 1,
                                                             block_size=DEFAULT_READ_BLOCK_BYTES),
                         parse_options=pcsv.ParseOptions(delimiter=delimiter),
                         convert_options=_convert(wanted, null_values, include_columns=list(wanted)))


def _convert(types: dict[str, pa.DataType], null_values: list[str] | None, **options) -> pcsv.ConvertOptions:
    """Conversion to the types given; null_values None: every spelling of missing pyarrow knows."""
    convert = pcsv.ConvertOptions(column_types=types, **options)
    if null_values is not None:
        convert.null_values = null_values
    return convert


def _or_empty(tables: Iterator[pa.Table], schema: pa.Schema) -> Iterator[pa.Table]:
    """The tables, or one empty table of the schema where there are none: a file of a header and no rows
    scores to no rows, as it did when files were read whole."""
    found = False
    for table in tables:
        found = True
        yield table
    if not found:
        yield schema.empty_table()


class ValueNotOfItsType(ScoringUserError):
    """A value that cannot be read as the type the model takes for its column (text in a number column)."""


def _header(path: Path, delimiter: str) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig") as stream:
        names = next(csv.reader(stream, delimiter=delimiter), None)
    if not names:
        raise ValueError("the file is empty: it has no header line")
    return names


def read_table(path: Path, name: str, dtypes: dict[str, str] | None = None, threads: int = 1) -> pd.DataFrame:
    kind = _format(name)
    try:
        if kind in ("csv", "tsv"):
            frame = _read_delimited(path, "," if kind == "csv" else "\t", dtypes or {}, threads).to_pandas()
        elif kind == "parquet":
            frame = pq.read_table(path).to_pandas()
        else:
            frame = pd.read_json(path, lines=True, dtype=dtypes or None)
    except (ValueError, OSError, UnicodeDecodeError) as error:
        raise ScoringUserError(f"'{name}' cannot be read as {kind}: {error}") from None
    if dtypes:
        present = {c: t for c, t in dtypes.items() if c in frame.columns}
        try:
            frame = frame.astype(present)
        except (ValueError, TypeError) as error:
            raise ScoringUserError(f"'{name}' does not match the model's column types: {error}") from None
    return frame


def _format(name: str) -> str:
    kind = table_format(name)
    if kind is None:
        raise ScoringUserError(f"File type '{Path(name).suffix or name}' of '{name}' is not supported: use CSV, "
                               "Parquet or JSON lines, or a scoring script.")
    return kind


def _read_delimited(path: Path, delimiter: str, dtypes: dict[str, str], threads: int) -> pa.Table:
    """The whole file; where every column has a type, read first taking only an empty field as missing, as
    _csv_batches does (a column whose type is guessed would be guessed otherwise, so those files are read
    with every spelling of missing at once)."""
    types = {column: ARROW_TYPES[kind] for column, kind in dtypes.items() if kind in ARROW_TYPES}

    def read(null_values: list[str] | None) -> pa.Table:
        return pcsv.read_csv(path, read_options=pcsv.ReadOptions(use_threads=threads > 1),
                             parse_options=pcsv.ParseOptions(delimiter=delimiter),
                             convert_options=_convert(types, null_values))

    if types and set(_header(path, delimiter)) <= set(types):
        try:
            return read(FAST_NULL_VALUES)
        except pa.ArrowInvalid as error:
            if not _not_of_its_type(error):
                raise
    return read(None)
