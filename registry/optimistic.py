"""Read-modify-write on ETag-guarded records: with the caller's If-Match a lost race is the caller's 412;
without it the server re-reads and merges again, backing off with jitter so racing writers spread out."""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

from .errors import AlreadyExists, Conflict, NotFound, PreconditionFailed

T = TypeVar("T")
DEFAULT_MERGE_ATTEMPTS = 30  # racing writers of one record (a job's mini-batches at once) all get through
DEFAULT_BACKOFF_SECONDS = 0.01  # the first pause after a lost race, doubled each time
DEFAULT_MAX_BACKOFF_SECONDS = 0.5  # ... up to this, so a hot record costs a writer seconds, not minutes


def check_if_match(etag: str, if_match: str | None, what: str) -> None:
    if if_match and if_match not in ("*", etag):
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


@dataclass(frozen=True)
class Preconditions:
    """A request's conditional headers, with one meaning on every PUT, PATCH and DELETE (RFC 9110):
    `If-Match: <etag>` (or `*`) acts only on the resource as it is, so a missing resource fails it too (412);
    `If-None-Match: *` only creates (409 `ResourceAlreadyExists` when the resource is there)."""

    if_match: str | None = None
    create_only: bool = False

    def check_existing(self, etag: str, what: str) -> None:
        if self.create_only:
            raise AlreadyExists(f"{what} already exists (If-None-Match: * only creates).", target="name")
        check_if_match(etag, self.if_match, what)

    def check_missing(self, what: str) -> None:
        if self.if_match:
            raise PreconditionFailed(f"{what} does not exist, so it cannot match If-Match.", target="If-Match")

    def on_existing(self, action: Callable[[], T]) -> T:
        """Run an action on a resource that must exist: its NotFound is a failed If-Match when one was sent."""
        try:
            return action()
        except NotFound as missing:
            if self.if_match:
                raise PreconditionFailed(f"{missing.message} It cannot match If-Match.", target="If-Match") from None
            raise

    def put(self, create: Callable[[], T], replace: Callable[[], T]) -> tuple[T, bool]:
        """Create or replace as the headers allow; True when created."""
        if self.if_match:
            return self.on_existing(replace), False
        try:
            return create(), True
        except AlreadyExists:
            if self.create_only:
                raise
            return replace(), False
