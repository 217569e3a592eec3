"""The resources API: models, datastores, data assets, code assets, batch endpoints and deployments."""
from __future__ import annotations

import json
import threading
import uuid

import pytest
import requests
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from tests.model_builders import mlflow_model_folder, onnx_model_bytes, zip_folder


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def mlflow_zip(tmp_path_factory) -> bytes:
    return zip_folder(mlflow_model_folder(tmp_path_factory.mktemp("mlflow") / "model"))


@pytest.fixture(scope="module")
def code_zip(tmp_path_factory) -> bytes:
    folder = tmp_path_factory.mktemp("code")
    (folder / "score.py").write_text("def init():\n    pass\n\n\ndef run(mini_batch):\n    return mini_batch\n")
    return zip_folder(folder)


def upload_model(api, name: str, data: bytes, filename: str = "model.zip", **params):
    return api.post(f"api/models/{name}/versions", data=data,
                    params={"filename": filename, **params}, headers={"Content-Type": "application/zip"})


def error_of(response) -> dict:
    return response.json()["error"]


def blob_names(storage: str, container: str, prefix: str) -> list[str]:
    client = BlobServiceClient.from_connection_string(storage).get_container_client(container)
    return [b.name for b in client.list_blobs(name_starts_with=prefix)]


def path_in_datastore(uri: str) -> str:
    """azureml://datastores/<ds>/paths/<p> -> <p>"""
    return uri.split("/paths/", 1)[1]


def table_rows(storage: str, table: str, partition: str) -> list[dict]:
    client = TableServiceClient.from_connection_string(storage).get_table_client(table)
    return list(client.query_entities("PartitionKey eq @pk", parameters={"pk": partition}))


def put(api, path: str, body: dict, **headers):
    return api._call("PUT", path, True, json=body, headers=headers)


def patch(api, path: str, body: dict, **headers):
    return api._call("PATCH", path, True, json=body, headers=headers)


def delete(api, path: str, **headers):
    return api._call("DELETE", path, True, headers=headers)


@pytest.fixture(scope="module")
def registered_model(product, mlflow_zip) -> str:
    name = unique("clf")
    assert upload_model(product, name, mlflow_zip).status_code == 201
    return name


# -- models ----------------------------------------------------------------------------------------
def test_an_uploaded_mlflow_model_gets_version_1_and_its_flavors_and_signature(product, mlflow_zip):
    name = unique("model")
    response = upload_model(product, name, mlflow_zip, description="a classifier", tags=json.dumps({"team": "x"}))
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["version"], body["id"], body["format"], body["type"]) == (1, f"azureml:{name}:1", "mlflow",
                                                                          "mlflow_model")
    assert {"python_function", "sklearn"} <= set(body["flavors"])
    assert [c["name"] for c in body["signature"]["inputs"]] == ["f0", "f1", "f2", "f3"]
    assert body["tags"] == {"team": "x"} and "MLmodel" in body["files"]
    assert response.headers["ETag"]

    second = upload_model(product, name, mlflow_zip).json()
    assert second["version"] == 2
    assert product.get(f"api/models/{name}/versions/latest").json()["version"] == 2
    assert [v["version"] for v in product.get(f"api/models/{name}/versions").json()["value"]] == [2, 1]
    listed = {m["name"]: m["version"] for m in product.get("api/models").json()["value"]}
    assert listed[name] == 2


def test_an_onnx_file_is_registered_with_its_graph_inputs_and_outputs(product):
    name = unique("onnx")
    response = upload_model(product, name, onnx_model_bytes(), filename="model.onnx")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["format"] == "onnx" and body["type"] == "custom_model"
    assert body["onnx_inputs"][0]["type"] == "tensor(float)"
    assert len(body["onnx_outputs"]) == 2


def test_a_model_is_registered_from_a_datastore_path(product, storage, tmp_path):
    folder = mlflow_model_folder(tmp_path / "m")
    container = BlobServiceClient.from_connection_string(storage).get_container_client("workspaceblobstore")
    prefix = f"incoming/{uuid.uuid4().hex}/"
    for path in folder.iterdir():
        container.upload_blob(prefix + path.name, path.read_bytes())
    name = unique("frompath")
    response = product.post(f"api/models/{name}/versions",
                            json={"path": f"azureml://datastores/workspaceblobstore/paths/{prefix}"})
    assert response.status_code == 201, response.text
    assert response.json()["format"] == "mlflow"


