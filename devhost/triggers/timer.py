"""Timer triggers: 6-field NCRONTAB or `hh:mm:ss` schedules, `run_on_startup`, and schedule monitoring, on one
host at a time.

The schedule status lives where the Functions host keeps it, blob
`azure-webjobs-hosts/timers/<host id>/<function>/status`. When the host starts after an occurrence was
missed, the function runs once with `past_due` set, however many occurrences were missed.

Like the Functions host, a timer's listener runs only on the host holding its singleton listener lock: a
lease on blob `azure-webjobs-hosts/locks/<host id>/Host.Functions.<function>.Listener` (host.json
`singleton.listenerLockPeriod`, renewed every half of it), whose metadata `FunctionInstance` names the
holder. The other hosts try again every `singleton.listenerLockRecoveryPollingInterval`; when the holder
stops, or dies and its lease runs out, one of them takes the lock and the schedule goes on there, from the
shared status (a missed occurrence runs once, past due).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.functions.timer import TimerRequest
from azure.storage.blob.aio import BlobServiceClient
from croniter import CroniterBadCronError, CroniterBadDateError, croniter

from ..app_loader import FunctionSpec
from ..durable.history import format_time, parse_time, utc_now
from ..invoker import InvocationFailed
from ..leases import Lease, keep, lease_client_options
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
        self.lock_service = BlobServiceClient.from_connection_string(host.connection_string,
                                                                     **lease_client_options())
        self.lock = Lease(self.lock_service.get_blob_client(
            HOSTS_CONTAINER, f"locks/{host.host_id}/Host.Functions.{spec.name}.Listener"),
            host.instance_id, int(host.settings.listener_lock_seconds))

    async def close(self) -> None:
        try:
            if self.lock.remaining() > 0:  # a clean stop hands the schedule to another host at once
                await self.lock.release()
        finally:
            await close_quietly(self.service, self.lock_service)

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
        recovery = self.host.settings.listener_lock_recovery_seconds
        told_waiting = False
        while not self.host.stopping.is_set():
            if await self.take_lock():
                log.info("timer %s: this host (%s) holds the listener lock; the schedule runs here",
                         self.spec.name, self.host.instance_id)
                told_waiting = False
                await self.run_while_locked()
                if self.host.stopping.is_set():
                    return
                log.warning("timer %s: the listener lock was lost; the schedule stops here", self.spec.name)
            elif not told_waiting:
                log.info("timer %s: another host holds the listener lock; trying again every %gs", self.spec.name,
                         recovery)
                told_waiting = True
            await asyncio.sleep(recovery)

    async def take_lock(self) -> bool:
        """Acquire the listener lock if no other host holds it, and name this host on it."""
        try:
            try:
                await self.lock.blob.upload_blob(b"", overwrite=False)
            except ResourceExistsError:
                pass  # there already (and maybe leased)
            if not await self.lock.acquire():
                return False
            await self.lock.blob.set_blob_metadata({"FunctionInstance": self.host.instance_id}, lease=self.lock.id)
            return True
        except AzureError as error:
            log.warning("timer %s: the listener lock could not be asked for: %s", self.spec.name,
                        type(error).__name__)
            return False

    async def run_while_locked(self) -> None:
        """Run the schedule until the lock is lost (the schedule ends only by raising)."""
        schedule = asyncio.create_task(self.run_schedule())
        keeper = asyncio.create_task(keep(self.lock, self.lock.seconds / 2))
        try:
            await asyncio.wait({schedule, keeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (schedule, keeper):
                task.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
        if schedule.done() and not schedule.cancelled() and schedule.exception():
            raise schedule.exception()

    async def run_schedule(self) -> None:
        now = utc_now()
        status = await self.read_status() if self.use_monitor else None
        if status and parse_time(status["Next"]) <= now:
            log.info("timer %s: an occurrence (%s) was missed while the host was down (or the host holding the "
                     "lock died); running once now",
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
            if self.lock.remaining() > 0:
                await self.fire(False, status, f"Timer fired at {format_time(next_due)}")
            else:  # this host stalled past its lease: another may hold the lock and run the occurrence
                log.warning("timer %s: the occurrence at %s was not run here: the listener lock may have passed "
                            "to another host", self.spec.name, format_time(next_due))
            # The next occurrence after this one, counted from now: an invocation that outlasted the
            # interval skips the occurrences it overlapped instead of firing them back to back.
            following = self.schedule.next_after(max(utc_now(), next_due))
            try:
                status = await self.write_status(next_due, following)
            except Exception:  # a storage hiccup must not stop the schedule
                log.exception("timer %s: could not record the schedule status", self.spec.name)
            next_due = following
