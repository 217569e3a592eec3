"""The verdict never lies, whatever crashes mid-job: kill -9 of Azurite (persisted on disk, restarted on the
same folder), of the host, or of one activity worker. Each job ends Completed with every input row exactly
once in its predictions, or Failed naming the mini-batches it could not account for; and the runtime gets
through a storage outage by itself."""
from __future__ import annotations

import os
import re
import signal
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from azure.data.tables import TableServiceClient

from devhost.azurite import Azurite
from tests.harness import Runtime, product_runtime, wait_for
from tests.model_builders import onnx_model_bytes
from tests.runtime.test_jobs import (call, custom_endpoint, input_frames, invoke, predictions, register,
                                     unique, upload_csvs, wait_for_job)

pytestmark = pytest.mark.slow

FILES = 60
ROWS = 3
SLICE_SIZE = 16  # four sub-orchestrations per job: a crash can land in any of them
SECONDS_PER_MINI_BATCH = 0.35  # with two at once, a job lasts at least 10 s: longer than Azurite takes to save it

SLOW_ROWS_SCRIPT = f"""
import time
from pathlib import Path

import pandas as pd


def init():
    pass


def run(mini_batch):
    time.sleep({SECONDS_PER_MINI_BATCH})
    return pd.concat([pd.DataFrame({{"file_name": Path(path).name, "row": range(len(pd.read_csv(path)))}})
                      for path in mini_batch])
"""


@pytest.fixture(scope="module")
def runtime(disk_azurite, artifacts_dir: Path):
    """The product on the disk Azurite; a short activity visibility, so a dead worker's item soon runs again."""
    started = product_runtime(disk_azurite.connection_string, artifacts_dir, activity_visibility=5, settings={
        "BATCH_SLICE_SIZE": str(SLICE_SIZE), "BATCH_OUTBOUND_ALLOW": "127.0.0.1"}).start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def endpoint(runtime, tmp_path_factory) -> str:
    """One mini-batch per file, two at once, each scored by a script that takes a while and gives every input
    row back by file and row number."""
    model = register(runtime, unique("onnx"), onnx_model_bytes(), "model.onnx")
    return custom_endpoint(runtime, tmp_path_factory.mktemp("code"), SLOW_ROWS_SCRIPT, model,
                           settings={"mini_batch_size": 1}, resources={"instance_count": 2})


def start_job(runtime: Runtime, storage: str, endpoint: str) -> tuple[str, list[pd.DataFrame]]:
    frames = [frame.head(ROWS) for frame in input_frames(FILES, rows=ROWS, seed=11)]
    source = upload_csvs(storage, unique("faults"), frames)
    return invoke(runtime, endpoint, input=source)["name"], frames


def recorded_mini_batches(storage: str, job: str) -> int:
    results = TableServiceClient.from_connection_string(storage).get_table_client("JobMiniBatches")
    return sum(1 for _ in results.query_entities("PartitionKey eq @job", parameters={"job": job},
                                                 select=["RowKey"]))


def wait_until_mid_job(storage: str, job: str, done: int = 4) -> None:
    wait_for(lambda: recorded_mini_batches(storage, job) >= done, timeout=120,
             what=f"{done} mini-batches of job {job} to be recorded")


def worker_scoring(log: str) -> int | None:
    """The pid of a worker whose run of mini-batches started and has not ended yet."""
    started = {invocation: int(pid) for pid, invocation in re.findall(
        r"\[worker (\d+)\] Executing 'Functions.score_mini_batches' \(Reason='\(null\)', Id=([^)]+)\)", log)}
    for invocation in re.findall(r"Executed 'Functions.score_mini_batches' \(\w+, Id=([^,]+),", log):
        started.pop(invocation, None)
    return next(iter(started.values()), None)


def saved_on_disk(azurite: Azurite, job: str) -> bool:
    """Whether Azurite has saved the job to its folder: its record (tables) and its plan (blobs, written after
    its inputs). Azurite saves each store every few seconds; a storage that forgets a job it acknowledged
    leaves nothing to give a verdict on, so the crash comes after this."""
    tables, blobs = (azurite.location / f"__azurite_db_{store}__.json" for store in ("table", "blob"))
    return tables.exists() and blobs.exists() and job in tables.read_text() and f"{job}/plan.json" in blobs.read_text()