@pytest.mark.parametrize("case, expected_status, expected_target", [
    ("bad name", 400, "name"),
    ("no filename", 400, "filename"),
    ("not a model file", 400, "file"),
    ("missing path", 400, "path"),
    ("bad version", 400, "version"),
])
def test_bad_model_registrations_are_refused_naming_the_field(product, case, expected_status, expected_target):
    name = unique("bad")
    if case == "bad name":
        response = upload_model(product, "-no", b"x")
    elif case == "no filename":
        response = product.post(f"api/models/{name}/versions", data=b"x")
    elif case == "not a model file":
        response = upload_model(product, name, b"plain text", filename="notes.txt")
    elif case == "missing path":
        response = product.post(f"api/models/{name}/versions",
                                json={"path": "azureml://datastores/workspaceblobstore/paths/nothing/here/"})
    else:
        response = upload_model(product, name, b"x", version="abc")
    assert response.status_code == expected_status, response.text
    error = error_of(response)
    assert error["target"] == expected_target and error["code"] and error["message"]


def test_an_explicit_duplicate_version_conflicts_and_unknown_models_are_404(product, mlflow_zip):
    name = unique("dup")
    assert upload_model(product, name, mlflow_zip, version="3").json()["version"] == 3
    duplicate = upload_model(product, name, mlflow_zip, version="3")
    assert duplicate.status_code == 409 and error_of(duplicate)["code"] == "ResourceAlreadyExists"
    missing = product.get(f"api/models/{unique('none')}/versions/1")
    assert missing.status_code == 404 and error_of(missing)["code"] == "ResourceNotFound"


def test_an_unused_model_version_is_deleted_with_its_files(product, mlflow_zip, storage):
    name = unique("gone")
    prefix = path_in_datastore(upload_model(product, name, mlflow_zip).json()["path"])
    assert prefix.startswith(f"models/{name}/") and blob_names(storage, "workspaceblobstore", prefix)
    assert delete(product, f"api/models/{name}/versions/1").status_code == 204
    assert product.get(f"api/models/{name}/versions/1").status_code == 404
    assert blob_names(storage, "workspaceblobstore", f"models/{name}/") == []


