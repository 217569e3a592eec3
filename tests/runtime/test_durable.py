"""Durable Functions on the local runtime: apps written against the real SDK, run end to end on Azurite."""
from __future__ import annotations

import json
import multiprocessing
import socket
import uuid
from urllib.parse import urlsplit

import pytest
import requests
from azure.storage.blob import BlobServiceClient

from devhost.durable.activities import Doorbell
from devhost.http_server import DEFAULT_RPC_PORT, RPC_FALLBACK_PORTS
from tests.harness import APPS, wait_for
from tests.model_builders import zip_folder

FEATURES = APPS / "durable_features"
WEBHOOK = "runtime/webhooks/durabletask"


@pytest.fixture
def features(start_runtime):
    return start_runtime(FEATURES)


def start(runtime, name: str, payload=None, instance_id: str | None = None) -> dict:
    path = f"api/start/{name}" + (f"/{instance_id}" if instance_id else "")
    response = runtime.post(path, data=json.dumps(payload) if payload is not None else None)
    assert response.status_code == 202, response.text
    return response.json()


def run(runtime, name: str, payload=None, timeout: float = 120) -> dict:
    return runtime.wait_for_status(start(runtime, name, payload)["statusQueryGetUri"], timeout=timeout)


def status_via_sdk(runtime, instance_id: str) -> dict:
    response = runtime.get(f"api/instances/{instance_id}")
    assert response.status_code == 200, response.text
    return response.json()


def system_key(storage: str, runtime) -> str:
    """The durable extension's system key, from the host keys blob."""
    blob = BlobServiceClient.from_connection_string(storage).get_blob_client(
        "azure-webjobs-secrets", f"{runtime.host_id}/host.json")
    keys = json.loads(blob.download_blob().readall())["systemKeys"]
    return next(key["value"] for key in keys if key["name"] == "durabletask_extension")


