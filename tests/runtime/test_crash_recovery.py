"""Crashes lose nothing: kill -9 of the runtime mid-orchestration, of one activity worker, and a storage that
lost a message while it was away."""
from __future__ import annotations

import os
import re
import signal
from collections import Counter

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueServiceClient

from tests.harness import APPS, Runtime, wait_for
from tests.runtime.test_durable import start, status_via_sdk

FEATURES = APPS / "durable_features"
pytestmark = pytest.mark.slow


def executed_items(log_dir) -> list[int]:
    path = log_dir / "executions.log"
    return [int(line.split()[0]) for line in path.read_text().splitlines()] if path.exists() else []


def test_kill_9_mid_orchestration_then_restart_completes_with_each_result_recorded_once(start_runtime, tmp_path):
    runtime = start_runtime(FEATURES, activity_visibility=5)
    count = 16
    instance = start(runtime, "recorded_fan_out", {"dir": str(tmp_path), "count": count, "sleep": 0.4})
    wait_for(lambda: len(executed_items(tmp_path)) >= 4, timeout=60, what="some activities to finish")
    runtime.kill()
    finished_before_crash = len(executed_items(tmp_path))
    assert finished_before_crash < count, "the crash must happen mid-orchestration"

    runtime.start()
    final = runtime.wait_for_status(instance["statusQueryGetUri"], timeout=180)
    assert final["runtimeStatus"] == "Completed"
    assert final["output"] == list(range(count))
    assert set(executed_items(tmp_path)) == set(range(count))

    history = status_via_sdk(runtime, instance["id"])["historyEvents"]
    scheduled = Counter(e["ScheduledId"] for e in history if e["EventType"] == "TaskScheduled")
    completed = Counter(e["TaskScheduledId"] for e in history if e["EventType"] == "TaskCompleted")
    assert len(scheduled) == count and set(scheduled.values()) == {1}
    assert completed.keys() == scheduled.keys()
    assert set(completed.values()) == {1}, "each activity result is recorded exactly once"


def test_a_crashed_activity_worker_is_replaced_and_its_work_item_runs_again(start_runtime, tmp_path):
    runtime = start_runtime(FEATURES, activity_visibility=3, workers=1)
    instance = start(runtime, "recorded_fan_out", {"dir": str(tmp_path), "count": 1, "sleep": 4})
    pattern = re.compile(r"\[worker (\d+)\] Executing 'Functions.slow_record'")
    worker_pid = int(wait_for(lambda: pattern.search(runtime.log_text()), timeout=60,
                              what="the activity to start").group(1))
    os.kill(worker_pid, signal.SIGKILL)

    final = runtime.wait_for_status(instance["statusQueryGetUri"], timeout=120)
    assert final["runtimeStatus"] == "Completed"
    assert final["output"] == [0]
    assert "exited with -9; starting another" in runtime.log_text()
    runners = {int(pid) for pid in pattern.findall(runtime.log_text())}
    assert worker_pid in runners and len(runners) == 2, "the item ran again in the replacement worker"


def test_a_timer_whose_message_the_storage_lost_fires_once_the_storage_is_back(disk_azurite, artifacts_dir):
    """Azurite killed mid-run forgets its last few seconds of writes, messages among them. Here the loss is
    certain: the timer's message is deleted and Azurite restarts. The runtime notices the outage and, once the
    storage answers again, sends again what unfinished instances wait for."""
    runtime = Runtime(FEATURES, disk_azurite.connection_string, artifacts_dir).start()
    try:
        instance = start(runtime, "durable_timer", 4)
        rows = TableServiceClient.from_connection_string(disk_azurite.connection_string).get_table_client(
            f"{runtime.hub}Instances")
        wait_for(lambda: rows.get_entity(instance["id"], "").get("OutboxSent") and "TimerCreated" in {
            e["EventType"] for e in status_via_sdk(runtime, instance["id"])["historyEvents"]},
            timeout=60, what="the timer's message to be sent")
        queues = QueueServiceClient.from_connection_string(disk_azurite.connection_string)
        for queue in queues.list_queues(name_starts_with=f"{runtime.hub.lower()}-control-"):
            queues.get_queue_client(queue.name).clear_messages()
        log_before = len(runtime.log_text())
        disk_azurite.stop()  # saves its state: the deleted message stays deleted
        wait_for(lambda: "the storage does not answer" in runtime.log_text()[log_before:], timeout=30,
                 what="the runtime to notice the outage")
        disk_azurite.start()

        final = runtime.wait_for_status(instance["statusQueryGetUri"], timeout=60)
        assert final["runtimeStatus"] == "Completed"
        assert "sent again what 1 unfinished instance(s) wait for" in runtime.log_text()
    finally:
        runtime.stop()
