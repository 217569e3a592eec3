"""Scale-out as Azure Functions does it: two hosts on one storage account, task hub and host id are two
instances of one app. They share the host keys, lease the task hub's partitions between them, both pull the
work items, run a timer on one of them at a time and a blob trigger once per blob; when one dies, the other
takes its partitions once their leases run out, and a job still ends with every row exactly once."""
from __future__ import annotations

import json
import re
import socket
import uuid
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from azure.storage.blob import BlobServiceClient

from tests.harness import Runtime, product_runtime, wait_for
from tests.model_builders import onnx_model_bytes
from tests.model_builders import zip_folder
from tests.runtime.test_jobs import call, invoke, predictions, register, unique, upload_csvs

pytestmark = pytest.mark.slow

LEASE_SECONDS = 15  # the shortest lease the blob service grants: a dead host's partitions move after this
ROWS = 2

ROWS_SCRIPT = """
from pathlib import Path

import pandas as pd


def init():
    pass


def run(mini_batch):
    return pd.concat([pd.DataFrame({"file_name": Path(path).name, "row": range(len(pd.read_csv(path)))})
                      for path in mini_batch])
"""


def instance_of(runtime: Runtime) -> str:
    """The instance id a host gives itself (and its mini-batch results): the machine and its port."""
    return f"{socket.gethostname()}:{runtime.port}"


@pytest.fixture(scope="module")
def hosts(azurite, artifacts_dir: Path):
    """Two hosts of the product on one storage, task hub and host id, with short leases; at DEBUG, so that
    their logs show every timer invocation."""
    hub, host_id = f"Scale{uuid.uuid4().hex[:10]}", f"scale-{uuid.uuid4().hex[:10]}"
    settings = {"BATCH_OUTBOUND_ALLOW": "127.0.0.1", "BATCH_SLICE_SIZE": "50",
                "DEVHOST_PARTITION_LEASE_SECONDS": str(LEASE_SECONDS),
                "AzureFunctionsJobHost__singleton__listenerLockPeriod": f"00:00:{LEASE_SECONDS}",
                "AzureFunctionsJobHost__singleton__listenerLockRecoveryPollingInterval": "00:00:05"}
    started = [product_runtime(azurite.connection_string, artifacts_dir, hub=hub, host_id=host_id,
                               activity_visibility=10, settings=settings, name=f"{host_id}-{number}",
                               log_level="DEBUG")
               for number in (1, 2)]
    try:
        for runtime in started:
            runtime.start()
        yield started
    finally:
        for runtime in started:
            runtime.stop()


def partition_owners(storage: str, hub: str) -> Counter:
    """How many control-queue partitions each instance holds, read from the task hub's lease blobs."""
    container = BlobServiceClient.from_connection_string(storage).get_container_client(f"{hub.lower()}-leases")
    owners = Counter()
    for blob in container.list_blobs(name_starts_with="ownership/"):
        if blob.lease.state == "leased":
            owners[json.loads(container.download_blob(blob.name).readall())["Owner"]] += 1
    return owners


def wait_for_balance(storage: str, hosts: list[Runtime]) -> Counter:
    expected = Counter({instance_of(runtime): 2 for runtime in hosts})
    return wait_for(lambda: (owners := partition_owners(storage, hosts[0].hub)) == expected and owners,
                    timeout=90, interval=1, what="the four partitions leased two to each host")


@pytest.fixture(scope="module")
def deployment(hosts, tmp_path_factory) -> dict:
    """One file per mini-batch, four at once, each scored by a script that gives every row back by file and
    row number."""
    model = register(hosts[0], unique("onnx"), onnx_model_bytes(), "model.onnx")
    folder = tmp_path_factory.mktemp("code")
    (folder / "score.py").write_text(ROWS_SCRIPT)
    code = hosts[0].post("api/codes", data=zip_folder(folder), params={"filename": "code.zip"}).json()
    return {"type": "model", "model": model["id"],
            "code_configuration": {"code": code["id"], "scoring_script": "score.py"},
            "settings": {"mini_batch_size": 1, "max_concurrency_per_instance": 2}, "resources": {"instance_count": 2}}


def new_endpoint(api: Runtime, deployment: dict, **fields) -> str:
    name = unique("scale")
    assert call(api, "PUT", f"api/batchEndpoints/{name}", json=fields).status_code == 201
    answer = call(api, "PUT", f"api/batchEndpoints/{name}/deployments/main", json=deployment)
    assert answer.status_code == 201, answer.text
    return name


