"""Read-modify-write on ETag-guarded records: with the caller's If-Match a lost race is the caller's 412;
without it the server re-reads and merges again, backing off with jitter so racing writers spread out."""
from __future__ import annotations

import random
import time
from typing import Callable, TypeVar

from .errors import Conflict, PreconditionFailed

T = TypeVar("T")
DEFAULT_MERGE_ATTEMPTS = 30  # racing writers of one record (a job's mini-batches at once) all get through
DEFAULT_BACKOFF_SECONDS = 0.01  # the first pause after a lost race, doubled each time
DEFAULT_MAX_BACKOFF_SECONDS = 0.5  # ... up to this, so a hot record costs a writer seconds, not minutes


def check_if_match(etag: str, if_match: str | None, what: str) -> None:
    if if_match and if_match != etag:
        raise PreconditionFailed(f"{what} was changed by someone else (ETag mismatch); read it again and retry.",
                                 target="If-Match")


def update_with_retries(attempt: Callable[[], T], if_match: str | None, what: str) -> T:
    """Run attempt (read, change, replace with the read ETag) until no one else wrote in between."""
    for number in range(DEFAULT_MERGE_ATTEMPTS):
        try:
            return attempt()
        except PreconditionFailed:
            if if_match:
                raise
        time.sleep(random.uniform(0, min(DEFAULT_MAX_BACKOFF_SECONDS, DEFAULT_BACKOFF_SECONDS * 2 ** number)))
    raise Conflict(f"{what} is being changed by many writers at once; retry.", target="name")
