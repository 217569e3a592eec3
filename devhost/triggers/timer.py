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
import re

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.functions.timer import TimerRequest
from azure.storage.blob.aio import BlobServiceClient
from croniter import CroniterBadCronError, CroniterBadDateError, croniter

from ..app_loader import FunctionSpec
from ..durable.history import format_time, parse_time, utc_now
from ..invoker import InvocationFailed
from .common import HOSTS_CONTAINER, close_quietly, extra_arguments, resolve_setting_references

log = logging.getLogger("devhost.timer")


_TIMESPAN = re.compile(r"^(?:(?P<days>\d+)[.:])?(?P<hours>\d{1,2}):(?P<minutes>\d{1,2}):(?P<seconds>\d{1,2})$")


def _parse_timespan(original: str, text: str) -> dt.timedelta:
    """A TimeSpan schedule as .NET writes it: `hh:mm:ss`, or with days `d.hh:mm:ss` / `d:hh:mm:ss`."""
    found = _TIMESPAN.match(text)
    if not found:
        raise ValueError(f"timer schedule '{original}' is not a TimeSpan: expected hh:mm:ss or d.hh:mm:ss")
    days, hours, minutes, seconds = (int(found[name] or 0) for name in ("days", "hours", "minutes", "seconds"))
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ValueError(f"timer schedule '{original}': hours must be 0-23, minutes and seconds 0-59")
    interval = dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if interval <= dt.timedelta(0):
        raise ValueError(f"timer schedule '{original}': the interval must be positive")
    return interval


class Schedule:
    """An NCRONTAB expression (seconds first) or a fixed interval."""

    def __init__(self, expression: str):
        self.expression = resolve_setting_references(expression).strip()
        fields = self.expression.split()
        self.interval: dt.timedelta | None = None
        if len(fields) == 1 and ":" in self.expression:
            self.interval = _parse_timespan(expression, self.expression)
        elif len(fields) == 6:
            if not croniter.is_valid(self.expression, second_at_beginning=True):
                raise ValueError(f"timer schedule '{expression}' is not a valid NCRONTAB expression")
            try:  # valid fields can still describe a moment that never comes, e.g. 30 February
                self.next_after(utc_now())
            except (CroniterBadDateError, CroniterBadCronError, ValueError) as error:
                raise ValueError(f"timer schedule '{expression}' never occurs: {error}") from None
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
        self.service = BlobServiceClient.from_connection_string(host.connection_string)
        self.container = self.service.get_container_client(HOSTS_CONTAINER)
        self.status_blob = self.container.get_blob_client(f"timers/{host.host_id}/{spec.name}/status")

    async def close(self) -> None:
        await close_quietly(self.service)

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
        request = TimerRequest(past_due=past_due, schedule_status=status or {},
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
            await self.fire(False, status, f"Timer fired at {format_time(next_due)}")
            # The next occurrence after this one, counted from now: an invocation that outlasted the
            # interval skips the occurrences it overlapped instead of firing them back to back.
            following = self.schedule.next_after(max(utc_now(), next_due))
            try:
                status = await self.write_status(next_due, following)
            except Exception:  # a storage hiccup must not stop the schedule
                log.exception("timer %s: could not record the schedule status", self.spec.name)
            next_due = following
