"""Runs orchestrations: reads control queues, replays each instance through the SDK, commits, sends work.

Every change to an instance happens here, one episode at a time per instance; the management API only
creates instance rows and sends messages. Messages are deleted only after the episode they fed is committed
and its outgoing messages are sent, so a crash at any point repeats work instead of losing it.

A crash of the storage itself can lose work all the same: Azurite saves each of its stores to disk every few
seconds, so when it is killed and started again its tables and queues have each forgotten their last writes,
not necessarily the same ones (an episode whose history was kept but whose work items were not, or the
other way round). So once the storage answers again after an outage, everything that each unfinished
instance waits for according to its history is sent again (see `resend_awaited`); what was not lost arrives
twice and the second copy is dropped, as for any redelivery.
"""
from __future__ import annotations

import asyncio
import json
import math
import logging
import time
import uuid
from collections import defaultdict
from typing import Callable

from azure.core.exceptions import HttpResponseError, ResourceModifiedError

from ..app_loader import FunctionSpec
from .history import TASK_RESULT_EVENTS, EventType, event, execution_started, parse_time, utc_now
from .messages import control_message, work_item
from .replay import accept_new_events, run_episode, split_for_retries
from .partitions import PartitionLeases
from .taskhub import TERMINAL_STATUSES, TaskHub, partition_of

log = logging.getLogger("devhost.durable")

CONTROL_BATCH = 32
CONTROL_VISIBILITY_SECONDS = 30  # a crashed host's in-flight messages return after this; redeliveries are de-duplicated
SUSPENDED_RETRY_SECONDS = 2
VISIBILITY_MARGIN_SECONDS = 0.05
IDLE_POLL_SECONDS = 2.0  # senders in this host give notice and timers wake their partition when due; polling
# only catches messages from elsewhere (another host's, or a crashed host's whose visibility ran out)
STORAGE_PROBE_SECONDS = 1.0  # how often the storage is asked whether it answers (one request, not retried)
CONTROL_EVENTS = {
    EventType.ExecutionTerminated,
    EventType.ExecutionSuspended,
    EventType.ExecutionResumed,
    EventType.GenericEvent,  # rewind requests
}


class PartitionLost(Exception):
    """This host's lease on the partition lapsed (it stalled): another host may run the instance by now."""


def new_execution_id() -> str:
    return uuid.uuid4().hex


def new_instance_row(instance_id: str, name: str, input_json: str | None, execution_id: str,
                     parent: dict | None = None) -> dict:
    now = utc_now()
    row = {
        "PartitionKey": instance_id,
        "Name": name,
        "RuntimeStatus": "Pending",
        "Input": input_json,
        "CreatedTime": now,
        "LastUpdatedTime": now,
        "ExecutionId": execution_id,
        "HistoryLength": 0,
        "OutboxSent": True,
    }
    if parent:
        row["Parent"] = parent
    return row


def start_message(execution_id: str, name: str, input_json: str | None, parent: dict | None = None) -> dict:
    fields = {"ParentInstance": parent} if parent else {}
    return control_message(execution_id, execution_started(utc_now(), name, input_json, **fields))


def work_out(row: dict, task_id: int, name: str, input_json: str | None) -> dict:
    """Outbox item: the work item of the instance's activity task_id."""
    return {"kind": "work", "body": work_item(row["PartitionKey"], row["ExecutionId"], task_id, name, input_json)}


def timer_out(row: dict, timer_id: int, fire_at: str, now) -> dict:
    """Outbox item: the instance's timer timer_id, which fires at fire_at."""
    fired = event(EventType.TimerFired, now, TimerId=timer_id, FireAt=fire_at)
    return {"kind": "control", "instanceId": row["PartitionKey"], "fireAt": fire_at,
            "body": control_message(row["ExecutionId"], fired)}


def parent_of(row: dict, task_id: int) -> dict:
    """What a sub-orchestration started as the instance's task task_id knows of its parent."""
    return {"InstanceId": row["PartitionKey"], "ExecutionId": row["ExecutionId"], "TaskScheduledId": task_id,
            "Name": row["Name"]}


