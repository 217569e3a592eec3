"""Schedules: a trigger and a fixed invoke of an endpoint. Each tick runs the schedules that are due; after
downtime a missed occurrence runs once (not once per missed slot), and a schedule whose previous job still
runs starts no second one unless it allows concurrent jobs. Jobs link back to their schedule."""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from pydantic import Field

from .clock import now_iso
from .endpoints import EndpointService
from .errors import NotFound, PreconditionFailed, ReferenceNotFound, ValidationFailed
from .job_specs import InvokeRequest
from .names import check_asset_name
from .optimistic import Preconditions, check_if_match, update_with_retries
from .resources import Description, Schema, Tags, parse
from .schedule_triggers import Trigger
from .storage import Record, WorkspaceStorage

PARTITION = "schedule"


class ScheduleSpec(Schema):
    name: str | None = None
    display_name: str | None = None
    description: Description = ""
    tags: Tags = Field(default_factory=dict)
    endpoint_name: str
    trigger: Trigger
    create_job: dict[str, Any] = Field(description="the invoke request: input, deployment_name, settings, output")
    is_enabled: bool = True
    allow_concurrent_jobs: bool = False
    properties: dict[str, Any] = Field(default_factory=dict)


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def next_occurrence(body: dict, after: dt.datetime) -> dt.datetime | None:
    spec = ScheduleSpec.model_validate({k: v for k, v in body.items() if k in ScheduleSpec.model_fields})
    trigger = spec.trigger
    if trigger.type == "recurrence":
        return trigger.next_after(after, parse_time(body["created_at"]))
    return trigger.next_after(after)


def occurrence_job_name(schedule: str, occurrence: dt.datetime) -> str:
    return f"{schedule}-{occurrence.astimezone(dt.timezone.utc):%Y%m%dT%H%M%SZ}"


class ScheduleService:
    def __init__(self, storage: WorkspaceStorage, endpoints: EndpointService):
        self.table = storage.table("Schedules")
        self.endpoints = endpoints

    def create_or_replace(self, name: str, body: Any,
                          conditions: Preconditions = Preconditions()) -> tuple[Record, bool]:
        check_asset_name(name)
        spec = parse(ScheduleSpec, body)
        if spec.name not in (None, name):
            raise ValidationFailed(f"The body names schedule '{spec.name}' but the URL names '{name}'.",
                                   target="name")
        self._require_endpoint(spec.endpoint_name)
        parse(InvokeRequest, spec.create_job, prefix="create_job")
        now = now_iso()
        existing = self.table.find(PARTITION, name)
        stored = {**spec.model_dump(mode="json"), "name": name, "modified_at": now,
                  "created_at": existing.body["created_at"] if existing else now,
                  "evaluated_at": existing.body.get("evaluated_at") if existing else now,
                  "last_run": existing.body.get("last_run") if existing else None}
        stored["next_run"] = self._next_run(stored)
        if existing:
            conditions.check_existing(existing.etag, f"Schedule '{name}'")
            return self.table.replace(PARTITION, name, stored, existing.etag, "Schedule", name), False
        conditions.check_missing(f"Schedule '{name}'")
        return self.table.create(PARTITION, name, stored, "Schedule", name), True

    def _require_endpoint(self, endpoint: str) -> None:
        try:
            self.endpoints.get_endpoint(endpoint)
        except NotFound:
            raise ReferenceNotFound(f"Batch endpoint '{endpoint}' does not exist.", target="endpoint_name") from None

    def _next_run(self, body: dict) -> str | None:
        if not body.get("is_enabled", True):
            return None
        found = next_occurrence(body, parse_time(body["evaluated_at"]))
        return iso(found) if found else None

    def get(self, name: str) -> Record:
        return self.table.get(PARTITION, name, "Schedule", name)

    def list(self, endpoint: str | None = None) -> list[dict]:
        bodies = [r.body for r in self.table.list(PARTITION)]
        return sorted((b for b in bodies if endpoint in (None, b["endpoint_name"])), key=lambda b: b["name"])

    def set_enabled(self, name: str, enabled: bool) -> Record:
        def attempt() -> Record:
            record = self.get(name)
            body = dict(record.body, is_enabled=enabled, modified_at=now_iso())
            if enabled and not record.body["is_enabled"]:
                body["evaluated_at"] = now_iso()  # occurrences while disabled are not caught up
            body["next_run"] = self._next_run(body)
            return self.table.replace(PARTITION, name, body, record.etag, "Schedule", name)

        return update_with_retries(attempt, None, f"Schedule '{name}'")

    def delete(self, name: str, if_match: str | None = None) -> None:
        record = self.get(name)
        check_if_match(record.etag, if_match, f"Schedule '{name}'")
        self.table.delete(PARTITION, name, record.etag)

    # -- running ------------------------------------------------------------------------------------
    def claim_due(self, now: dt.datetime, job_active: Callable[[str], bool]) -> list[tuple[dict, dict]]:
        """The schedules due now, each with its run (a fixed job name) claimed before the job is started.
        job_active(name) tells whether a schedule's previous job still runs (the job engine knows)."""
        claimed = []
        for record in list(self.table.list(PARTITION)):
            run = self._claim(record, now, job_active)
            if run is not None:
                claimed.append((record.body, run))
        return claimed

    def _claim(self, record: Record, now: dt.datetime, job_active: Callable[[str], bool]) -> dict | None:
        body = record.body
        if not body["is_enabled"]:
            return None
        pending = (body.get("last_run") or {}).get("status") == "claimed"
        due = next_occurrence(body, parse_time(body["evaluated_at"]))
        if not pending and (due is None or due > now):
            return None
        if pending:
            return body["last_run"]
        previous = (body.get("last_run") or {}).get("name")
        if not body["allow_concurrent_jobs"] and previous and job_active(previous):
            updated = dict(body, evaluated_at=iso(now))
            updated["next_run"] = self._next_run(updated)
            self._replace_quietly(record, updated)
            return None
        run = {"name": occurrence_job_name(body["name"], due), "occurrence": iso(due), "status": "claimed",
               "claimed_at": iso(now)}
        updated = dict(body, evaluated_at=iso(now), last_run=run)
        updated["next_run"] = self._next_run(updated)
        return run if self._replace_quietly(record, updated) else None

    def _replace_quietly(self, record: Record, body: dict) -> bool:
        """False when another runner changed the schedule first: it handles the occurrence."""
        try:
            self.table.replace(PARTITION, body["name"], body, record.etag, "Schedule", body["name"])
            return True
        except (PreconditionFailed, NotFound):
            return False

    def settle(self, name: str, job: str, status: str) -> None:
        def attempt() -> Record:
            record = self.get(name)
            run = dict(record.body.get("last_run") or {})
            if run.get("name") != job:
                return record
            run["status"] = status
            return self.table.replace(PARTITION, name, dict(record.body, last_run=run), record.etag, "Schedule",
                                      name)

        update_with_retries(attempt, None, f"Schedule '{name}'")

