"""What crosses the boundary between a worker and its scoring process, defined once for both sides: the
request for one mini-batch, the notices of blocks of rows ready on the way, and the answer. One JSON line
each. The prediction rows' own column names live here too.

Standard library only: the scoring process may run in a model's own environment, which has none of the
app's packages."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Literal

FILE_NAME_COLUMN = "file_name"  # the input file a prediction row comes from, as the user named it
ROW_COLUMN = "row"  # the row's index within that whole file (a cut file's pieces continue its count)
PREDICTION_COLUMN = "prediction"  # a model's single output; several outputs are prediction_<n> or by name
OUTPUT_COLUMNS = (FILE_NAME_COLUMN, ROW_COLUMN, PREDICTION_COLUMN)

ScorerKind = Literal["mlflow", "onnx", "custom"]


@dataclass(frozen=True)
class ScorerSpec:
    """What to load: the model's folder (the registered folder, or the one holding the registered file) and,
    for a custom script, the code folder and entry script. azureml_model_dir is what AZUREML_MODEL_DIR names
    (`.../azureml-models/<name>/<version>`, the registered file or folder inside it by its own name); None:
    the model's folder itself."""

    kind: ScorerKind
    model_dir: str
    azureml_model_dir: str | None = None
    onnx_file: str | None = None
    code_dir: str | None = None
    scoring_script: str | None = None
    threads: int = 1
    environment: dict[str, str] = field(default_factory=dict)
    python: str | None = None  # the deployment's environment's interpreter; None: the app's own
    packages: tuple[str, ...] = ()  # whose installed versions the scoring process reports when it loads


@dataclass(frozen=True)
class ScoringItem:
    path: str  # the local file
    name: str  # the file's name as the user knows it (relative to the input)


@dataclass(frozen=True)
class ScoringRequest:
    """One mini-batch for the scoring process. part_path None means summary_only: no prediction rows kept."""

    key: str  # the loaded model's identity: a process keeps its model while requests share the key
    scorer: ScorerSpec
    items: list[ScoringItem]
    part_path: str | None
    keep_parquet: bool
    max_blocks: int
    block_bytes: int
    summary_dir: str
    logging_level: str

    def to_line(self) -> bytes:
        return (json.dumps(asdict(self)) + "\n").encode()

    @classmethod
    def from_line(cls, line: str | bytes) -> "ScoringRequest":
        data = json.loads(line)
        scorer = ScorerSpec(**{**data["scorer"], "packages": tuple(data["scorer"]["packages"])})
        return cls(**{**data, "scorer": scorer,
                      "items": [ScoringItem(**item) for item in data["items"]]})


@dataclass(frozen=True)
class BlockReady:
    """Sent before the answer: a block of the mini-batch's prediction rows is ready for the caller to stage."""

    number: int
    path: str

    def to_line(self) -> str:
        return json.dumps({"block": asdict(self)}) + "\n"


@dataclass
class FileFailure:
    name: str
    error: str
    trace: str = ""


@dataclass
class Outcome:
    """What scoring a mini-batch gave: rows per item (in the request's order) and the files that failed."""

    rows: int = 0
    succeeded: list[str] = field(default_factory=list)
    failed: list[FileFailure] = field(default_factory=list)
    rows_per_item: list[int] = field(default_factory=list)
    columns: list[str] | None = None  # of the prediction rows handed over as CSV blocks
    blocks: int = 0  # CSV blocks handed over

    @classmethod
    def from_dict(cls, data: dict) -> "Outcome":
        return cls(**{**data, "failed": [FileFailure(**failure) for failure in data["failed"]]})


@dataclass
class ScoringAnswer:
    """The scoring process's answer to one request, or the caller's own word when the process timed out, was
    stopped by its caller, or died (then ok is False and error says which)."""

    ok: bool
    outcome: Outcome | None = None
    error: str = ""
    trace: str = ""
    log: str = ""
    timed_out: bool = False
    stopped: bool = False
    load_failed: bool = False  # the model or the scoring script could not be loaded (init() raised)

    def to_line(self) -> str:
        return json.dumps(asdict(self)) + "\n"

    @classmethod
    def from_message(cls, data: dict) -> "ScoringAnswer":
        outcome = Outcome.from_dict(data["outcome"]) if data["outcome"] is not None else None
        return cls(**{**data, "outcome": outcome})


def parse_message(line: bytes) -> BlockReady | ScoringAnswer:
    """One line from the scoring process: a block notice or the answer."""
    data = json.loads(line)
    if "block" in data:
        return BlockReady(**data["block"])
    return ScoringAnswer.from_message(data)