@pytest.fixture(scope="module")
def endpoint(hosts, deployment) -> str:
    return new_endpoint(hosts[0], deployment)


def start_job(api: Runtime, storage: str, endpoint: str, files: int) -> tuple[str, list[pd.DataFrame]]:
    frames = [pd.DataFrame({"a": range(ROWS), "b": range(ROWS)}) for _ in range(files)]
    source = upload_csvs(storage, unique("scale"), frames)
    return invoke(api, endpoint, input=source)["name"], frames


def wait_for_job(api: Runtime, name: str, timeout: float = 300) -> dict:
    return wait_for(lambda: (job := call(api, "GET", f"api/jobs/{name}").json())["status"] in (
        "Completed", "Failed", "Canceled") and job, timeout=timeout, interval=1, what=f"job {name} to finish")


def assert_every_row_once(api: Runtime, job: dict, files: int, name: str = "part-{:03d}.csv") -> None:
    assert job["status"] == "Completed", job
    result = predictions(api, job)
    pairs = Counter(zip(result["file_name"], result["row"]))
    expected = {(name.format(i), row) for i in range(files) for row in range(ROWS)}
    assert [pair for pair, seen in pairs.items() if seen > 1] == [], "rows scored twice"
    assert sorted(expected - set(pairs)) == [], "rows missing"
    assert set(pairs) == expected and job["counts"]["rows_scored"] == len(expected)


def mini_batch_hosts(api: Runtime, name: str) -> Counter:
    batches = call(api, "GET", f"api/jobs/{name}/mini-batches").json()["value"]
    return Counter(batch["host"] for batch in batches)


def test_both_hosts_share_the_keys_and_the_partitions(hosts, storage):
    first, second = hosts
    assert (first.function_key, first.master_key) == (second.function_key, second.master_key)
    assert call(second, "GET", "api/batchEndpoints").status_code == 200
    owners = wait_for_balance(storage, hosts)
    assert set(owners) == {instance_of(first), instance_of(second)}


def test_a_job_of_200_mini_batches_runs_on_both_hosts_with_every_row_once(hosts, storage, endpoint):
    wait_for_balance(storage, hosts)
    name, _ = start_job(hosts[1], storage, endpoint, 200)
    job = wait_for_job(hosts[0], name)
    assert_every_row_once(hosts[0], job, 200)
    spread = mini_batch_hosts(hosts[0], name)
    assert set(spread) == {instance_of(hosts[0]), instance_of(hosts[1])}, spread
    assert sum(spread.values()) == 200


def jobs_of(api: Runtime, endpoint: str) -> list[dict]:
    return call(api, "GET", f"api/batchEndpoints/{endpoint}/jobs").json()["value"]


def lock_holder(storage: str, host_id: str, function: str) -> str | None:
    """The instance named on a timer's listener lock, while its lease is held."""
    blob = BlobServiceClient.from_connection_string(storage).get_blob_client(
        "azure-webjobs-hosts", f"locks/{host_id}/Host.Functions.{function}.Listener")
    properties = blob.get_blob_properties()
    return properties.metadata.get("FunctionInstance") if properties.lease.state == "leased" else None


def tick_runs(hosts: list[Runtime]) -> Counter:
    """How often each occurrence of the events_tick timer ran, on all the hosts."""
    pattern = re.compile(r"Executing 'Functions.events_tick' \(Reason='Timer fired at ([^']+)'")
    return Counter(occurrence for runtime in hosts for occurrence in pattern.findall(runtime.log_text()))


def test_the_schedule_tick_runs_on_one_host_and_each_occurrence_submits_one_job(hosts, storage, deployment):
    """events_tick, the timer that submits the jobs of due schedules, runs on the host holding its listener
    lock only: each of its occurrences runs once across the hosts, and every occurrence of a schedule due every
    5 s becomes one job."""
    holder = lock_holder(storage, hosts[0].host_id, "events_tick")
    assert holder in {instance_of(runtime) for runtime in hosts}
    idle = next(runtime for runtime in hosts if instance_of(runtime) != holder)
    assert "timer events_tick: another host holds the listener lock" in idle.log_text()

    endpoint = new_endpoint(hosts[0], deployment)
    source = upload_csvs(storage, unique("scheduled"), [pd.DataFrame({"a": range(ROWS)})])
    schedule = f"{endpoint}-every-5s"
    created = call(hosts[1], "PUT", f"api/schedules/{schedule}", json={
        "endpoint_name": endpoint, "trigger": {"type": "cron", "expression": "*/5 * * * * *"},
        "create_job": {"input": source}, "allow_concurrent_jobs": True})
    assert created.status_code == 201, created.text
    wait_for(lambda: len(jobs_of(hosts[0], endpoint)) >= 5, timeout=90, interval=1, what="five scheduled jobs")
    assert call(hosts[0], "POST", f"api/schedules/{schedule}/disable").json()["is_enabled"] is False
    jobs = jobs_of(hosts[0], endpoint)

    occurrences = Counter(job["source"]["occurrence"] for job in jobs)
    assert set(occurrences.values()) == {1}, occurrences
    assert all(job["source"]["schedule"] == schedule for job in jobs)
    ticks = tick_runs(hosts)
    assert len(ticks) >= 10 and set(ticks.values()) == {1}, "each tick ran on one host only"
    for job in jobs:
        assert_every_row_once(hosts[0], wait_for_job(hosts[0], job["name"]), 1)
    call(hosts[0], "DELETE", f"api/schedules/{schedule}")