def assert_exact_or_failed_naming_mini_batches(runtime: Runtime, job: dict, frames: list[pd.DataFrame]) -> None:
    """Completed: every input row is in the predictions exactly once. Otherwise Failed, naming the mini-batches
    without a result. Never Completed with rows missing or twice."""
    if job["status"] == "Completed":
        result = predictions(runtime, job)
        pairs = Counter(zip(result["file_name"], result["row"]))
        expected = {(f"part-{i:03d}.csv", row) for i, frame in enumerate(frames) for row in range(len(frame))}
        assert [pair for pair, seen in pairs.items() if seen > 1] == [], "rows scored twice"
        assert sorted(expected - set(pairs)) == [], "rows missing"
        assert set(pairs) == expected and len(result) == len(expected) == job["counts"]["rows_scored"]
    else:
        assert job["status"] == "Failed", job
        assert job["error"]["code"] == "MiniBatchesUnaccounted", job["error"]
        assert re.search(r"mini-batches \d+", job["error"]["message"]), job["error"]


def test_kill_9_of_azurite_mid_job_then_restart_ends_exact_or_failed_and_the_runtime_recovers_by_itself(
        runtime, disk_azurite, endpoint):
    """Azurite forgets its last seconds of writes (tables, queues and blobs apart): results, history, messages.
    The job still ends right, without anyone restarting the runtime."""
    storage = disk_azurite.connection_string
    name, frames = start_job(runtime, storage, endpoint)
    wait_until_mid_job(storage, name)
    wait_for(lambda: saved_on_disk(disk_azurite, name), timeout=60, what="Azurite to save the job to its folder")
    assert recorded_mini_batches(storage, name) < FILES, "the crash must land mid-job"
    log_before = len(runtime.log_text())
    disk_azurite.kill()
    down = call(runtime, "GET", f"api/jobs/{name}")
    assert down.status_code == 503 and int(down.headers["Retry-After"]) > 0, "no storage: 503, not a stale answer"
    wait_for(lambda: "the storage does not answer" in runtime.log_text()[log_before:], timeout=30,
             what="the runtime to notice the outage")
    disk_azurite.start()

    job = wait_for_job(runtime, name, timeout=240)
    assert runtime.process.poll() is None and runtime.starts == 1, "the runtime got through the outage alone"
    assert_exact_or_failed_naming_mini_batches(runtime, job, frames)


def test_kill_9_of_the_host_mid_job_then_restart_ends_exact_or_failed(runtime, disk_azurite, endpoint):
    """The host and its workers die with mini-batches in flight; started again on the same hub, it finishes the
    job from what the storage kept."""
    storage = disk_azurite.connection_string
    name, frames = start_job(runtime, storage, endpoint)
    wait_until_mid_job(storage, name)
    runtime.kill()
    assert recorded_mini_batches(storage, name) < FILES, "the crash must land mid-job"
    runtime.start()

    assert_exact_or_failed_naming_mini_batches(runtime, wait_for_job(runtime, name, timeout=240), frames)


def test_kill_9_of_an_activity_worker_mid_job_ends_exact_or_failed(runtime, disk_azurite, endpoint):
    """A worker dies in the middle of a run of mini-batches: some recorded, some staged, some not begun. Its
    work item runs again in another worker, and each row still lands once."""
    storage = disk_azurite.connection_string
    log_before = len(runtime.log_text())
    name, frames = start_job(runtime, storage, endpoint)
    wait_until_mid_job(storage, name)
    worker = wait_for(lambda: worker_scoring(runtime.log_text()[log_before:]), timeout=60,
                      what="a worker scoring mini-batches")
    os.kill(worker, signal.SIGKILL)

    job = wait_for_job(runtime, name, timeout=240)
    assert f"activity worker {worker} exited with -9; starting another" in runtime.log_text()
    assert_exact_or_failed_naming_mini_batches(runtime, job, frames)
