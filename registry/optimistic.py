"""Read-modify-write on ETag-guarded records: with the caller's If-Match a lost race is the caller's 412;
without it the server re-reads and merges again, backing off with jitter so racing writers spread out."""
from __future__ import annotations

import random
import time
from typing import Callable, TypeVar

from .errors import Conflict, PreconditionFailed

T = TypeVar("T")
MERGE_ATTEMPTS = 30
BACKOFF_SECONDS = 0.01
MAX_BACKOFF_SECONDS = 0.5


def check_if_match(etag: str, if_match: str | None, what: str) -> None:
    if if_match and if_match != etag:
        raise PreconditionFailed(f"{what} was changed by someone else (ETag mismatch); read it again and retry.",
                                 target="If-Match")


def update_with_retries(attempt: Callable[[], T], if_match: str | None, what: str) -> T:
    """Run attempt (read, change, replace with the read ETag) until no one else wrote in between."""
    for number in range(MERGE_ATTEMPTS):
        try:
            return attempt()
        except PreconditionFailed:
            if if_match:
                raise
        time.sleep(random.uniform(0, min(MAX_BACKOFF_SECONDS, BACKOFF_SECONDS * 2 ** number)))
    raise Conflict(f"{what} is being changed by many writers at once; retry.", target="name")