def blob_trigger_runs(hosts: list[Runtime], prefix: str) -> Counter:
    """How often the inbox's blob trigger ran for each blob under prefix, on all the hosts."""
    pattern = re.compile(rf"Executing 'Functions.inbox_file_arrived' \(Reason='New blob detected: "
                         rf"workspaceblobstore/{re.escape(prefix)}([^']+)'")
    return Counter(name for runtime in hosts for name in pattern.findall(runtime.log_text()))


def test_an_inbox_burst_becomes_one_job_and_each_file_triggers_once_across_the_hosts(hosts, storage, deployment):
    endpoint = new_endpoint(hosts[0], deployment, inbox={"debounce_seconds": 3})
    prefix = f"inbox/{endpoint}/"
    inbox = BlobServiceClient.from_connection_string(storage).get_container_client("workspaceblobstore")
    files = 12
    for number in range(files):
        inbox.upload_blob(f"{prefix}file-{number:03d}.csv", pd.DataFrame({"a": range(ROWS)}).to_csv(index=False))

    wait_for(lambda: jobs_of(hosts[1], endpoint), timeout=60, interval=1, what="the inbox's job")
    job = wait_for_job(hosts[1], jobs_of(hosts[1], endpoint)[0]["name"])
    assert_every_row_once(hosts[1], job, files, name="file-{:03d}.csv")
    assert job["source"]["kind"] == "inbox" and len(job["source"]["blobs"]) == files
    assert len(jobs_of(hosts[0], endpoint)) == 1
    names = {f"file-{number:03d}.csv" for number in range(files)}
    wait_for(lambda: set(blob_trigger_runs(hosts, prefix)) == names, timeout=30, what="a blob trigger run per file")
    assert blob_trigger_runs(hosts, prefix) == Counter(names), "each file triggered once on one of the hosts"
    assert all(runtime.process.poll() is None for runtime in hosts)


def recorded_mini_batches(api: Runtime, name: str) -> int:
    return len(call(api, "GET", f"api/jobs/{name}/mini-batches").json()["value"])


def test_kill_9_of_a_host_mid_job_leaves_the_job_and_the_timer_to_the_other(hosts, storage, endpoint):
    """The host holding the tick's lock and half the partitions dies with mini-batches in flight. Once its leases
    run out the other host takes its partitions and the timer, and the job ends with every row once."""
    wait_for_balance(storage, hosts)
    holder = lock_holder(storage, hosts[0].host_id, "events_tick")
    doomed = next(runtime for runtime in hosts if instance_of(runtime) == holder)
    survivor = next(runtime for runtime in hosts if runtime is not doomed)
    name, _ = start_job(survivor, storage, endpoint, 200)
    wait_for(lambda: recorded_mini_batches(survivor, name) >= 20, timeout=120, interval=0.5,
             what="20 mini-batches recorded")
    doomed.kill()
    assert recorded_mini_batches(survivor, name) < 200, "the crash must land mid-job"

    job = wait_for_job(survivor, name)
    assert_every_row_once(survivor, job, 200)
    wait_for(lambda: partition_owners(storage, survivor.hub) == Counter({instance_of(survivor): 4}), timeout=60,
             interval=1, what="the other host to take all four partitions")
    wait_for(lambda: lock_holder(storage, survivor.host_id, "events_tick") == instance_of(survivor), timeout=60,
             interval=1, what="the other host to take the tick's listener lock")
    ticks_before = len(tick_runs([survivor]))
    wait_for(lambda: len(tick_runs([survivor])) > ticks_before, timeout=30, what="a tick on the other host")
    assert set(tick_runs(hosts).values()) == {1}, "each tick ran on one host only, before and after the crash"