def test_racing_registrations_of_one_model_get_distinct_versions_and_files(product, mlflow_zip, storage):
    name = unique("race")
    onnx = onnx_model_bytes()
    uploads = [(mlflow_zip, "model.zip"), (onnx, "model.onnx")] * 3
    answers: list = [None] * len(uploads)

    def register(i: int) -> None:
        answers[i] = upload_model(product, name, uploads[i][0], filename=uploads[i][1])

    threads = [threading.Thread(target=register, args=(i,)) for i in range(len(uploads))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(a.status_code == 201 for a in answers), [a.text for a in answers]
    assert sorted(a.json()["version"] for a in answers) == list(range(1, len(uploads) + 1))
    for answer, (_, filename) in zip(answers, uploads):
        body = answer.json()
        stored = product.get(f"api/models/{name}/versions/{body['version']}").json()
        assert stored["format"] == ("onnx" if filename.endswith(".onnx") else "mlflow")
        files = blob_names(storage, "workspaceblobstore", path_in_datastore(stored["path"]))
        assert sorted(f.rsplit("/", 1)[-1] for f in files) == sorted(p.rsplit("/", 1)[-1] for p in stored["files"])


# -- datastores ------------------------------------------------------------------------------------
def test_the_default_datastore_exists_and_cannot_be_removed(product):
    names = [d["name"] for d in product.get("api/datastores").json()["value"]]
    assert "workspaceblobstore" in names
    assert product.get("api/datastores/workspaceblobstore").json()["is_default"] is True
    response = delete(product, "api/datastores/workspaceblobstore")
    assert response.status_code == 409


def test_a_registered_datastore_never_shows_its_secret(product, azurite):
    name = f"ds_{uuid.uuid4().hex[:8]}"
    secret = "c2VjcmV0LWtleS10aGF0LW11c3Qtbm90LWxlYWs="
    body = {"type": "azure_blob", "account_name": "someaccount", "container_name": "data",
            "credentials": {"account_key": secret}}
    response = put(product, f"api/datastores/{name}", body)
    assert response.status_code == 200, response.text
    for text in (response.text, product.get(f"api/datastores/{name}").text, product.get("api/datastores").text):
        assert secret not in text
    assert product.get(f"api/datastores/{name}").json()["credentials"] == {"type": "account_key"}
    assert put(product, "api/datastores/bad-name", body).status_code == 400
    assert error_of(put(product, f"api/datastores/{name}", {"container_name": "data"}))["code"] == "ValidationError"
    assert delete(product, f"api/datastores/{name}").status_code == 204
    assert product.get(f"api/datastores/{name}").status_code == 404


# -- data assets -----------------------------------------------------------------------------------
def test_data_assets_from_paths_and_uploads_are_versioned(product, storage):
    name = unique("data")
    by_path = product.post(f"api/data/{name}/versions", json={
        "type": "uri_folder", "path": "azureml://datastores/workspaceblobstore/paths/inputs/"})
    assert by_path.status_code == 201 and by_path.json()["version"] == 1
    by_url = product.post(f"api/data/{name}/versions", json={"type": "uri_file", "path": "https://example.com/a.csv"})
    assert by_url.json()["version"] == 2
    uploaded = product.post(f"api/data/{name}/versions", data=b"a,b\n1,2\n",
                            params={"filename": "rows.csv", "type": "uri_file"})
    assert uploaded.status_code == 201, uploaded.text
    stored_file = path_in_datastore(uploaded.json()["path"])
    assert stored_file.startswith(f"data/{name}/") and stored_file.endswith("/rows.csv")
    assert blob_names(storage, "workspaceblobstore", f"data/{name}/") == [stored_file]
    assert product.get(f"api/data/{name}/versions/latest").json()["version"] == 3
    assert delete(product, f"api/data/{name}/versions/3").status_code == 204
    assert blob_names(storage, "workspaceblobstore", f"data/{name}/") == []


def test_bad_data_assets_are_refused(product):
    name = unique("data")
    local = product.post(f"api/data/{name}/versions", json={"type": "uri_file", "path": "C:/my/file.csv"})
    assert local.status_code == 400 and error_of(local)["target"] == "path"
    missing = product.post(f"api/data/{name}/versions",
                           json={"type": "uri_folder", "path": "azureml://datastores/nosuchstore/paths/x/"})
    assert missing.status_code == 400 and error_of(missing)["code"] == "ReferenceNotFound"
    wrong_type = product.post(f"api/data/{name}/versions", json={"type": "mltable", "path": "https://x/y"})
    assert wrong_type.status_code == 400 and error_of(wrong_type)["target"] == "type"


# -- endpoints and deployments -----------------------------------------------------------------------
def test_an_endpoint_is_created_with_its_scoring_uri_and_refused_twice(product):
    name = unique("ep")
    response = put(product, f"api/batchEndpoints/{name}", {"description": "demo", "tags": {"a": "b"}},
                   **{"If-None-Match": "*"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["scoring_uri"] == f"{product.base_url}/api/batchEndpoints/{name}/jobs"
    assert (body["provisioning_state"], body["auth_mode"], body["defaults"]) == ("Succeeded", "key",
                                                                                  {"deployment_name": None})
    assert body["created_at"].endswith("Z")
    again = put(product, f"api/batchEndpoints/{name}", {}, **{"If-None-Match": "*"})
    assert again.status_code == 409 and error_of(again)["code"] == "ResourceAlreadyExists"
    assert name in [e["name"] for e in product.get("api/batchEndpoints").json()["value"]]


@pytest.mark.parametrize("name", ["1starts-with-digit", "ab", "ends-with-", "has_underscore", "x" * 33])
def test_endpoint_names_follow_azure_ml_rules(product, name):
    response = put(product, f"api/batchEndpoints/{name}", {})
    assert response.status_code == 400
    assert error_of(response)["target"] == "name" and "3-32 characters" in error_of(response)["message"]


def test_unknown_endpoints_and_deployments_are_404(product):
    assert product.get(f"api/batchEndpoints/{unique('none')}").status_code == 404
    name = unique("ep")
    put(product, f"api/batchEndpoints/{name}", {})
    response = product.get(f"api/batchEndpoints/{name}/deployments/nothing-here")
    assert response.status_code == 404 and error_of(response)["code"] == "ResourceNotFound"


def test_the_first_deployment_becomes_the_default_with_azure_ml_defaults(product, registered_model):
    endpoint = unique("ep")
    put(product, f"api/batchEndpoints/{endpoint}", {})
    response = put(product, f"api/batchEndpoints/{endpoint}/deployments/blue",
                   {"$schema": "https://azuremlschemas.azureedge.net/latest/modelBatchDeployment.schema.json",
                    "type": "model", "model": f"azureml:{registered_model}@latest"})
    assert response.status_code == 201, response.text
    deployment = response.json()
    assert deployment["model"] == f"azureml:{registered_model}:1"
    assert deployment["resources"]["instance_count"] == 1
    assert deployment["settings"] == {
        "max_concurrency_per_instance": 1, "mini_batch_size": 10, "output_action": "append_row",
        "output_file_name": "predictions.csv", "retry_settings": {"max_retries": 3, "timeout": 30},
        "error_threshold": -1, "logging_level": "info", "environment_variables": {}}
    assert product.get(f"api/batchEndpoints/{endpoint}").json()["defaults"]["deployment_name"] == "blue"


def test_bad_deployments_are_refused_naming_the_field(product, registered_model, code_zip):
    endpoint = unique("ep")
    put(product, f"api/batchEndpoints/{endpoint}", {})
    path = f"api/batchEndpoints/{endpoint}/deployments/green"
    missing_model = put(product, path, {"type": "model", "model": "azureml:no-such-model:1"})
    assert missing_model.status_code == 400
    assert (error_of(missing_model)["code"], error_of(missing_model)["target"]) == ("ReferenceNotFound", "model")
    bad_setting = put(product, path, {"model": f"{registered_model}:1", "type": "model",
                                      "settings": {"mini_batch_size": 0}})
    assert error_of(bad_setting)["target"] == "settings.mini_batch_size"
    typo = put(product, path, {"model": f"{registered_model}:1", "type": "model",
                               "settings": {"retry_settings": {"max_retrys": 2}}})
    assert error_of(typo)["target"] == "settings.retry_settings.max_retrys"
    code = product.post("api/codes", data=code_zip, params={"filename": "src.zip"}).json()
    no_script = put(product, path, {"model": f"{registered_model}:1", "type": "model",
                                    "code_configuration": {"code": code["id"], "scoring_script": "missing.py"}})
    assert error_of(no_script)["target"] == "code_configuration.scoring_script"
    no_endpoint = put(product, f"api/batchEndpoints/{unique('none')}/deployments/green",
                      {"model": f"{registered_model}:1"})
    assert no_endpoint.status_code == 404


def test_a_custom_model_needs_a_scoring_script(product, code_zip, tmp_path):
    name = unique("custom")
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"\x00" * 16)
    assert upload_model(product, name, zip_folder(folder)).json()["format"] == "custom"
    endpoint = unique("ep")
    put(product, f"api/batchEndpoints/{endpoint}", {})
    path = f"api/batchEndpoints/{endpoint}/deployments/custom"
    refused = put(product, path, {"type": "model", "model": f"azureml:{name}:1"})
    assert refused.status_code == 400 and error_of(refused)["target"] == "code_configuration"
    code = product.post("api/codes", data=code_zip, params={"filename": "src.zip"}).json()
    accepted = put(product, path, {"type": "model", "model": f"azureml:{name}:1",
                                   "code_configuration": {"code": code["id"], "scoring_script": "score.py"}})
    assert accepted.status_code == 201, accepted.text


def test_the_legacy_layout_with_settings_at_the_root_is_accepted(product, registered_model):
    endpoint = unique("ep")
    put(product, f"api/batchEndpoints/{endpoint}", {})
    response = put(product, f"api/batchEndpoints/{endpoint}/deployments/legacy",
                   {"model": f"azureml:{registered_model}:1", "mini_batch_size": 4, "output_action": "summary_only",
                    "retry_settings": {"max_retries": 1, "timeout": 60}})
    assert response.status_code == 201, response.text
    settings = response.json()["settings"]
    assert (settings["mini_batch_size"], settings["output_action"], settings["retry_settings"]["timeout"]) == (
        4, "summary_only", 60)


def test_the_default_deployment_changes_in_one_call_and_is_protected_from_deletion(product, registered_model,
                                                                                    code_zip):
    endpoint = unique("ep")
    put(product, f"api/batchEndpoints/{endpoint}", {})
    base = f"api/batchEndpoints/{endpoint}"
    put(product, f"{base}/deployments/first", {"type": "model", "model": f"{registered_model}:1"})
    put(product, f"{base}/deployments/second", {"type": "model", "model": f"{registered_model}:1"})
    assert product.get(base).json()["defaults"]["deployment_name"] == "first"
    switched = patch(product, base, {"defaults": {"deployment_name": "second"}})
    assert switched.status_code == 200 and switched.json()["defaults"]["deployment_name"] == "second"
    nowhere = patch(product, base, {"defaults": {"deployment_name": "third"}})
    assert nowhere.status_code == 400 and error_of(nowhere)["target"] == "defaults.deployment_name"

    refused = delete(product, f"{base}/deployments/second")
    assert refused.status_code == 409 and "default" in error_of(refused)["message"]
    assert delete(product, f"{base}/deployments/first").status_code == 204
    assert delete(product, f"{base}/deployments/second").status_code == 204
    assert product.get(base).json()["defaults"]["deployment_name"] is None
    assert product.get(f"{base}/deployments").json()["value"] == []


def test_a_model_used_by_a_deployment_cannot_be_deleted(product, mlflow_zip):
    name = unique("inuse")
    upload_model(product, name, mlflow_zip)
    endpoint = unique("ep")
    put(product, f"api/batchEndpoints/{endpoint}", {})
    put(product, f"api/batchEndpoints/{endpoint}/deployments/uses", {"type": "model", "model": f"{name}:1"})
    response = delete(product, f"api/models/{name}/versions/1")
    assert response.status_code == 409 and f"{endpoint}/uses" in error_of(response)["message"]
    assert product.get(f"api/models/{name}/versions/1").status_code == 200


def test_updates_guarded_by_etags_never_silently_lose_one(product, registered_model):
    endpoint = unique("ep")
    put(product, f"api/batchEndpoints/{endpoint}", {})
    path = f"api/batchEndpoints/{endpoint}/deployments/tagged"
    put(product, path, {"type": "model", "model": f"{registered_model}:1"})
    etag = product.get(path).headers["ETag"]
    first = patch(product, path, {"settings": {"mini_batch_size": 3}}, **{"If-Match": etag})
    assert first.status_code == 200 and first.headers["ETag"] != etag
    stale = patch(product, path, {"settings": {"mini_batch_size": 7}}, **{"If-Match": etag})
    assert stale.status_code == 412 and error_of(stale)["code"] == "PreconditionFailed"
    assert product.get(path).json()["settings"]["mini_batch_size"] == 3

    def tag(i: int) -> None:
        assert patch(product, path, {"tags": {f"k{i}": str(i)}}).status_code == 200

    threads = [threading.Thread(target=tag, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert product.get(path).json()["tags"] == {f"k{i}": str(i) for i in range(8)}


def test_deleting_an_endpoint_removes_its_deployments_and_their_code(product, registered_model, storage, tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "score.py").write_text(f"# {uuid.uuid4()}\ndef init():\n    pass\n\ndef run(b):\n    return b\n")
    code = product.post("api/codes", data=zip_folder(folder), params={"filename": "src.zip"}).json()
    digest = code["name"]
    endpoint = unique("ep")
    put(product, f"api/batchEndpoints/{endpoint}", {})
    for name in ("one", "two"):
        put(product, f"api/batchEndpoints/{endpoint}/deployments/{name}", {
            "type": "model", "model": f"{registered_model}:1",
            "code_configuration": {"code": code["id"], "scoring_script": "score.py"}})
    assert len(table_rows(storage, "BatchDeployments", endpoint)) == 2
    assert blob_names(storage, "workspaceblobstore", f"codes/{digest}/")

    assert delete(product, f"api/batchEndpoints/{endpoint}").status_code == 204
    assert product.get(f"api/batchEndpoints/{endpoint}").status_code == 404
    assert table_rows(storage, "BatchDeployments", endpoint) == []
    assert table_rows(storage, "Codes", "code") == [] or digest not in [r["RowKey"] for r in
                                                                         table_rows(storage, "Codes", "code")]
    assert blob_names(storage, "workspaceblobstore", f"codes/{digest}/") == []


def test_errors_have_a_stable_code_and_a_message(product):
    response = product._call("PUT", f"api/batchEndpoints/{unique('ep')}", True, data=b"{not json",
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert error_of(response) == {"code": "ValidationError", "message": error_of(response)["message"],
                                  "target": "body"}
    assert product.get("api/batchEndpoints", key=False).status_code == 401


# -- OpenAPI ---------------------------------------------------------------------------------------
def test_the_openapi_document_lists_exactly_the_routes_the_app_serves(product):
    document = requests.get(f"{product.base_url}/api/openapi.json", timeout=10).json()
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    import batch_app

    served = set()
    for function in batch_app.app.get_functions():
        trigger = json.loads(function.get_function_json())["bindings"]
        http = [b for b in trigger if b["type"] == "httpTrigger"]
        if not http:
            continue
        for method in http[0].get("methods") or []:
            served.add((method.upper(), "/api/" + http[0]["route"]))
    assert documented == served
    settings = document["components"]["schemas"]["BatchDeploymentSettings"]["properties"]
    assert settings["mini_batch_size"]["default"] == 10
    assert settings["retry_settings"]


def test_code_assets_are_zipped_folders_or_one_script_content_addressed_and_shown_with_their_files(product, code_zip):
    first = product.post("api/codes", data=code_zip, params={"filename": "src.zip"})
    again = product.post("api/codes", data=code_zip, params={"filename": "src.zip"})
    assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
    shown = product.get(f"api/codes/{first.json()['id']}").json()
    assert shown["files"] == ["score.py"]
    assert product.get("api/codes/azureml:code:0000").status_code == 404
    script = product.post("api/codes", data=b"def init():\n    pass\n", params={"filename": "batch_score.py"})
    assert script.status_code == 201 and script.json()["files"] == ["batch_score.py"]
    not_code = product.post("api/codes", data=b"print(1)", params={"filename": "score.txt"})
    assert not_code.status_code == 400 and error_of(not_code)["target"] == "file"
    assert error_of(product.post("api/codes", data=code_zip))["target"] == "filename"


def test_data_assets_are_listed_by_their_latest_version(product):
    name = unique("listed")
    for path in ("a.csv", "b.csv"):
        product.post(f"api/data/{name}/versions", json={"type": "uri_file",
                                                        "path": f"azureml://datastores/workspaceblobstore/paths/{path}"})
    listed = {d["name"]: d for d in product.get("api/data").json()["value"]}
    assert listed[name]["version"] == 2 and listed[name]["path"].endswith("/b.csv")


def test_a_datastore_is_browsed_one_folder_at_a_time_with_uris_a_job_takes(product, storage):
    root = unique("browse")
    assert product.get("api/datastores/workspaceblobstore").status_code == 200  # the default's container is made
    client = BlobServiceClient.from_connection_string(storage).get_container_client("workspaceblobstore")
    for name in ("a.csv", "b.csv", "sub/c.csv", "sub/deeper/d.csv"):
        client.upload_blob(f"{root}/{name}", b"x,y\n1,2\n", overwrite=True)
    top = product.get("api/datastores/workspaceblobstore/paths", params={"prefix": f"{root}/"}).json()
    assert [f["path"] for f in top["files"]] == [f"{root}/a.csv", f"{root}/b.csv"]
    assert top["files"][0]["size"] == 8 and top["next"] is None
    assert top["folders"] == [{"path": f"{root}/sub/",
                               "uri": f"azureml://datastores/workspaceblobstore/paths/{root}/sub/"}]
    inner = product.get("api/datastores/workspaceblobstore/paths", params={"prefix": f"{root}/sub/"}).json()
    assert [f["path"] for f in inner["files"]] == [f"{root}/sub/c.csv"]
    assert [f["path"] for f in inner["folders"]] == [f"{root}/sub/deeper/"]
    climbing = product.get("api/datastores/workspaceblobstore/paths", params={"prefix": f"{root}/../"})
    assert climbing.status_code == 400 and error_of(climbing)["target"] == "prefix"
    assert product.get("api/datastores/nosuchstore/paths").status_code == 404
