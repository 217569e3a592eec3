"""Storage that does not answer: the API says 503 with Retry-After while the app's own storage is down and
recovers by itself when it is back; a datastore that refuses connections fails its own job, not the others."""
from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

import pytest

from devhost.azurite import Azurite, free_port
from tests.harness import Runtime, wait_for
from tests.model_builders import onnx_model_bytes
from tests.runtime.test_jobs import TERMINAL, input_frames, upload_csvs

ROOT = Path(__file__).resolve().parents[2]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def own_storage(tmp_path, artifacts_dir):
    """An Azurite of this test's own, kept on disk so it can be stopped and started again."""
    emulator = Azurite((free_port(), free_port(), free_port()), location=tmp_path / "azurite",
                       log_file=artifacts_dir / "azurite-own.log")
    emulator.start()
    yield emulator
    emulator.stop()


def test_the_api_answers_503_with_retry_after_while_its_storage_is_down_and_recovers_by_itself(
        own_storage, artifacts_dir):
    runtime = Runtime(ROOT, own_storage.connection_string, artifacts_dir, env={"PYTHON_SCRIPT_FILE_NAME": "batch_app.py"})
    runtime.start()
    try:
        endpoint = unique("ep")
        assert runtime._call("PUT", f"api/batchEndpoints/{endpoint}", True, json={}).status_code == 201
        own_storage.stop()
        for method, path, body in (("GET", "api/batchEndpoints", None), ("GET", f"api/batchEndpoints/{endpoint}", None),
                                   ("PUT", f"api/batchEndpoints/{unique('ep')}", {})):
            answer = runtime._call(method, path, True, json=body)
            assert answer.status_code == 503, (path, answer.status_code, answer.text)
            assert int(answer.headers["Retry-After"]) > 0
            assert answer.json()["error"]["code"] == "ServiceUnavailable"
        assert runtime.get("api/health", key=False).status_code == 200
        own_storage.start()
        listed = wait_for(lambda: (answer := runtime.get("api/batchEndpoints")).status_code == 200 and answer.json(),
                          timeout=60, what="the API to answer again")
        assert endpoint in [item["name"] for item in listed["value"]]
        assert runtime.process.poll() is None
    finally:
        runtime.stop()


def test_a_host_whose_storage_is_gone_still_stops_when_told_giving_up_its_leases_to_run_out(own_storage,
                                                                                            artifacts_dir):
    runtime = Runtime(ROOT, own_storage.connection_string, artifacts_dir, env={"PYTHON_SCRIPT_FILE_NAME": "batch_app.py"})
    runtime.start()
    try:
        wait_for(lambda: "runs them now" in runtime.log_text(), timeout=30, what="the host to hold its partitions")
        own_storage.stop()
        wait_for(lambda: "the storage does not answer" in runtime.log_text(), timeout=30, what="the host to notice")
        os.killpg(runtime.process.pid, signal.SIGTERM)
        assert runtime.process.wait(20) == 0  # each lease request's retries alone had held it for 42 s
        assert "stopping without giving back every lease" in runtime.log_text()
    finally:
        runtime.kill()


def test_a_datastore_that_refuses_connections_fails_its_job_while_another_job_completes(product, storage):
    model = product.post(f"api/models/{unique('m')}/versions", data=onnx_model_bytes(),
                         params={"filename": "model.onnx"}).json()
    endpoint = unique("ep")
    assert product._call("PUT", f"api/batchEndpoints/{endpoint}", True, json={}).status_code == 201
    assert product._call("PUT", f"api/batchEndpoints/{endpoint}/deployments/main", True,
                         json={"type": "model", "model": model["id"]}).status_code == 201
    dead = unique("dead").replace("-", "")
    answer = product._call("PUT", f"api/datastores/{dead}", True, json={
        "type": "azure_blob", "container_name": "inputs", "account_url": f"http://127.0.0.1:{free_port()}/acct",
        "credentials": {"account_key": "a2V5"}})
    assert answer.status_code in (200, 201), answer.text

    stuck = product._call("POST", f"api/batchEndpoints/{endpoint}/jobs", True, json={
        "input": f"azureml://datastores/{dead}/paths/data/", "input_type": "uri_folder"})
    assert stuck.status_code == 202, stuck.text
    source = upload_csvs(storage, unique("alive"), input_frames(3, rows=5))
    alive = product._call("POST", f"api/batchEndpoints/{endpoint}/jobs", True, json={"input": source})
    assert alive.status_code == 202, alive.text

    def finished(name):
        job = product.get(f"api/jobs/{name}").json()
        return job if job["status"] in TERMINAL else None

    completed = wait_for(lambda: finished(alive.json()["name"]), timeout=120, what="the job on the default datastore")
    assert completed["status"] == "Completed" and completed["counts"]["rows_scored"] == 5 + 6 + 7
    failed = wait_for(lambda: finished(stuck.json()["name"]), timeout=120, what="the job on the dead datastore")
    assert failed["status"] == "Failed", failed
    message = failed["error"]["message"]
    assert dead in message or "127.0.0.1" in message, message
    assert "Traceback" not in message and "/work/" not in message and "site-packages" not in message
