"""One reader per input format: CSV, Parquet and JSON lines into a DataFrame, with the model signature's
column types so a float32 signature accepts CSV's float64 numbers."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from .errors import ScoringUserError

TABULAR_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".jsonl": "jsonl", ".json": "jsonl"}


def table_format(name: str) -> str | None:
    return TABULAR_SUFFIXES.get(Path(name).suffix.lower())


def read_table(path: Path, name: str, dtypes: dict[str, str] | None = None) -> pd.DataFrame:
    kind = table_format(name)
    if kind is None:
        raise ScoringUserError(f"File type '{Path(name).suffix or name}' of '{name}' is not supported: use CSV, "
                               "Parquet or JSON lines, or a scoring script.")
    try:
        if kind in ("csv", "tsv"):
            frame = pd.read_csv(path, sep="," if kind == "csv" else "\t", dtype=dtypes or None, engine="pyarrow")
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
