"""Bad input, as a careless user or an attacker sends it: each case answers its documented 4xx naming the
field, never a 500 and never a hang, and leaves nothing half-written behind."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from tests.model_builders import onnx_model_bytes, zip_entries

MIB = 1024 * 1024
HOST_BODY_LIMIT = 8 * MIB  # the host's request limit for this module (100 MiB by default)
OPEN_ROUTES = {"health", "openapi.json", "studio/{*path}"}  # all that answers without a key


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@dataclass
class Case:
    """One bad request: what is sent, the answer expected, and the field the error must name."""

    id: str
    method: str
    path: str
    status: int
    target: str | None = None
    code: str | None = None
    json: object = None
    data: bytes | str | None = None
    params: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)


@pytest.fixture(scope="module")
def product(start_product):
    return start_product(BATCH_OUTBOUND_ALLOW="127.0.0.1", FUNCTIONS_REQUEST_BODY_SIZE_LIMIT=str(HOST_BODY_LIMIT))


@pytest.fixture(scope="module")
def world(product, azurite):
    """An endpoint with a deployment, a datastore and a schedule the cases can aim at."""
    names = {"endpoint": unique("ep"), "datastore": unique("ds").replace("-", ""), "schedule": unique("sch"),
             "model": unique("m")}
    answer = product.post(f"api/models/{names['model']}/versions", data=onnx_model_bytes(),
                          params={"filename": "model.onnx"})
    assert answer.status_code == 201, answer.text
    model = answer.json()["id"]
    assert product._call("PUT", f"api/batchEndpoints/{names['endpoint']}", True, json={}).status_code == 201
    answer = product._call("PUT", f"api/batchEndpoints/{names['endpoint']}/deployments/main", True,
                           json={"type": "model", "model": model})
    assert answer.status_code == 201, answer.text
    answer = product._call("PUT", f"api/datastores/{names['datastore']}", True, json={
        "type": "azure_blob", "container_name": "workspaceblobstore",
        "credentials": {"connection_string": azurite.connection_string}})
    assert answer.status_code in (200, 201), answer.text
    return names


def cases(world: dict) -> list[Case]:
    endpoint, datastore = world["endpoint"], world["datastore"]
    jobs = f"api/batchEndpoints/{endpoint}/jobs"
    job = {"input": "azureml://datastores/workspaceblobstore/paths/nothing/", "input_type": "uri_folder"}
    deployment = f"api/batchEndpoints/{endpoint}/deployments/main"
    schedule = {"endpoint_name": endpoint, "trigger": {"type": "cron", "expression": "0 * * * *"},
                "create_job": job}
    datastore_body = {"type": "azure_blob", "container_name": "workspaceblobstore",
                      "account_url": "http://127.0.0.1:10000/devstoreaccount1"}
    return [
        Case("description of 70 KB", "PUT", f"api/batchEndpoints/{unique('ep')}", 400, "description",
             json={"description": "x" * 70_000}),
        Case("5,000 tags", "PUT", f"api/batchEndpoints/{unique('ep')}", 400, "tags",
             json={"tags": {f"t{i}": "v" for i in range(5000)}}),
        Case("a tag value of 40 KB", "PUT", f"api/batchEndpoints/{unique('ep')}", 400, "tags",
             json={"tags": {"big": "x" * 40_000}}),
        Case("properties of 600 KB", "PUT", f"api/batchEndpoints/{unique('ep')}", 400, "properties",
             json={"properties": {"notes": "x" * 600_000}}),
        Case("a JSON body of 2 MB", "PUT", f"api/batchEndpoints/{unique('ep')}", 413, "body",
             data=json.dumps({"description": "x" * (2 * MIB)}), headers={"Content-Type": "application/json"}),
        Case("an upload over the host's request limit", "POST", f"api/data/{unique('d')}/versions", 413,
             data=b"a,b\n" + b"1,2\n" * (HOST_BODY_LIMIT // 4), params={"filename": "big.csv", "type": "uri_file"}),
        Case("JSON nested 5,000 deep", "PUT", f"api/batchEndpoints/{unique('ep')}", 400, "body",
             data=nested(5000), headers={"Content-Type": "application/json"}),
        Case("JSON nested 100 deep", "POST", jobs, 400, "body",
             data=nested(100), headers={"Content-Type": "application/json"}),
        Case("a body that is not an object", "PUT", f"api/batchEndpoints/{unique('ep')}", 400, "body",
             json=[1, 2, 3]),
        Case("mini_batch_size true", "PATCH", deployment, 400, "settings.mini_batch_size",
             json={"settings": {"mini_batch_size": True}}),
        Case("mini_batch_size 10**30", "PATCH", deployment, 400, "settings.mini_batch_size",
             json={"settings": {"mini_batch_size": 10 ** 30}}),
        Case("max_retries above its bound", "PATCH", deployment, 400, "settings.max_retries",
             json={"settings": {"max_retries": 10 ** 6}}),
        Case("instance_count false", "PATCH", deployment, 400, "resources.instance_count",
             json={"resources": {"instance_count": False}}),
        Case("a job's mini_batch_size as a bool", "POST", jobs, 400, "settings.mini_batch_size",
             json={**job, "settings": {"mini_batch_size": True}}),
        Case("an output file name with a slash", "POST", jobs, 400, "output.file_name",
             json={**job, "output": {"file_name": "../p.csv"}}),
        Case("an input path with '..'", "POST", jobs, 400, "input",
             json={**job, "input": "azureml://datastores/workspaceblobstore/paths/a/../../b/"}),
        Case("an absolute local path as input", "POST", jobs, 400, "input",
             json={**job, "input": "/etc/passwd"}),
        Case("a cron that never fires", "PUT", f"api/schedules/{unique('s')}", 400, "trigger.expression",
             json={**schedule, "trigger": {"type": "cron", "expression": "0 0 30 2 *"}}),
        Case("a cron range running backwards", "PUT", f"api/schedules/{unique('s')}", 400, "trigger.expression",
             json={**schedule, "trigger": {"type": "cron", "expression": "1-0 * * * *"}}),
        Case("a recurrence interval of 0", "PUT", f"api/schedules/{unique('s')}", 400, "trigger.interval",
             json={**schedule, "trigger": {"type": "recurrence", "frequency": "minute", "interval": 0}}),
        Case("an empty code upload", "POST", "api/codes", 400, "file", data=b"",
             params={"filename": "code.zip"}, headers={"Content-Type": "application/zip"}),
        Case("a code zip with a backslash name", "POST", "api/codes", 400, "file",
             data=zip_entries({"dir\\score.py": b"def run(b):\n    return b\n"}),
             params={"filename": "code.zip"}, headers={"Content-Type": "application/zip"}),
        Case("a code zip with '..'", "POST", "api/codes", 400, "file",
             data=zip_entries({"../score.py": b"def run(b):\n    return b\n"}),
             params={"filename": "code.zip"}, headers={"Content-Type": "application/zip"}),
        Case("a data upload named as a folder", "POST", f"api/data/{unique('d')}/versions", 400, "filename",
             data=b"a,b\n1,2\n", params={"filename": "folder/"}),
        Case("a data upload named with '..'", "POST", f"api/data/{unique('d')}/versions", 400, "filename",
             data=b"a,b\n1,2\n", params={"filename": "../x.csv"}),
        Case("a model upload named with a backslash", "POST", f"api/models/{unique('m')}/versions", 400,
             "filename", data=onnx_model_bytes(), params={"filename": "a\\model.onnx"}),
        Case("If-None-Match * on an existing datastore", "PUT", f"api/datastores/{datastore}", 409, "name",
             json=datastore_body, headers={"If-None-Match": "*"}),
        Case("If-None-Match * on an existing endpoint", "PUT", f"api/batchEndpoints/{endpoint}", 409, "name",
             json={}, headers={"If-None-Match": "*"}),
        Case("If-Match on a missing endpoint", "PUT", f"api/batchEndpoints/{unique('ep')}", 412,
             json={}, headers={"If-Match": '"nope"'}),
        Case("If-Match on a missing datastore", "PUT", f"api/datastores/{unique('ds').replace('-', '')}", 412,
             json=datastore_body, headers={"If-Match": '"x"'}),
        Case("If-Match on a missing schedule", "PUT", f"api/schedules/{unique('s')}", 412,
             json=schedule, headers={"If-Match": '"x"'}),
        Case("If-Match on a missing deployment", "PATCH", f"api/batchEndpoints/{endpoint}/deployments/nope", 412,
             json={}, headers={"If-Match": '"x"'}),
        Case("a stale If-Match on delete", "DELETE", f"api/datastores/{datastore}", 412,
             headers={"If-Match": '"stale"'}),
    ]


def test_every_bad_request_answers_its_4xx_naming_the_field_and_keeps_nothing(product, world, azurite):
    failures = []
    codes_before = table_count(azurite.connection_string, "Codes")
    blobs_before = blob_names(azurite.connection_string)
    table = cases(world)
    for case in table:
        answer = product._call(case.method, case.path, True, json=case.json, data=case.data,
                               params=case.params, headers=case.headers)
        problem = None
        if answer.status_code != case.status:
            problem = f"status {answer.status_code} (wanted {case.status})"
        elif case.target is not None:
            try:
                error = answer.json()["error"]
            except (ValueError, KeyError):
                problem = f"no error body: {answer.text[:200]!r}"
            else:
                if error.get("target") != case.target:
                    problem = f"target {error.get('target')!r} (wanted {case.target!r}): {error.get('message')}"
                elif not error.get("message") or not error.get("code"):
                    problem = f"error without code or message: {error}"
        if problem:
            failures.append(f"{case.id}: {problem} — {answer.text[:300]}")
    assert not failures, "\n".join(failures)

    refused = {case.path for case in table if case.method in ("PUT", "POST") and case.status not in (409, 412)}
    for path in refused - {f"api/batchEndpoints/{world['endpoint']}/jobs", "api/codes"}:
        if path.endswith("/versions"):
            assert product.get(path).json()["value"] == [], f"{path} kept a version"
        else:
            assert product.get(path).status_code == 404, f"{path} was kept"
    assert table_count(azurite.connection_string, "Codes") == codes_before
    assert blob_names(azurite.connection_string) == blobs_before, "an upload left files behind"
    jobs = product.get(f"api/batchEndpoints/{world['endpoint']}/jobs").json()["value"]
    assert jobs == [], "a refused invoke left a job"
    deployment = product.get(f"api/batchEndpoints/{world['endpoint']}/deployments/main").json()
    assert deployment["settings"]["mini_batch_size"] == 10 and deployment["settings"]["retry_settings"]["max_retries"] == 3
    assert product.get(f"api/datastores/{world['datastore']}").status_code == 200, "a stale If-Match deleted it"


def table_count(storage: str, table: str) -> int:
    client = TableServiceClient.from_connection_string(storage).get_table_client(table)
    return sum(1 for _ in client.list_entities(select=["RowKey"]))


def blob_names(storage: str) -> set[str]:
    """Every blob but the job engine's and the host's own bookkeeping."""
    service = BlobServiceClient.from_connection_string(storage)
    names = set()
    for container in service.list_containers():
        if container.name in ("workspaceblobstore",):
            names |= {f"{container.name}/{b.name}" for b in service.get_container_client(container.name).list_blobs()}
    return names


def test_every_route_but_health_openapi_and_the_studio_answers_401_without_a_key(product):
    document = product.get("api/openapi.json", key=False).json()
    operations = [(method.upper(), path) for path, item in document["paths"].items() for method in item]
    assert len(operations) > 40
    for method, path in operations:
        route = path.removeprefix("/api/")
        if route in OPEN_ROUTES:
            continue
        concrete = "api/" + route.replace("{*path}", "x/y").replace("{", "").replace("}", "")
        answer = product._call(method, concrete, False, json={})
        assert answer.status_code == 401, f"{method} {path} answered {answer.status_code} without a key"
        assert product._call(method, concrete, False, json={}, headers={"x-functions-key": "wrong"}).status_code == 401
    assert product.get("api/health", key=False).status_code == 200
    assert product.get("api/studio/index.html", key=False).status_code == 200
