"""One reader per input format: CSV, Parquet and JSON lines into an Arrow table (the ONNX scorer feeds its
columns straight to the graph) or a DataFrame (MLflow's pyfunc takes pandas), with the model signature's
column types so a float32 signature accepts CSV's float64 numbers. CSV goes through pyarrow's reader on the
scoring process's own share of the cores (one thread when mini-batches run side by side)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from .errors import ScoringUserError
from .formats import table_format

ARROW_TYPES = {"float64": pa.float64(), "float32": pa.float32(), "int64": pa.int64(), "int32": pa.int32(),
               "bool": pa.bool_(), "string": pa.string()}


def read_arrow(path: Path, name: str, threads: int = 1) -> pa.Table:
    """The file as an Arrow table, its columns typed as the file says."""
    kind = _format(name)
    try:
        if kind in ("csv", "tsv"):
            return _read_delimited(path, "," if kind == "csv" else "\t", {}, threads)
        if kind == "parquet":
            return pq.read_table(path)
        return pa.Table.from_pandas(pd.read_json(path, lines=True), preserve_index=False)
    except (ValueError, TypeError, OSError, UnicodeDecodeError, pa.ArrowInvalid) as error:
        raise ScoringUserError(f"'{name}' cannot be read as {kind}: {error}") from None


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
    types = {column: ARROW_TYPES[kind] for column, kind in dtypes.items() if kind in ARROW_TYPES}
    return pcsv.read_csv(path, read_options=pcsv.ReadOptions(use_threads=threads > 1),
                         parse_options=pcsv.ParseOptions(delimiter=delimiter),
                         convert_options=pcsv.ConvertOptions(column_types=types))
