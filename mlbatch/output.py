"""Printing results: JSON (the default, like `az ml`) or a table with each resource kind's useful columns."""
from __future__ import annotations

import json
from typing import Any, Sequence

FORMATS = ("json", "table")


def pick(item: dict, column: str) -> str:
    value: Any = item
    for key in column.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def render(result: Any, output: str, columns: Sequence[str]) -> str:
    if output == "json":
        return json.dumps(result, indent=2)
    rows = result if isinstance(result, list) else [result]
    header = [c.split(".")[-1].replace("_", " ").title() for c in columns]
    cells = [[pick(row, c) for c in columns] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)
