"""Scale-out as Azure Functions does it: two hosts on one storage account, task hub and host id are two
instances of one app. They share the host keys, lease the task hub's partitions between them, both pull the
work items, run a timer on one of them at a time and a blob trigger once per blob; when one dies, the other
takes its partitions once their leases run out, and a job still ends with every row exactly once."""
from __future__ import annotations

import json
import socket
import uuid
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from azure.storage.blob import BlobServiceClient

from tests.harness import Runtime, product_runtime, wait_for
from tests.model_builders import onnx_model_bytes
from tests.runtime.test_jobs import call, custom_endpoint, invoke, predictions, register, unique, upload_csvs

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
    """Two hosts of the product on one storage, task hub and host id, with short leases."""
    hub, host_id = f"Scale{uuid.uuid4().hex[:10]}", f"scale-{uuid.uuid4().hex[:10]}"
    settings = {"BATCH_OUTBOUND_ALLOW": "127.0.0.1", "BATCH_SLICE_SIZE": "50",
                "DEVHOST_PARTITION_LEASE_SECONDS": str(LEASE_SECONDS),
                "AzureFunctionsJobHost__singleton__listenerLockPeriod": f"00:00:{LEASE_SECONDS}",
                "AzureFunctionsJobHost__singleton__listenerLockRecoveryPollingInterval": "00:00:05"}
    started = [product_runtime(azurite.connection_string, artifacts_dir, hub=hub, host_id=host_id,
                               activity_visibility=10, settings=settings, name=f"{host_id}-{number}")
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
def endpoint(hosts, tmp_path_factory) -> str:
    """One file per mini-batch, four at once, each scored by a script that gives every row back by file and
    row number."""
    model = register(hosts[0], unique("onnx"), onnx_model_bytes(), "model.onnx")
    return custom_endpoint(hosts[0], tmp_path_factory.mktemp("code"), ROWS_SCRIPT, model,
                           settings={"mini_batch_size": 1, "max_concurrency_per_instance": 2},
                           resources={"instance_count": 2})


def start_job(api: Runtime, storage: str, endpoint: str, files: int) -> tuple[str, list[pd.DataFrame]]:
    frames = [pd.DataFrame({"a": range(ROWS), "b": range(ROWS)}) for _ in range(files)]
    source = upload_csvs(storage, unique("scale"), frames)
    return invoke(api, endpoint, input=source)["name"], frames


def wait_for_job(api: Runtime, name: str, timeout: float = 300) -> dict:
    return wait_for(lambda: (job := call(api, "GET", f"api/jobs/{name}").json())["status"] in (
        "Completed", "Failed", "Canceled") and job, timeout=timeout, interval=1, what=f"job {name} to finish")


def assert_every_row_once(api: Runtime, job: dict, files: int) -> None:
    assert job["status"] == "Completed", job
    result = predictions(api, job)
    pairs = Counter(zip(result["file_name"], result["row"]))
    expected = {(f"part-{i:03d}.csv", row) for i in range(files) for row in range(ROWS)}
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