def test_an_app_written_like_the_official_samples_runs_unmodified(start_runtime):
    runtime = start_runtime(APPS / "samples_v2")
    response = runtime.post("api/orchestrators/hello_orchestrator", key=False)
    assert response.status_code == 202
    payload = response.json()
    assert response.headers["Location"] == payload["statusQueryGetUri"]
    for key in ("sendEventPostUri", "terminatePostUri", "purgeHistoryDeleteUri"):
        assert payload[key].startswith(runtime.base_url)
    final = runtime.wait_for_status(payload["statusQueryGetUri"])
    assert final["runtimeStatus"] == "Completed"
    assert final["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    assert "Executed 'Functions.say_hello' (Succeeded" in runtime.log_text()


def test_fan_out_fan_in_of_200_activities(features):
    final = run(features, "fan_out", 200)
    assert final["runtimeStatus"] == "Completed"
    assert final["output"] == {"count": 200, "sum": 2 * sum(range(200))}


def test_activity_chaining_passes_each_output_on(features):
    assert run(features, "chain", 3)["output"] == 14


def test_an_activity_failing_twice_succeeds_on_its_third_retry(features, tmp_path):
    final = run(features, "with_retry", {"dir": str(tmp_path), "token": "a", "failures": 2})
    assert final["runtimeStatus"] == "Completed"
    assert final["output"] == "succeeded on call 3"
    assert (tmp_path / "flaky-a").read_text() == "3"


def test_retries_run_out_and_the_orchestrator_sees_the_failure(features, tmp_path):
    final = run(features, "retry_exhausted", {"dir": str(tmp_path), "token": "b", "always": True})
    assert final["output"] == {"caught": True}
    assert (tmp_path / "flaky-b").read_text() == "2"


def test_a_durable_timer_waits_before_the_orchestration_goes_on(features):
    final = run(features, "durable_timer", 2)
    assert final["runtimeStatus"] == "Completed"
    assert final["output"] >= 2


def test_an_external_event_resumes_a_waiting_orchestration(features):
    instance = start(features, "approval")
    wait_for(lambda: status_via_sdk(features, instance["id"]).get("customStatus") == {"stage": "waiting for approval"},
             what="custom status")
    response = features.post(f"api/instances/{instance['id']}/raise-Approval", json={"approved": True})
    assert response.status_code == 202
    final = features.wait_for_status(instance["statusQueryGetUri"])
    assert final["output"] == {"decision": {"approved": True}}
    assert final["customStatus"] == {"stage": "decided"}


def test_sub_orchestrations_return_their_results_to_the_parent(features):
    final = run(features, "parent", [1, 2, 3])
    assert final["runtimeStatus"] == "Completed"
    assert [child["value"] for child in final["output"]] == [2, 4, 6]
    parent_id = final["instanceId"]
    assert all(child["parent"] == parent_id for child in final["output"])
    assert len({child["child"] for child in final["output"]}) == 3


def test_a_failing_sub_orchestration_raises_in_the_parent(features):
    final = run(features, "parent_of_failing")
    assert final["runtimeStatus"] == "Completed"
    assert "boom" in final["output"]["caught"]


def test_continue_as_new_restarts_with_new_input_and_fresh_history(features):
    final = run(features, "counter", 0)
    assert final["runtimeStatus"] == "Completed"
    assert final["output"] == 5
    history = status_via_sdk(features, final["instanceId"])["historyEvents"]
    started = [e for e in history if e["EventType"] == "ExecutionStarted"]
    assert len(started) == 1, "only the last execution's history is kept"


def test_terminate_stops_a_running_orchestration(features):
    instance = start(features, "wait_forever")
    wait_for(lambda: status_via_sdk(features, instance["id"])["runtimeStatus"] == "Running", what="running")
    assert features.post(f"api/instances/{instance['id']}/terminate").status_code == 202
    final = features.wait_for_status(instance["statusQueryGetUri"])
    assert final["runtimeStatus"] == "Terminated"
    assert final["output"] == "stopped by test"


def test_task_any_returns_the_first_task_to_finish(features):
    instance = start(features, "race", 60)
    wait_for(lambda: status_via_sdk(features, instance["id"])["runtimeStatus"] == "Running", what="running")
    features.post(f"api/instances/{instance['id']}/raise-Go", json="now")
    assert features.wait_for_status(instance["statusQueryGetUri"])["output"] == {"winner": "event", "value": "now"}
    assert run(features, "race", 1)["output"] == {"winner": "timer"}


def test_a_failed_activity_fails_the_orchestration_with_its_message(features):
    final = run(features, "failing")
    assert final["runtimeStatus"] == "Failed"
    assert "boom" in final["output"]


def test_rewind_reruns_the_failed_activity_and_completes(features, tmp_path):
    final = run(features, "single_flaky", {"dir": str(tmp_path), "token": "r", "failures": 1})
    assert final["runtimeStatus"] == "Failed"
    assert features.post(f"api/instances/{final['instanceId']}/rewind").status_code == 202
    final = wait_for(lambda: (s := status_via_sdk(features, final["instanceId"]))["runtimeStatus"] == "Completed"
                     and s, what="completed after rewind")
    assert final["output"] == "succeeded on call 2"


def test_a_suspended_orchestration_holds_its_events_until_resumed(features):
    instance = start(features, "approval")
    wait_for(lambda: status_via_sdk(features, instance["id"])["runtimeStatus"] == "Running", what="running")
    features.post(f"api/instances/{instance['id']}/suspend")
    wait_for(lambda: status_via_sdk(features, instance["id"])["runtimeStatus"] == "Suspended", what="suspended")
    features.post(f"api/instances/{instance['id']}/raise-Approval", json="yes")
    assert requests.get(instance["statusQueryGetUri"], timeout=10).json()["runtimeStatus"] == "Suspended"
    features.post(f"api/instances/{instance['id']}/resume")
    final = features.wait_for_status(instance["statusQueryGetUri"])
    assert final["output"] == {"decision": "yes"}


def test_instances_are_listed_queried_and_purged(features):
    final = run(features, "chain", 1)
    instance_id = final["instanceId"]
    assert instance_id in features.get("api/instances?status=Completed").json()
    assert instance_id not in features.get("api/instances?status=Running").json()
    history = status_via_sdk(features, instance_id)["historyEvents"]
    scheduled = [e for e in history if e["EventType"] == "TaskScheduled"]
    assert [e["FunctionName"] for e in scheduled] == ["double", "increment", "double"]
    assert features.post(f"api/instances/{instance_id}/purge").json() == {"deleted": 1}
    assert features.get(f"api/instances/{instance_id}").status_code == 404


def test_payloads_too_big_for_a_table_row_or_a_queue_message_go_through_blobs(features):
    final = run(features, "big_payload", 200_000)
    assert final["runtimeStatus"] == "Completed"
    assert final["output"] == 200_000


def test_management_webhooks_need_the_system_key(features):
    instance = start(features, "chain", 1)
    status_url = instance["statusQueryGetUri"]
    assert requests.get(status_url.split("?")[0], timeout=10).status_code == 401
    assert requests.get(status_url, timeout=10).status_code in (200, 202)


def test_starting_unknown_orchestrators_or_duplicate_running_ids_is_refused(features):
    code = features.log_text()  # the system key is in any status URL
    instance = start(features, "wait_forever", instance_id=f"fixed-{uuid.uuid4().hex[:8]}")
    system_query = instance["statusQueryGetUri"].split("?", 1)[1]
    base = f"{features.base_url}/runtime/webhooks/durabletask"
    unknown = requests.post(f"{base}/orchestrators/no_such_orchestrator?{system_query}", timeout=10)
    assert unknown.status_code == 400
    assert "no_such_orchestrator" in unknown.json()["ExceptionMessage"]
    duplicate = requests.post(f"{base}/orchestrators/wait_forever/{instance['id']}?{system_query}", timeout=10)
    assert duplicate.status_code == 409
    assert code


def test_the_check_status_webhook_urls_raise_terminate_and_purge(features):
    waiting = start(features, "approval")
    wait_for(lambda: requests.get(waiting["statusQueryGetUri"], timeout=10).json()["runtimeStatus"] == "Running",
             what="running")
    raised = requests.post(waiting["sendEventPostUri"].replace("{eventName}", "Approval"), json="via webhook",
                           timeout=10)
    assert raised.status_code == 202
    assert features.wait_for_status(waiting["statusQueryGetUri"])["output"] == {"decision": "via webhook"}

    forever = start(features, "wait_forever")
    stopped = requests.post(forever["terminatePostUri"].replace("{text}", "enough"), timeout=10)
    assert stopped.status_code == 202
    final = features.wait_for_status(forever["statusQueryGetUri"])
    assert (final["runtimeStatus"], final["output"]) == ("Terminated", "enough")
    assert requests.post(forever["terminatePostUri"].replace("{text}", "again"), timeout=10).status_code == 410

    purged = requests.delete(forever["purgeHistoryDeleteUri"], timeout=10)
    assert purged.json() == {"instancesDeleted": 1}
    assert requests.get(forever["statusQueryGetUri"], timeout=10).status_code == 404


# -- the SDK's RPC endpoint ----------------------------------------------------------------------------
BINDING_APP = """
import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="binding")
@app.generic_input_binding(arg_name="client", type="durableClient")
def binding(req: func.HttpRequest, client: str) -> func.HttpResponse:
    return func.HttpResponse(client, mimetype="application/json")
"""


def test_the_apps_port_does_not_serve_the_sdks_rpc_endpoint(features, storage):
    code = system_key(storage, features)
    calls = [("GET", "durabletask/instances"), ("DELETE", "durabletask/instances"),
             ("GET", "durabletask/instances/x"), ("DELETE", "durabletask/instances/x"),
             ("POST", "durabletask/instances/x/terminate"), ("POST", "durabletask/orchestrators/chain"),
             ("POST", "durabletask/orchestrators/chain/by-rpc")]
    for method, path in calls:
        for key in (None, features.master_key, code):
            answer = requests.request(method, features.url(path), params={"code": key} if key else None,
                                      data="1", timeout=30)
            assert answer.status_code == 404, (method, path, answer.status_code, answer.text)
    listed = requests.get(features.url(f"{WEBHOOK}/instances"), params={"code": code}, timeout=30)
    assert (listed.status_code, listed.json()) == (200, [])


def test_the_rpc_base_url_is_a_loopback_listener_of_its_own_on_another_port_when_17071_is_taken(
        start_runtime, tmp_path):
    (tmp_path / "function_app.py").write_text(BINDING_APP)
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a server would, past TIME_WAITs
        try:
            holder.bind(("127.0.0.1", DEFAULT_RPC_PORT))
            holder.listen()
            held = True
        except OSError:  # another host has it, and may let it go meanwhile
            held = False
        runtime = start_runtime(tmp_path)
    binding = runtime.get("api/binding", key=False).json()
    rpc = urlsplit(binding["rpcBaseUrl"])
    assert (rpc.scheme, rpc.hostname, rpc.path) == ("http", "127.0.0.1", "/durabletask/")
    assert rpc.port != runtime.port
    assert rpc.port in RPC_FALLBACK_PORTS or (not held and rpc.port == DEFAULT_RPC_PORT)
    assert binding["baseUrl"] == runtime.url(WEBHOOK)
    assert requests.get(f"{binding['rpcBaseUrl']}instances", timeout=30).json() == []
    assert requests.get(f"http://127.0.0.1:{rpc.port}/api/binding", timeout=30).status_code == 404
    browser = {"Origin": "http://example.com"}
    assert requests.get(f"{binding['rpcBaseUrl']}instances", headers=browser, timeout=30).status_code == 403
    rebound = {"Host": f"rebound.example:{rpc.port}"}
    assert requests.get(f"{binding['rpcBaseUrl']}instances", headers=rebound, timeout=30).status_code == 403


def test_no_answer_of_the_products_api_carries_the_durable_system_key(product, storage, tmp_path):
    """A job submitted, shown and listed: its orchestration starts through the SDK, and nothing of the RPC
    endpoint's answer (status URLs with the system key) reaches the product's callers."""
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights.bin").write_bytes(b"weights")
    name = f"rpc-{uuid.uuid4().hex[:8]}"
    answers = [product.post(f"api/models/{name}/versions", data=zip_folder(tmp_path / "model"),
                            params={"filename": "model.zip"}),
               product.post("api/codes", data=b"def init():\n    pass\n", params={"filename": "score.py"}),
               product._call("PUT", f"api/batchEndpoints/{name}", True, json={})]
    model, code = answers[0].json(), answers[1].json()
    deployment = {"type": "model", "model": model["id"],
                  "code_configuration": {"code": code["id"], "scoring_script": "score.py"}}
    answers.append(product._call("PUT", f"api/batchEndpoints/{name}/deployments/main", True, json=deployment))
    answers.append(product.post(f"api/batchEndpoints/{name}/jobs",
                                json={"input": "azureml://datastores/workspaceblobstore/paths/nothing/"}))
    job = answers[-1].json()["name"]
    answers += [product.get(f"api/jobs/{job}"), product.get(f"api/batchEndpoints/{name}/jobs")]
    assert [answer.status_code for answer in answers] == [201, 201, 201, 201, 202, 200, 200], answers[-3].text
    key = system_key(storage, product)
    for answer in answers:
        assert key not in answer.text and key not in str(answer.headers), answer.url
    started = requests.get(product.url(f"{WEBHOOK}/instances/{job}"), params={"code": key}, timeout=30)
    assert started.status_code != 404, started.text  # the job's orchestration was started through the SDK


def wait_on(bell: Doorbell) -> None:
    bell.wait(120)


def test_a_worker_waiting_on_its_doorbell_wakes_when_rung_and_ringing_a_dead_workers_bell_never_blocks():
    """The host rings a worker when it sends work (and workers ring the host with results) instead of each
    polling shared counters: a worker that dies must never stall the one that rings."""
    context = multiprocessing.get_context("spawn")
    bell = Doorbell(context)
    waiter = context.Process(target=wait_on, args=(bell,), daemon=True)
    waiter.start()
    bell.ring()
    waiter.join(60)
    assert waiter.exitcode == 0  # woken by the ring, long before its two minutes
    for _ in range(100_000):  # far more than a pipe holds, with no one reading
        bell.ring()
    bell.wait(120)  # rung already: no wait
    bell.close()
