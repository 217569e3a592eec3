"""The input formats the no-code scorers read, by file suffix: the one list that the readers, the planner
(which formats may be cut at line boundaries) and the inboxes (which dropped files are scored) share."""
from __future__ import annotations

from pathlib import PurePath

TABULAR_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".jsonl": "jsonl", ".json": "jsonl"}
LINE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json")  # one row a line: a big file may be cut between lines
HEADED_SUFFIXES = (".csv", ".tsv")  # each cut piece needs the file's header line in front


def table_format(name: str) -> str | None:
    """The reader for a file ("csv", "tsv", "parquet", "jsonl"), or None for a file no scorer reads."""
    return TABULAR_SUFFIXES.get(PurePath(name).suffix.lower())


def is_scorable(name: str) -> bool:
    return table_format(name) is not None


def is_line_format(name: str) -> bool:
    return name.lower().endswith(LINE_SUFFIXES)


def has_header(name: str) -> bool:
    return name.lower().endswith(HEADED_SUFFIXES)
