"""Planning a job's mini-batches from its input files.

The rule: files are taken in name order and grouped `mini_batch_size` files to a mini-batch. For the no-code
scorers (MLflow, ONNX), a CSV, TSV or JSON-lines file larger than `split_bytes` is cut at line boundaries into
pieces of about `split_bytes`, and each piece is a mini-batch of its own, so one big file still scores in
parallel; each piece keeps the file's header line and its rows keep their index within the whole file.
Parquet files and the files given to a scoring script are never cut.

The orchestration scores the mini-batches in slices of `slice_size` (sub-orchestrations, `slices`); each
scoring activity takes a run of consecutive mini-batches and scores them one after another (see
`mini_batches_per_activity`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

from scoring.formats import has_header, is_line_format

from .inputs import InputFile
from .settings import DEFAULT_MAX_MINI_BATCHES_PER_ACTIVITY


@dataclass(frozen=True)
class PlannedItem:
    """One input of a mini-batch: a whole file, or one piece (a byte range) of a cut file."""

    name: str
    uri: str
    size: int
    range: tuple[int, int] | None = None  # byte range of a piece
    header_bytes: int = 0  # length of the header line a piece needs in front
    piece: int = 0

    @property
    def is_piece(self) -> bool:
        return self.range is not None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "PlannedItem":
        return cls(**{**data, "range": tuple(data["range"]) if data["range"] is not None else None})


Plan = list[list[PlannedItem]]


def plan_to_json(plan: Plan) -> list[list[dict]]:
    return [[item.to_json() for item in batch] for batch in plan]


def plan_from_json(data: list[list[dict]]) -> Plan:
    return [[PlannedItem.from_json(item) for item in batch] for batch in data]


def slices(total: int, size: int) -> list[tuple[int, int]]:
    """The ranges of mini-batches that the job's sub-orchestrations score, in order."""
    return [(start, min(start + size, total)) for start in range(0, total, size)]


def mini_batches_per_activity(remaining: int, window: int,
                              most: int = DEFAULT_MAX_MINI_BATCHES_PER_ACTIVITY) -> int:
    """Guided self-scheduling: an activity takes its slot's share of what is left, so the first activities
    run several mini-batches back to back, sparing the orchestration's round trips between them, and the
    last ones take one each, so the slots finish together."""
    return max(1, min(most, -(-remaining // max(1, window))))


def is_splittable(file: InputFile, split_bytes: int) -> bool:
    return file.size > split_bytes and is_line_format(file.name)


def plan_mini_batches(files: list[InputFile], mini_batch_size: int, split_bytes: int, can_split: bool,
                      line_start: Callable[[InputFile, int], int]) -> Plan:
    """line_start(file, offset) gives the offset just after the next newline; used only for cut files."""
    batches: Plan = []
    pending: list[PlannedItem] = []
    for file in files:
        if can_split and is_splittable(file, split_bytes):
            batches.extend([piece] for piece in _pieces(file, split_bytes, line_start))
            continue
        pending.append(PlannedItem(file.name, file.uri, file.size))
        if len(pending) == mini_batch_size:
            batches.append(pending)
            pending = []
    if pending:
        batches.append(pending)
    return batches


def _pieces(file: InputFile, split_bytes: int, line_start: Callable[[InputFile, int], int]) -> list[PlannedItem]:
    header = line_start(file, 0) if has_header(file.name) else 0
    cuts = [header]
    while cuts[-1] < file.size:
        nxt = line_start(file, max(cuts[-1] + split_bytes - 1, cuts[-1]))
        if nxt <= cuts[-1]:
            nxt = file.size
        cuts.append(nxt)
    return [PlannedItem(file.name, file.uri, file.size, (start, end), header, number)
            for number, (start, end) in enumerate(zip(cuts, cuts[1:])) if end > start]
