"""Input files handed over while they download: the downloader moves each finished file into place (or leaves
a note saying why it could not), so the scoring process starts on the first file instead of after the last."""
from __future__ import annotations

import time
from pathlib import Path

from .errors import ScoringUserError

DEFAULT_POLL_SECONDS = 0.005  # a file that arrived is picked up within this; a check costs a stat()
PARTIAL_SUFFIX = ".downloading"
UNAVAILABLE_SUFFIX = ".unavailable"


def partial_path(path: Path) -> Path:
    """Where the downloader writes the file until it is complete."""
    return path.with_name(path.name + PARTIAL_SUFFIX)


def arrived(path: Path) -> None:
    partial_path(path).replace(path)


def unavailable(path: Path, reason: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_name(path.name + UNAVAILABLE_SUFFIX).write_text(reason)


def wait_for(path: Path) -> None:
    """Returns once the file is complete; raises with the downloader's reason if it never will be. The
    mini-batch's timeout bounds the wait."""
    note = path.with_name(path.name + UNAVAILABLE_SUFFIX)
    while not path.exists():
        if note.exists():
            raise ScoringUserError(note.read_text())
        time.sleep(DEFAULT_POLL_SECONDS)
