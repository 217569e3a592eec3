"""Printing results: JSON (the default, like `az ml`), a table of each resource kind's useful columns, or tsv
for shell variables; `--query` (JMESPath, as in `az`) picks part of the result first. On a terminal, tables
fit its width and a command may print a short summary instead of JSON; in a pipe the text is plain and never
wrapped, so scripts can parse it."""
from __future__ import annotations

import json
import sys
from typing import Any, Callable, Sequence

import jmespath
from jmespath.exceptions import JMESPathError
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .client import UsageError

FORMATS = ("json", "table", "tsv")
PIPE_WIDTH = 100_000  # what a pipe gets: lines are never wrapped


def console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    terminal = stream.isatty()
    return Console(file=stream, force_terminal=terminal, force_interactive=terminal,
                   width=None if terminal else PIPE_WIDTH, highlight=False, soft_wrap=not terminal)


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def pick(item: dict, column: str) -> str:
    value: Any = item
    for key in column.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return text(value)


def labels(columns: Sequence[str]) -> list[str]:
    """A column is named after its field, with the field's parents where two fields share a name (Type and
    Credentials Type)."""
    last = [column.split(".")[-1] for column in columns]
    return [(column if last.count(name) > 1 else name).replace(".", " ").replace("_", " ").title()
            for column, name in zip(columns, last)]


def table(result: Any, columns: Sequence[str], out: Console) -> None:
    grid = Table(box=box.SIMPLE_HEAD if out.is_terminal else None, show_edge=False, pad_edge=False,
                 header_style="bold" if out.is_terminal else "")
    for label in labels(columns):
        grid.add_column(label, overflow="fold")
    for row in result if isinstance(result, list) else [result]:
        grid.add_row(*(Text(pick(row, column)) for column in columns))
    with out.capture() as captured:
        out.print(grid)
    print("\n".join(line.rstrip() for line in captured.get().splitlines()))


def tsv(result: Any) -> str:
    rows = result if isinstance(result, list) else [result]
    return "\n".join("\t".join(text(value) for value in (row.values() if isinstance(row, dict) else [row]))
                     for row in rows)


def emit(result: Any, output: str | None, columns: Sequence[str], query: str | None = None,
         summary: Callable[[Any, Console], None] | None = None) -> None:
    """Print a command's result; with no --output, a command's summary on a terminal and JSON elsewhere."""
    if query:
        try:
            result = jmespath.search(query, result)
        except JMESPathError as error:
            raise UsageError(f"--query: {error}") from None
    out = console()
    if output == "table":
        table(result, columns, out)
    elif output == "tsv":
        print(tsv(result))
    elif output is None and summary and not query and out.is_terminal:
        summary(result, out)
    else:
        print(json.dumps(result, indent=2))
