"""Blob-drop scoring: files landing in an endpoint's inbox become jobs on its default deployment.

Each arrival (a blob's name and ETag) is recorded once, in `InboxArrivals`, so a blob is scored once across
restarts and re-deliveries. Files that land in a burst wait until `debounce_seconds` pass without a new one;
then they are claimed for one job, whose name is fixed before it is submitted, so a crash in between submits
the same job again rather than a second one. Unsupported files and files in a disabled inbox are skipped with a
log line."""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass

from scoring.formats import is_scorable

from . import defaults as d
from .clock import now_iso
from .datastores import DatastoreService
from .endpoints import EndpointService
from .errors import AlreadyExists, NotFound, PreconditionFailed
from .refs import DatastorePath
from .resources import InboxSettings
from .schedules import iso, parse_time
from .storage import Record, WorkspaceStorage, blob_properties

log = logging.getLogger("batch_endpoints.inbox")
PENDING, CLAIMED, SUBMITTED, REJECTED, SKIPPED = "pending", "claimed", "submitted", "rejected", "skipped"


@dataclass(frozen=True)
class Inbox:
    endpoint: str
    settings: InboxSettings

    @property
    def prefix(self) -> str:
        return self.settings.path or f"{d.DEFAULT_INBOX_PREFIX}{self.endpoint}/"


def plain_etag(etag: str) -> str:
    """Listings and property reads quote ETags differently."""
    return etag.strip('"')


def arrival_key(datastore: str, blob: str, etag: str) -> str:
    return hashlib.sha256(f"{datastore}/{blob}@{etag}".encode()).hexdigest()[:40]


class InboxService:
    def __init__(self, storage: WorkspaceStorage, datastores: DatastoreService, endpoints: EndpointService):
        self.arrivals = storage.table("InboxArrivals")
        self.datastores = datastores
        self.endpoints = endpoints

    def inboxes(self, include_disabled: bool = False) -> list[Inbox]:
        found = []
        for record in self.endpoints.list_endpoints():
            raw = record.body.get("inbox")
            if raw:
                settings = InboxSettings.model_validate(raw)
                if settings.enabled or include_disabled:
                    found.append(Inbox(record.body["name"], settings))
        return found

    def record_arrival(self, datastore: str, blob: str, etag: str, size: int) -> str | None:
        """Record a new file; the endpoint whose inbox took it, or None if none did. A skipped file (disabled
        inbox, unsupported type) is recorded as skipped, with one log line, and left where it is."""
        inbox = next((i for i in self.inboxes(include_disabled=True)
                      if i.settings.datastore == datastore and blob.startswith(i.prefix)), None)
        if inbox is None:
            return None
        etag = plain_etag(etag)
        reason = None
        if not inbox.settings.enabled:
            reason = "the inbox is disabled"
        elif not is_scorable(blob):
            reason = "unsupported file type"
        body = {"endpoint": inbox.endpoint, "datastore": datastore, "blob": blob, "etag": etag, "size": size,
                "name": blob[len(inbox.prefix):], "arrived_at": now_iso(), "status": SKIPPED if reason else PENDING,
                "job": None, "error": reason}
        try:
            self.arrivals.create(inbox.endpoint, arrival_key(datastore, blob, etag), body, "Arrival", blob)
        except AlreadyExists:
            return inbox.endpoint  # seen before: recorded once
        if reason:
            log.info("inbox of endpoint %s: skipped %s (%s)", inbox.endpoint, blob, reason)
            return None
        log.info("inbox of endpoint %s: received %s", inbox.endpoint, blob)
        return inbox.endpoint

    def record_drop(self, datastore: str, blob: str) -> str | None:
        """A file the blob trigger saw: its ETag and size are read, then it is recorded as any arrival."""
        properties = blob_properties(self.datastores.container(datastore), blob)
        if properties is None:
            return None  # deleted again before it was read
        return self.record_arrival(datastore, blob, properties.etag, properties.size)

    def poll(self) -> int:
        """List every inbox and record the files not seen yet: the blob trigger's safety net, and the only way
        in for inboxes it does not watch (outside `inbox/` of the default datastore)."""
        recorded = 0
        for inbox in self.inboxes(include_disabled=True):
            known = {(r.body["blob"], r.body["etag"]) for r in self.arrivals.list(inbox.endpoint)}
            try:
                container = self.datastores.container(inbox.settings.datastore)
                for blob in container.list_blobs(name_starts_with=inbox.prefix):
                    if (blob.name, plain_etag(blob.etag)) not in known and \
                            self.record_arrival(inbox.settings.datastore, blob.name, blob.etag, blob.size):
                        recorded += 1
            except Exception:  # one unreachable datastore must not stop the other inboxes
                log.exception("inbox of endpoint %s: cannot list datastore %s", inbox.endpoint,
                              inbox.settings.datastore)
        return recorded

    def due_bursts(self, now: dt.datetime) -> list[tuple[Inbox, list[Record]]]:
        """Per inbox, its waiting arrivals once the newest is debounce_seconds old; and claimed ones again."""
        bursts = []
        for inbox in self.inboxes():
            waiting = [r for r in self.arrivals.list(inbox.endpoint) if r.body["status"] in (PENDING, CLAIMED)]
            if not waiting:
                continue
            claimed = [r for r in waiting if r.body["status"] == CLAIMED]
            if claimed:
                job = claimed[0].body["job"]
                bursts.append((inbox, [r for r in claimed if r.body["job"] == job]))
                continue
            newest = max(parse_time(r.body["arrived_at"]) for r in waiting)
            if (now - newest).total_seconds() >= inbox.settings.debounce_seconds:
                bursts.append((inbox, sorted(waiting, key=lambda r: r.body["blob"])))
        return bursts

    def claim(self, inbox: Inbox, arrivals: list[Record], now: dt.datetime) -> tuple[str, list[dict]]:
        """Fix the burst's job name on each of its arrivals before the job is submitted."""
        existing = {r.body["job"] for r in arrivals if r.body["status"] == CLAIMED}
        digest = hashlib.sha256("\n".join(sorted(r.body["blob"] for r in arrivals)).encode()).hexdigest()[:8]
        job = existing.pop() if existing else f"{inbox.endpoint}-inbox-{now:%Y%m%dT%H%M%S}-{digest}"
        taken = []
        for record in arrivals:
            body = record.body
            if body["status"] == PENDING:
                try:
                    self.arrivals.replace(inbox.endpoint, arrival_key(body["datastore"], body["blob"], body["etag"]),
                                          dict(body, status=CLAIMED, job=job, claimed_at=iso(now)), record.etag,
                                          "Arrival", body["blob"])
                except (PreconditionFailed, NotFound):
                    continue  # taken by another runner
            taken.append({"name": body["name"], "size": body["size"],
                          "uri": str(DatastorePath(body["datastore"], body["blob"]))})
        return job, taken

    def settle(self, endpoint: str, job: str, error: str | None = None) -> None:
        """After the burst's job was submitted (or refused, with the reason kept on each arrival)."""
        for record in self.arrivals.list(endpoint):
            body = record.body
            if body["status"] == CLAIMED and body["job"] == job:
                settled = dict(body, status=REJECTED if error else SUBMITTED, error=error)
                self.arrivals.replace(endpoint, arrival_key(body["datastore"], body["blob"], body["etag"]),
                                      settled, record.etag, "Arrival", body["blob"])

    def list_arrivals(self, endpoint: str) -> list[dict]:
        return sorted((r.body for r in self.arrivals.list(endpoint)), key=lambda b: b["arrived_at"], reverse=True)
