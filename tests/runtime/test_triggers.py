"""Blob, timer and queue triggers on the local runtime, against a real Azurite.

The app (tests/apps/triggers_app) records every invocation as a blob `observations/<RUN_ID>/<function>/...`;
each test gives its runtime its own RUN_ID, container and queues through app settings, so tests never see
each other's invocations.
"""
from __future__ import annotations

import base64
import collections
import json
import time
import uuid

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient

from devhost.durable.history import parse_time
from tests.harness import APPS, wait_for

TRIGGERS = APPS / "triggers_app"
EVERY_TWO_SECONDS = "*/2 * * * * *"


def app_settings(**overrides) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:10]
    return {
        "RUN_ID": f"run-{suffix}",
        "BLOB_CONTAINER": f"inbox-{suffix}",
        "WORK_QUEUE": f"work-{suffix}",
        "FAILING_QUEUE": f"failing-{suffix}",
        "TICK_SCHEDULE": "0 0 0 1 1 *",  # once a year: quiet unless a test asks for ticks
        **overrides,
    }


class Observations:
    """Read what the app's functions recorded for one run."""

    def __init__(self, storage: str, run_id: str):
        self.container = BlobServiceClient.from_connection_string(storage).get_container_client("observations")
        self.run_id = run_id

    def of(self, function: str) -> list[dict]:
        try:
            names = [b.name for b in self.container.list_blobs(name_starts_with=f"{self.run_id}/{function}/")]
        except ResourceNotFoundError:
            return []
        found = [json.loads(self.container.download_blob(name).readall()) for name in names]
        return sorted(found, key=lambda item: item["at"])

    def wait_for_count(self, function: str, count: int, timeout: float = 60, **where) -> list[dict]:
        def enough():
            found = [o for o in self.of(function) if all(o.get(k) == v for k, v in where.items())]
            return found if len(found) >= count else None

        return wait_for(enough, timeout=timeout, interval=0.3, what=f"{count} invocations of {function} {where}")


def container_of(storage: str, name: str):
    container = BlobServiceClient.from_connection_string(storage).get_container_client(name)
    try:
        container.create_container()
    except ResourceExistsError:
        pass
    return container


def queue_of(storage: str, name: str) -> QueueClient:
    queue = QueueClient.from_connection_string(storage, name)
    try:
        queue.create_queue()
    except ResourceExistsError:
        pass
    return queue


# -- blob trigger --------------------------------------------------------------------------------------
def test_blob_trigger_fires_once_per_blob_version_across_restarts(start_runtime, storage):
    settings = app_settings()
    seen = Observations(storage, settings["RUN_ID"])
    inbox = container_of(storage, settings["BLOB_CONTAINER"])
    runtime = start_runtime(TRIGGERS, env=settings)
    path = f"{settings['BLOB_CONTAINER']}/"

    def counts() -> collections.Counter:
        return collections.Counter(o["name"].removeprefix(path) for o in seen.of("on_blob"))

    def drop(name: str, content: str, overwrite: bool = False) -> None:
        inbox.upload_blob(name, content.encode(), overwrite=overwrite)

    def settle(sentinel: str) -> None:
        # Listings run one after another and each waits for its invocations: once a blob uploaded now
        # has fired, every invocation an earlier listing could have started has been recorded.
        drop(sentinel, sentinel)
        seen.wait_for_count("on_blob", 1, name=path + sentinel)

    for name in ("a.txt", "b.txt", "nested/folder/c.txt"):
        drop(name, f"first {name}")
    first = seen.wait_for_count("on_blob", 3)
    assert {o["name"]: o["content"] for o in first} == {
        path + "a.txt": "first a.txt", path + "b.txt": "first b.txt",
        path + "nested/folder/c.txt": "first nested/folder/c.txt"}
    assert all(o["length"] == len(o["content"]) for o in first)
    settle("sentinel-1")
    assert counts() == {"a.txt": 1, "b.txt": 1, "nested/folder/c.txt": 1, "sentinel-1": 1}

    runtime.stop()
    runtime.start()  # same host id, so the blob receipts of the first run count
    drop("after-restart.txt", "new after restart")
    seen.wait_for_count("on_blob", 1, name=path + "after-restart.txt")
    settle("sentinel-2")
    assert counts() == {"a.txt": 1, "b.txt": 1, "nested/folder/c.txt": 1, "sentinel-1": 1,
                        "after-restart.txt": 1, "sentinel-2": 1}

    drop("a.txt", "second version of a.txt", overwrite=True)  # a new etag: a new blob version
    seen.wait_for_count("on_blob", 1, content="second version of a.txt")
    settle("sentinel-3")
    assert counts() == {"a.txt": 2, "b.txt": 1, "nested/folder/c.txt": 1, "sentinel-1": 1,
                        "after-restart.txt": 1, "sentinel-2": 1, "sentinel-3": 1}
    assert "New blob detected" in runtime.log_text()


