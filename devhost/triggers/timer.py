"""Timer triggers: 6-field NCRONTAB or `hh:mm:ss` schedules, `run_on_startup`, and schedule monitoring.

The schedule status lives where the Functions host keeps it, blob
`azure-webjobs-hosts/timers/<host id>/<function>/status`. When the host starts after an occurrence was
missed, the function runs once with `past_due` set, however many occurrences were missed.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging

import azure.functions as func
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient
from croniter import croniter

from ..app_loader import FunctionSpec
from ..durable.history import format_time, parse_time, utc_now
from ..invoker import InvocationFailed
from .common import HOSTS_CONTAINER, extra_arguments, resolve_setting_references

log = logging.getLogger("devhost.timer")


class Schedule:
    """An NCRONTAB expression (seconds first) or a fixed interval."""

    def __init__(self, expression: str):
        self.expression = resolve_setting_references(expression).strip()
        fields = self.expression.split()
        self.interval: dt.timedelta | None = None
        if len(fields) == 1 and ":" in self.expression:
            parts = [int(p) for p in self.expression.split(":")]
            days = 0
            if len(parts) == 4:
                days, parts = parts[0], parts[1:]
            hours, minutes, seconds = parts
            self.interval = dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
            if self.interval <= dt.timedelta(0):
                raise ValueError(f"timer schedule '{expression}': the interval must be positive")
        elif len(fields) == 6:
            if not croniter.is_valid(self.expression, second_at_beginning=True):
                raise ValueError(f"timer schedule '{expression}' is not a valid NCRONTAB expression")
        else:
            raise ValueError(
                f"timer schedule '{expression}' must be a 6-field NCRONTAB expression "
                "({second} {minute} {hour} {day} {month} {day-of-week}) or a TimeSpan hh:mm:ss"
            )

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        if self.interval is not None:
            return moment + self.interval
        return croniter(self.expression, moment, second_at_beginning=True).get_next(dt.datetime)


class TimerListener:
    def __init__(self, host, spec: FunctionSpec, client_binding_json: str):
        self.host = host
        self.spec = spec
        self.client_binding_json = client_binding_json
        self.schedule = Schedule(spec.trigger["schedule"])
        self.run_on_startup = bool(spec.trigger.get("runOnStartup"))
        self.use_monitor = spec.trigger.get("useMonitor", True) is not False
        container = BlobServiceClient.from_connection_string(host.connection_string).get_container_client(
            HOSTS_CONTAINER)
        self.container = container
        self.status_blob = container.get_blob_client(f"timers/{host.host_id}/{spec.name}/status")

    async def read_status(self) -> dict | None:
        try:
            return json.loads(await (await self.status_blob.download_blob()).readall())
        except ResourceNotFoundError:
            return None

    async def write_status(self, last: dt.datetime, following: dt.datetime) -> dict:
        status = {"Last": format_time(last), "Next": format_time(following), "LastUpdated": format_time(utc_now())}
        if self.use_monitor:
            await self.status_blob.upload_blob(json.dumps(status), overwrite=True)
        return status

    async def fire(self, past_due: bool, status: dict | None, reason: str) -> None:
        request = func.TimerRequest(past_due=past_due, schedule_status=status or {},
                                    schedule={"AdjustForDST": True})
        arguments = {self.spec.trigger["name"]: request, **extra_arguments(self.spec, self.client_binding_json)}
        try:
            await self.host.invoker.invoke(self.spec, arguments, reason=reason)
        except InvocationFailed:
            pass  # logged by the invoker; the schedule goes on, as in the Functions host

    async def run(self) -> None:
        try:
            await self.container.create_container()
        except ResourceExistsError:
            pass
        now = utc_now()
        status = await self.read_status() if self.use_monitor else None
        if status and parse_time(status["Next"]) <= now:
            log.info("timer %s: an occurrence (%s) was missed while the host was down; running once now",
                     self.spec.name, status["Next"])
            await self.fire(True, status, "Timer fired after a missed occurrence (past due)")
            status = await self.write_status(now, self.schedule.next_after(now))
        elif self.run_on_startup:
            await self.fire(False, status, "Timer fired at startup (run_on_startup)")
        next_due = self.schedule.next_after(utc_now())
        if self.use_monitor and (status is None or parse_time(status["Next"]) != next_due):
            status = await self.write_status(parse_time(status["Last"]) if status else now, next_due)
        while not self.host.stopping.is_set():
            await asyncio.sleep(max((next_due - utc_now()).total_seconds(), 0))
            if self.host.stopping.is_set():
                return
            following = self.schedule.next_after(max(utc_now(), next_due))
            await self.fire(False, status, f"Timer fired at {format_time(next_due)}")
            status = await self.write_status(next_due, following)
            next_due = following