def child_out(row: dict, task_id: int, child_id: str, name: str, input_json: str | None) -> list[dict]:
    """Outbox items: create the sub-orchestration the instance starts as task task_id, and start it."""
    parent, execution_id = parent_of(row, task_id), new_execution_id()
    return [{"kind": "create", "instanceId": child_id, "name": name, "input": input_json,
             "executionId": execution_id, "parent": parent},
            {"kind": "control", "instanceId": child_id,
             "body": start_message(execution_id, name, input_json, parent)}]


class OrchestrationDispatcher:
    def __init__(self, hub: TaskHub, orchestrators: dict[str, FunctionSpec], partitions: PartitionLeases,
                 on_work_sent: Callable[[], None] = lambda: None):
        self.hub = hub
        self.orchestrators = orchestrators
        self.partitions = partitions
        self.on_work_sent = on_work_sent
        self._wakes = [asyncio.Event() for _ in range(hub.partition_count)]
        self._cache: dict[str, tuple[str, list[dict]]] = {}

    def notify(self, instance_id: str | None = None) -> None:
        """New control messages were sent (for instance_id, or anyone): its partition loop polls now."""
        if instance_id is None:
            for wake in self._wakes:
                wake.set()
        else:
            self.notify_partition(partition_of(instance_id, self.hub.partition_count))

    def notify_partition(self, partition: int) -> None:
        self._wakes[partition].set()

    def _notify_when_visible(self, instance_id: str, seconds: float) -> None:
        """A message sent or put back with a visibility delay: its partition polls once it shows."""
        delay = math.ceil(max(seconds, 0)) + VISIBILITY_MARGIN_SECONDS
        asyncio.get_running_loop().call_later(delay, self.notify, instance_id)

    # -- loop ---------------------------------------------------------------------------------------
    async def run(self, stopping: asyncio.Event) -> None:
        await asyncio.gather(*(self._run_partition(p, stopping) for p in range(self.hub.partition_count)),
                             self.partitions.run(stopping), self._watch_storage(stopping))

    async def _watch_storage(self, stopping: asyncio.Event) -> None:
        """Probe the storage every STORAGE_PROBE_SECONDS; when it answers again after it did not, send again
        what unfinished instances wait for (an emulator that was killed has forgotten its last writes)."""
        down = False
        while not stopping.is_set():
            if not await self.hub.answers():
                if not down:
                    log.warning("the storage does not answer; waiting for it to come back")
                down = True
            elif down:
                try:
                    resent = await self.resend_awaited()
                    log.warning("the storage answers again; sent again what %d unfinished instance(s) wait for",
                                resent)
                    down = False
                except Exception:
                    log.exception("sending again what unfinished instances wait for failed; trying again")
            try:
                await asyncio.wait_for(stopping.wait(), STORAGE_PROBE_SECONDS)
            except asyncio.TimeoutError:
                pass

    async def resend_awaited(self) -> int:
        """Send again what each unfinished instance waits for, as its history tells: its start if it has not
        started, the work items of its open activities, its pending timers, and for each open
        sub-orchestration the child (created again if missing) or, if the child has ended, its result.
        Gives the number of instances that waited for something."""
        await self._resend_unsent_outboxes()
        waiting = 0
        async for row in self.hub.iter_unfinished_instances():
            items = await self._awaited(row)
            if items:
                await self._deliver(items)
                waiting += 1
        return waiting

    async def _awaited(self, row: dict) -> list[dict]:
        instance_id, execution_id = row["PartitionKey"], row["ExecutionId"]
        history = await self.hub.load_history(instance_id, execution_id, row["HistoryLength"]) \
            if row["HistoryLength"] else []
        if not any(e["EventType"] == EventType.ExecutionStarted for e in history):
            return [{"kind": "control", "instanceId": instance_id,
                     "body": start_message(execution_id, row["Name"], row.get("Input"), row.get("Parent"))}]
        ended = {e["TaskScheduledId"] for e in history if e["EventType"] in TASK_RESULT_EVENTS}
        fired = {e["TimerId"] for e in history if e["EventType"] == EventType.TimerFired}
        items: list[dict] = []
        for scheduled in history:
            kind, task_id = scheduled["EventType"], scheduled["EventId"]
            if kind == EventType.TaskScheduled and task_id not in ended:
                items.append(work_out(row, task_id, scheduled["Name"], scheduled.get("Input")))
            elif kind == EventType.TimerCreated and task_id not in fired:
                items.append(timer_out(row, task_id, scheduled["FireAt"], utc_now()))
            elif kind == EventType.SubOrchestrationInstanceCreated and task_id not in ended:
                items += await self._awaited_child(row, scheduled)
        return items

    async def _awaited_child(self, row: dict, created: dict) -> list[dict]:
        task_id, child_id = created["EventId"], created["InstanceId"]
        child = await self.hub.get_instance(child_id)
        if child is None:
            return child_out(row, task_id, child_id, created["Name"], created.get("Input"))
        if child["RuntimeStatus"] not in TERMINAL_STATUSES or child.get("Parent") != parent_of(row, task_id):
            return []  # still running (its own history says what it waits for), or another attempt's
        items: list[dict] = []
        if child["RuntimeStatus"] == "Completed":
            self._notify_parent(child, items, failed=False, result=child.get("Output"))
        else:
            failure = child.get("FailureDetails") or {}
            self._notify_parent(child, items, failed=True, details=failure.get("details"),
                                reason=failure.get("message") or f"Instance {child['RuntimeStatus'].lower()}: "
                                                                 f"{child.get('Output')}")
        return items

    async def _run_partition(self, partition: int, stopping: asyncio.Event) -> None:
        """While this host holds the partition's lease: poll when told to (or every IDLE_POLL_SECONDS), and
        straight again after a full batch. A batch that was not full emptied the queue: what was sent since
        came with a notice, still set. On taking the partition (at start, or from another host), first send
        what its instances' committed episodes left unsent."""
        queue = self.hub.control_queues[partition]
        wake = self._wakes[partition]
        held = False
        while not stopping.is_set():
            if not self.partitions.may_run(partition):
                if held:
                    held = False
                    self._forget_partition(partition)
                await self.partitions.wait_until_runnable(partition, stopping)
                continue
            wake.clear()  # a notice from here on means another poll
            received = []
            with self.partitions.running(partition):  # entered with no await since may_run: still held
                if not held:
                    try:
                        await self._resend_unsent_outboxes(partition)
                        held = True
                    except Exception:
                        log.exception("the messages partition %d left unsent could not be sent; trying again",
                                      partition)
                try:
                    received = await self.hub.receive(queue, CONTROL_BATCH, CONTROL_VISIBILITY_SECONDS)
                except Exception:
                    log.exception("control queue %s could not be read", queue.queue_name)
                if received and not self.partitions.may_commit(partition):  # the lease lapsed meanwhile
                    await asyncio.gather(*(self.hub.defer_message(queue, m, 0) for m, _ in received))
                    received = []
                by_instance: dict[str, list] = defaultdict(list)
                for message, body in received:
                    by_instance[body["InstanceId"]].append((message, body))
                await asyncio.gather(
                    *(self._process_safely(queue, iid, items) for iid, items in by_instance.items())
                )
            if len(received) < CONTROL_BATCH:
                try:
                    await asyncio.wait_for(wake.wait(), IDLE_POLL_SECONDS)
                except asyncio.TimeoutError:
                    pass

    def _forget_partition(self, partition: int) -> None:
        """The partition went to another host: the histories cached for its instances may go stale there."""
        count = self.hub.partition_count
        for instance_id in [i for i in self._cache if partition_of(i, count) == partition]:
            del self._cache[instance_id]

    async def _process_safely(self, queue, instance_id: str, items: list) -> None:
        try:
            await self.process_instance(queue, instance_id, items)
        except ResourceModifiedError:
            self._cache.pop(instance_id, None)
            log.warning("instance %s changed underneath an episode; its messages will be retried", instance_id)
        except PartitionLost:
            self._cache.pop(instance_id, None)
            log.warning("the lease of instance %s's partition lapsed during an episode; it was not committed and "
                        "its messages will be retried", instance_id)
        except Exception:
            self._cache.pop(instance_id, None)
            log.exception("episode of instance %s failed; its messages will be retried", instance_id)

    # -- one instance -------------------------------------------------------------------------------
    async def process_instance(self, queue, instance_id: str, items: list) -> None:
        row = await self.hub.get_instance(instance_id)
        if row is None:
            await self._delete_all(queue, items)
            return
        if not row.get("OutboxSent", True):
            row = await self._send_outbox(row)
        execution_id = row["ExecutionId"]
        history = await self._history(row)

        now = utc_now()
        ready, kept = [], []
        started = any(e["EventType"] == EventType.ExecutionStarted for e in history)
        for message, body in items:
            history_event = dict(body["Event"], MessageId=body["MessageId"])
            if body.get("ExecutionId") not in (None, execution_id):
                continue  # meant for an earlier execution: dropped
            if history_event["EventType"] == EventType.ExecutionStarted:
                if started:
                    continue  # a start sent again (resend_awaited) for an instance that has started: dropped
                started = True
            if history_event["EventType"] == EventType.TimerFired:
                remaining = (parse_time(history_event["FireAt"]) - now).total_seconds()
                if remaining > 0:
                    await self.hub.defer_message(queue, message, math.ceil(remaining))
                    self._notify_when_visible(instance_id, remaining)
                    kept.append(message)
                    continue
            ready.append((message, history_event))

        status = row["RuntimeStatus"]
        control = [e for _, e in ready if e["EventType"] in CONTROL_EVENTS]
        regular = [e for _, e in ready if e["EventType"] not in CONTROL_EVENTS]
        new_history: list[dict] = []
        outbox: list[dict] = []
        updates: dict = {}

        for request in control:
            status = await self._apply_control(row, status, history, request, new_history, outbox, updates, now)

        deferred = []
        if status == "Suspended":
            deferred = [m for m, e in ready if e["EventType"] not in CONTROL_EVENTS]
            regular = []
        elif status in TERMINAL_STATUSES:
            regular = []

        if regular:  # the SDK's replay is CPU work: keep it off the loop that serves HTTP
            status = await asyncio.to_thread(self._run_episodes, row, status, history + new_history, regular,
                                             new_history, outbox, updates, now)

        if new_history or updates or status != row["RuntimeStatus"]:
            if not self.partitions.may_commit(partition_of(instance_id, self.hub.partition_count)):
                raise PartitionLost(instance_id)
            await self._commit(row, status, history, new_history, outbox, updates, now)
        for message in deferred:
            await self.hub.defer_message(queue, message, SUSPENDED_RETRY_SECONDS)
        if deferred:
            self._notify_when_visible(instance_id, SUSPENDED_RETRY_SECONDS)
        kept_ids = {id(m) for m in deferred + kept}
        await self._delete_all(queue, [(m, None) for m, _ in items if id(m) not in kept_ids])

    async def _delete_all(self, queue, items) -> None:
        await asyncio.gather(*(self.hub.delete_message(queue, message) for message, _ in items))

    async def _history(self, row: dict) -> list[dict]:
        instance_id, execution_id, length = row["PartitionKey"], row["ExecutionId"], row["HistoryLength"]
        cached = self._cache.get(instance_id)
        if cached and cached[0] == execution_id and len(cached[1]) == length:
            return list(cached[1])
        history = await self.hub.load_history(instance_id, execution_id, length) if length else []
        self._cache[instance_id] = (execution_id, history)
        return list(history)

    async def _apply_control(self, row, status, history, request, new_history, outbox, updates, now) -> str:
        kind = request["EventType"]
        if kind == EventType.ExecutionTerminated and status not in TERMINAL_STATUSES:
            reason = request.get("Input")
            new_history += [
                event(EventType.OrchestratorStarted, now),
                request,
                event(EventType.OrchestratorCompleted, now, ActionCount=_action_count(history + new_history)),
            ]
            updates["Output"] = json.dumps(reason)
            self._notify_parent(row, outbox, failed=True, reason=f"Instance terminated: {reason}", details=None)
            return "Terminated"
        if kind == EventType.ExecutionSuspended and status in ("Pending", "Running"):
            new_history.append(request)
            return "Suspended"
        if kind == EventType.ExecutionResumed and status == "Suspended":
            new_history.append(request)
            return "Running"
        if kind == EventType.GenericEvent and request.get("Rewind") and status == "Failed":
            self._rewind(row, history, new_history, outbox, request, now)
            return "Running"
        return status

    def _rewind(self, row, history, new_history, outbox, request, now) -> None:
        """Turn the failures into notes, reopen the failed tasks, and run them again."""
        note = f"Rewound: {request.get('Reason') or ''}".strip()
        scheduled = {e["EventId"]: e for e in history if e["EventType"] in (EventType.TaskScheduled,
                                                                               EventType.SubOrchestrationInstanceCreated)}
        for position, past in enumerate(history):
            kind = past["EventType"]
            if kind in (EventType.TaskFailed, EventType.SubOrchestrationInstanceFailed, EventType.ExecutionFailed):
                history[position] = event(EventType.GenericEvent, parse_time(past["Timestamp"]), Data=note)
                task = scheduled.get(past.get("TaskScheduledId"))
                if kind == EventType.TaskFailed and task:
                    outbox.append({"kind": "work", "body": work_item(
                        row["PartitionKey"], row["ExecutionId"], task["EventId"], task["Name"], task.get("Input"))})
                elif kind == EventType.SubOrchestrationInstanceFailed and task:
                    outbox.append({"kind": "control", "instanceId": task["InstanceId"], "body": control_message(
                        None, event(EventType.GenericEvent, now, Rewind=True, Reason=request.get("Reason")))})
        history_rewritten = list(history)
        new_history.clear()
        row["_rewritten"] = history_rewritten

    def _run_episodes(self, row, status, history, events, new_history, outbox, updates, now) -> str:
        spec = self.orchestrators.get(row["Name"])
        accepted = accept_new_events(history, events)
        if not accepted:
            return status
        if spec is None:
            message = f"The orchestrator function '{row['Name']}' doesn't exist in this app."
            new_history += [event(EventType.OrchestratorStarted, now), *accepted,
                            event(EventType.ExecutionFailed, now, Reason=message, Details=None),
                            event(EventType.OrchestratorCompleted, now, ActionCount=0)]
            updates["Output"] = json.dumps(message)
            self._notify_parent(row, outbox, failed=True, reason=message, details=None)
            return "Failed"
        parent = row.get("Parent") or {}
        for chunk in split_for_retries(history, accepted):
            started = time.perf_counter()
            result = run_episode(
                spec.user_function,
                name=row["Name"],
                instance_id=row["PartitionKey"],
                parent_instance_id=parent.get("InstanceId"),
                history=history,
                new_events=chunk,
                now=now,
            )
            elapsed = (time.perf_counter() - started) * 1000
            outcome = "Failed" if result.status == "Failed" else "Succeeded"
            log.info("Executed 'Functions.%s' (%s, Id=%s, Duration=%dms)", spec.name, outcome,
                     row["PartitionKey"], elapsed)
            history = history + result.events
            new_history += result.events
            status = "Running" if result.status == "Running" else result.status
            if result.custom_status is not None:
                updates["CustomStatus"] = result.custom_status
            self._queue_outgoing(row, result.outgoing, outbox, now)
            if result.status == "Completed":
                updates["Output"] = result.output
                self._notify_parent(row, outbox, failed=False, result=result.output)
            elif result.status == "Failed":
                updates["Output"] = result.output
                updates["FailureDetails"] = result.failure
                self._notify_parent(row, outbox, failed=True, reason=result.failure["message"],
                                    details=result.failure["details"])
            elif result.status == "ContinuedAsNew":
                next_execution = new_execution_id()
                updates["ContinueAsNew"] = {"ExecutionId": next_execution, "Input": result.continue_as_new_input}
                outbox.append({"kind": "control", "instanceId": row["PartitionKey"],
                               "body": start_message(next_execution, row["Name"], result.continue_as_new_input,
                                                     row.get("Parent"))})
            if result.status != "Running":
                break
        return status

    def _queue_outgoing(self, row, outgoing, outbox, now) -> None:
        for activity in outgoing.activities:
            outbox.append(work_out(row, activity["taskId"], activity["name"], activity["input"]))
        for timer in outgoing.timers:
            outbox.append(timer_out(row, timer["timerId"], timer["fireAt"], now))
        for child in outgoing.sub_orchestrations:
            outbox += child_out(row, child["taskId"], child["instanceId"], child["name"], child["input"])

    def _notify_parent(self, row, outbox, *, failed: bool, result=None, reason=None, details=None) -> None:
        parent = row.get("Parent")
        if not parent:
            return
        if failed:
            notice = event(EventType.SubOrchestrationInstanceFailed, utc_now(),
                           TaskScheduledId=parent["TaskScheduledId"], Reason=reason, Details=details)
        else:
            notice = event(EventType.SubOrchestrationInstanceCompleted, utc_now(),
                           TaskScheduledId=parent["TaskScheduledId"], Result=result)
        outbox.append({"kind": "control", "instanceId": parent["InstanceId"],
                       "body": control_message(parent["ExecutionId"], notice)})

    # -- commit ---------------------------------------------------------------------------------------
    async def _commit(self, row, status, history, new_history, outbox, updates, now) -> None:
        instance_id, execution_id = row["PartitionKey"], row["ExecutionId"]
        rewritten = row.pop("_rewritten", None)
        full = rewritten if rewritten is not None else history + new_history
        if rewritten is not None:
            await self.hub.write_history(instance_id, execution_id, 0, rewritten)
        elif new_history:
            await self.hub.write_history(instance_id, execution_id, len(history), new_history)
        etag = row.pop("_etag")
        updated = dict(row, RuntimeStatus=status, LastUpdatedTime=now, HistoryLength=len(full),
                       Outbox=outbox or None, OutboxSent=not outbox)
        for key in ("Output", "CustomStatus", "FailureDetails"):
            if key in updates:
                updated[key] = updates[key]
        if status == "Running" and rewritten is not None:
            updated.pop("Output", None)
            updated.pop("FailureDetails", None)
        continued = updates.get("ContinueAsNew")
        if continued:
            updated.update(ExecutionId=continued["ExecutionId"], Input=continued["Input"], HistoryLength=0,
                           RuntimeStatus="Running", Output=None, CustomStatus=None)
        updated = {k: v for k, v in updated.items() if v is not None}
        new_etag = await self.hub.put_instance(updated, etag)
        if continued or status in TERMINAL_STATUSES:
            self._cache.pop(instance_id, None)
        else:
            self._cache[instance_id] = (execution_id, full)
        if outbox:
            await self._send_outbox(dict(updated, _etag=new_etag))
        if continued:
            await self.hub.delete_history(instance_id, keep_execution=continued["ExecutionId"])

    async def _send_outbox(self, row: dict) -> dict:
        await self._deliver(row.get("Outbox") or [])
        etag = row.pop("_etag")
        row = dict(row, OutboxSent=True)
        row.pop("Outbox", None)
        try:
            new_etag = await self.hub.put_instance(row, etag)
        except (ResourceModifiedError, HttpResponseError):
            return await self.hub.get_instance(row["PartitionKey"])
        return dict(row, _etag=new_etag)

    async def _deliver(self, outbox: list[dict]) -> None:
        """Send outbox items: child instances created first, then work items and control messages."""
        sem = asyncio.Semaphore(32)

        async def send(item: dict) -> None:
            async with sem:
                kind = item["kind"]
                if kind == "work":
                    await self.hub.send_work_item(item["body"])
                elif kind == "create":
                    existing = await self.hub.get_instance(item["instanceId"])
                    if existing is None or existing["ExecutionId"] != item["executionId"]:
                        await self.hub.put_instance(new_instance_row(
                            item["instanceId"], item["name"], item["input"], item["executionId"], item["parent"]))
                else:
                    delay = 0.0
                    if item.get("fireAt"):
                        delay = (parse_time(item["fireAt"]) - utc_now()).total_seconds()
                    await self.hub.send_control(item["instanceId"], item["body"], delay)
                    if delay > 0:
                        self._notify_when_visible(item["instanceId"], delay)

        creates = [i for i in outbox if i["kind"] == "create"]
        await asyncio.gather(*(send(i) for i in creates))
        await asyncio.gather(*(send(i) for i in outbox if i["kind"] != "create"))
        if any(i["kind"] == "work" for i in outbox):
            self.on_work_sent()
        for instance_id in {i["instanceId"] for i in outbox if i["kind"] == "control"}:
            self.notify(instance_id)

    async def _resend_unsent_outboxes(self, partition: int | None = None) -> None:
        """Send the outgoing messages that committed episodes left unsent: of one partition's instances, or all."""
        async for row in self.hub.iter_instances_needing_outbox():
            if partition is None or partition_of(row["PartitionKey"], self.hub.partition_count) == partition:
                log.info("resending the outgoing messages of instance %s", row["PartitionKey"])
                await self._send_outbox(row)


def _action_count(history: list[dict]) -> int:
    for e in reversed(history):
        if e["EventType"] == EventType.OrchestratorCompleted:
            return e.get("ActionCount", 0)
    return 0