# -- timer trigger -------------------------------------------------------------------------------------
def test_timer_fires_repeatedly_on_a_six_field_ncrontab_schedule(start_runtime, storage):
    settings = app_settings(TICK_SCHEDULE=EVERY_TWO_SECONDS)
    seen = Observations(storage, settings["RUN_ID"])
    start_runtime(TRIGGERS, env=settings)
    ticks = seen.wait_for_count("tick", 4, timeout=45)
    times = [t["at"] for t in ticks]
    gaps = [round(later - earlier, 2) for earlier, later in zip(times, times[1:])]
    assert all(1.0 <= gap <= 4.0 for gap in gaps), gaps
    assert not any(t["past_due"] for t in ticks)
    # The function sees the schedule status as it was before this invocation, as the Functions host passes
    # it: its Next is the occurrence being run. Occurrences are whole even seconds, 2 s apart, never early.
    statuses = [t["schedule_status"] for t in ticks]
    assert all(set(s) >= {"Last", "Next", "LastUpdated"} for s in statuses)
    due = [parse_time(s["Next"]) for s in statuses]
    assert all(d.microsecond == 0 and d.second % 2 == 0 for d in due), due
    assert [(later - earlier).total_seconds() for earlier, later in zip(due, due[1:])] == [2.0] * (len(due) - 1)
    assert all(t["at"] >= d.timestamp() - 0.05 for t, d in zip(ticks, due)), (times, due)
    assert all(parse_time(s["Last"]) == d for s, d in zip(statuses[1:], due))  # each follows the previous


def test_missed_occurrences_fire_once_past_due_and_run_on_startup_fires_at_each_start(start_runtime, storage):
    settings = app_settings(TICK_SCHEDULE=EVERY_TWO_SECONDS)
    seen = Observations(storage, settings["RUN_ID"])
    runtime = start_runtime(TRIGGERS, env=settings)
    startups = seen.wait_for_count("on_startup", 1, timeout=30)
    assert startups[0]["past_due"] is False
    seen.wait_for_count("tick", 1, timeout=30)

    runtime.stop()
    before = seen.of("tick")
    status_blob = BlobServiceClient.from_connection_string(storage).get_blob_client(
        "azure-webjobs-hosts", f"timers/{runtime.host_id}/tick/status")
    status = json.loads(status_blob.download_blob().readall())
    next_due = parse_time(status["Next"]).timestamp()
    # The scenario itself: the host stays down while more than three occurrences pass.
    down_until = next_due + 3 * 2 + 0.5
    time.sleep(max(down_until - time.time(), 0))

    runtime.start()
    ticks = wait_for(lambda: (found := seen.of("tick")[len(before):]) and len(found) >= 3 and found,
                     timeout=45, what="three ticks after the restart")
    assert [t["past_due"] for t in ticks] == [True] + [False] * (len(ticks) - 1)
    assert ticks[0]["schedule_status"]["Next"] == status["Next"]  # it is the missed occurrence
    assert [t["past_due"] for t in before] == [False] * len(before)

    startups = seen.wait_for_count("on_startup", 2, timeout=30)
    assert len(startups) == 2 and not any(s["past_due"] for s in startups)
    assert "was missed while the host was down" in runtime.log_text()


# -- queue trigger -------------------------------------------------------------------------------------
def test_queue_trigger_processes_base64_and_plain_text_messages(start_runtime, storage):
    settings = app_settings()
    seen = Observations(storage, settings["RUN_ID"])
    queue = queue_of(storage, settings["WORK_QUEUE"])
    start_runtime(TRIGGERS, env=settings)
    encoded = "hello from base64 \u2713"
    queue.send_message(base64.b64encode(encoded.encode()).decode())
    queue.send_message("plain text, not base64!")
    received = seen.wait_for_count("on_message", 2)
    assert sorted(o["body"] for o in received) == sorted([encoded, "plain text, not base64!"])
    assert [o["dequeue_count"] for o in received] == [1, 1]
    wait_for(lambda: not queue.peek_messages() and queue.get_queue_properties().approximate_message_count == 0,
             timeout=30, what="the processed messages to be deleted")


def test_a_message_that_always_fails_ends_in_the_poison_queue_after_five_tries(start_runtime, storage):
    settings = app_settings()
    seen = Observations(storage, settings["RUN_ID"])
    queue = queue_of(storage, settings["FAILING_QUEUE"])
    poison = queue_of(storage, settings["FAILING_QUEUE"] + "-poison")
    runtime = start_runtime(TRIGGERS, env=settings)
    queue.send_message(base64.b64encode(b"doomed message").decode())

    poisoned = wait_for(lambda: poison.peek_messages(), timeout=60, what="a message in the poison queue")
    assert base64.b64decode(poisoned[0].content) == b"doomed message"
    attempts = seen.of("always_fails")
    assert [a["dequeue_count"] for a in attempts] == [1, 2, 3, 4, 5]
    assert {a["body"] for a in attempts} == {"doomed message"}
    wait_for(lambda: not queue.peek_messages() and queue.get_queue_properties().approximate_message_count == 0,
             timeout=30, what="the poisoned message to leave its queue")
    assert f"moved to {settings['FAILING_QUEUE']}-poison after 5 tries" in runtime.log_text()
    assert len(seen.of("always_fails")) == 5  # and no sixth try
    assert len(poison.peek_messages(max_messages=32)) == 1
