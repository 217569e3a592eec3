"""The mlbatch CLI against the running app: Azure ML CLI v2 YAML files used unchanged, local files uploaded,
clear exits."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from functools import partial
from pathlib import Path

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from tests.model_builders import mlflow_model_folder, onnx_model_bytes

MLBATCH = Path(sys.executable).parent / "mlbatch"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def cli(product):
    """Run mlbatch (the installed console script) with the app's URL and key in the environment."""

    def run(*args: str, expect: int = 0, env: dict | None = None, cwd: Path | None = None):
        environment = {**os.environ, "MLBATCH_URL": product.base_url, "MLBATCH_KEY": product.function_key,
                       **(env or {})}
        done = subprocess.run([str(MLBATCH), *args], capture_output=True, text=True, env=environment, cwd=cwd,
                              stdin=subprocess.DEVNULL, timeout=120)
        assert done.returncode == expect, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def run_json(*args: str, **kwargs):
        return json.loads(run(*args, **kwargs).stdout)

    run.json = run_json
    return run


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


@pytest.fixture(scope="module")
def model_yaml(tmp_path_factory, cli) -> tuple[Path, str]:
    """An MLflow model registered from an Azure ML model YAML with a local path."""
    folder = tmp_path_factory.mktemp("model_yaml")
    mlflow_model_folder(folder / "heart-classifier")
    name = unique("heart")
    path = write(folder / "model.yml", f"""
        $schema: https://azuremlschemas.azureedge.net/latest/model.schema.json
        name: {name}
        path: heart-classifier
        type: mlflow_model
        description: A heart-disease classifier.
        tags:
          framework: sklearn
    """)
    return path, name


def test_a_model_yaml_with_a_local_folder_is_uploaded_and_registered(cli, model_yaml):
    path, name = model_yaml
    created = cli.json("model", "create", "--file", str(path))
    assert (created["name"], created["version"], created["format"]) == (name, 1, "mlflow")
    assert created["tags"] == {"framework": "sklearn"} and "MLmodel" in created["files"]
    again = cli.json("model", "create", "-f", str(path), "--set", "description=retrained")
    assert again["version"] == 2 and again["description"] == "retrained"
    assert [m["version"] for m in cli.json("model", "list", "--name", name)] == [2, 1]
    assert cli.json("model", "show", "--name", name, "--label", "latest")["version"] == 2


def test_azure_ml_endpoint_and_deployment_yaml_files_are_used_unchanged(cli, model_yaml, tmp_path):
    _, model = model_yaml
    cli("model", "create", "--file", str(model_yaml[0]))
    endpoint = unique("heart-ep")
    endpoint_file = write(tmp_path / "endpoint.yml", f"""
        $schema: https://azuremlschemas.azureedge.net/latest/batchEndpoint.schema.json
        name: {endpoint}
        description: A heart condition classifier for batch inference
        auth_mode: aad_token
        tags:
          team: cardiology
    """)
    deployment_file = write(tmp_path / "deployment.yml", f"""
        $schema: https://azuremlschemas.azureedge.net/latest/modelBatchDeployment.schema.json
        endpoint_name: {endpoint}
        name: classifier-xgboost-mlflow
        description: A heart condition classifier based on XGBoost
        type: model
        model: azureml:{model}@latest
        compute: azureml:batch-cluster
        resources:
          instance_count: 2
        settings:
          max_concurrency_per_instance: 2
          mini_batch_size: 2
          output_action: append_row
          output_file_name: predictions.csv
          retry_settings:
            max_retries: 3
            timeout: 300
          error_threshold: -1
          logging_level: info
    """)
    created = cli.json("endpoint", "create", "--file", str(endpoint_file))
    assert created["name"] == endpoint and created["tags"] == {"team": "cardiology"}
    assert created["scoring_uri"].endswith(f"/api/batchEndpoints/{endpoint}/jobs")

    deployment = cli.json("deployment", "create", "--file", str(deployment_file))
    latest = cli.json("model", "show", "--name", model, "--label", "latest")["version"]
    assert deployment["model"] == f"azureml:{model}:{latest}"
    assert deployment["resources"]["instance_count"] == 2 and deployment["compute"] == "azureml:batch-cluster"
    assert deployment["settings"]["retry_settings"] == {"max_retries": 3, "timeout": 300}
    assert (deployment["settings"]["mini_batch_size"], deployment["settings"]["error_threshold"]) == (2, -1)
    shown = cli.json("endpoint", "show", "--name", endpoint)
    assert shown["defaults"]["deployment_name"] == "classifier-xgboost-mlflow"


def test_a_deployment_yaml_with_an_inline_model_and_a_local_code_folder_uploads_both(cli, tmp_path):
    endpoint = unique("custom-ep")
    cli("endpoint", "create", "--name", endpoint)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights.bin").write_bytes(b"\x00\x01")
    write(tmp_path / "code" / "batch_driver.py", """
        def init():
            pass

        def run(mini_batch):
            return mini_batch
    """)
    write(tmp_path / "environment" / "conda.yaml", "name: scoring\ndependencies: [python=3.11]\n")
    model_name = unique("custom-model")
    deployment_file = write(tmp_path / "deployment.yml", f"""
        $schema: https://azuremlschemas.azureedge.net/latest/modelBatchDeployment.schema.json
        name: custom-dpl
        endpoint_name: {endpoint}
        type: model
        model:
          name: {model_name}
          path: model
        code_configuration:
          code: code
          scoring_script: batch_driver.py
        environment:
          name: batch-env
          image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest
          conda_file: environment/conda.yaml
        compute: azureml:batch-cluster
        resources:
          instance_count: 1
        settings:
          mini_batch_size: 10
          output_action: summary_only
    """)
    deployment = cli.json("deployment", "create", "--file", str(deployment_file), cwd=Path("/"))
    assert deployment["model"] == f"azureml:{model_name}:1"
    assert deployment["code_configuration"]["scoring_script"] == "batch_driver.py"
    code = deployment["code_configuration"]["code"]
    assert code.startswith("azureml:code:")
    assert cli.json("model", "show", "--name", model_name, "--version", "1")["format"] == "custom"


def test_the_default_deployment_changes_with_set_and_settings_update(cli, model_yaml):
    cli("model", "create", "--file", str(model_yaml[0]))
    endpoint = unique("ep")
    cli("endpoint", "create", "--name", endpoint, "--set", "description=two deployments")
    for name in ("blue", "green"):
        cli("deployment", "create", "--name", name, "--endpoint-name", endpoint,
            "--set", f"model=azureml:{model_yaml[1]}@latest")
    assert cli.json("endpoint", "show", "-n", endpoint)["defaults"]["deployment_name"] == "blue"
    updated = cli.json("endpoint", "update", "--name", endpoint, "--set", "defaults.deployment_name=green")
    assert updated["defaults"]["deployment_name"] == "green"
    changed = cli.json("deployment", "update", "-n", "blue", "-e", endpoint, "--set", "settings.mini_batch_size=5",
                       "--set", "settings.retry_settings.max_retries=1")
    assert changed["settings"]["mini_batch_size"] == 5 and changed["settings"]["retry_settings"]["max_retries"] == 1
    assert changed["settings"]["retry_settings"]["timeout"] == 30
    cli("deployment", "create", "-n", "red", "-e", endpoint, "--set", f"model=azureml:{model_yaml[1]}:1",
        "--set-default")
    assert cli.json("endpoint", "show", "-n", endpoint)["defaults"]["deployment_name"] == "red"
    assert sorted(d["name"] for d in cli.json("deployment", "list", "-e", endpoint)) == ["blue", "green", "red"]


def test_table_output_shows_the_useful_columns(cli, model_yaml):
    cli("model", "create", "--file", str(model_yaml[0]))
    endpoint = unique("tbl")
    cli("endpoint", "create", "-n", endpoint)
    cli("deployment", "create", "-n", "only", "-e", endpoint, "--set", f"model={model_yaml[1]}@latest")
    text = cli("endpoint", "list", "--output", "table").stdout
    header = text.splitlines()[0].split()
    assert header[:2] == ["Name", "Deployment"] and "Scoring" in header
    line = next(line for line in text.splitlines() if line.startswith(endpoint))
    assert line.split()[1:3] == ["only", "Succeeded"]


def test_data_assets_from_a_local_file_and_folder_are_uploaded(cli, tmp_path):
    write(tmp_path / "heart.csv", "f0,f1,f2,f3\n1,2,3,4\n")
    write(tmp_path / "batch" / "a.csv", "f0,f1,f2,f3\n1,2,3,4\n")
    write(tmp_path / "batch" / "sub" / "b.csv", "f0,f1,f2,f3\n5,6,7,8\n")
    name = unique("heart-data")
    data_file = write(tmp_path / "data.yml", f"""
        $schema: https://azuremlschemas.azureedge.net/latest/data.schema.json
        name: {name}
        description: Unlabelled heart data
        type: uri_folder
        path: batch
    """)
    folder = cli.json("data", "create", "--file", str(data_file))
    assert folder["type"] == "uri_folder" and folder["version"] == 1
    single = cli.json("data", "create", "--name", name, "--path", str(tmp_path / "heart.csv"), "--type", "uri_file")
    assert single["type"] == "uri_file" and single["path"].endswith("heart.csv") and single["version"] == 2
    remote = cli.json("data", "create", "-n", name, "-p", "azureml://datastores/workspaceblobstore/paths/x/y.csv",
                      "-t", "uri_file")
    assert remote["path"] == "azureml://datastores/workspaceblobstore/paths/x/y.csv"
    assert [d["version"] for d in cli.json("data", "list", "--name", name)] == [3, 2, 1]
    assert cli.json("data", "show", "-n", name, "-v", "1")["path"].startswith("azureml://datastores/")


def test_a_datastore_yaml_registers_a_container_and_the_secret_never_comes_back(cli, azurite, tmp_path):
    name = unique("blob").replace("-", "_")
    key = azurite.connection_string.split("AccountKey=")[1].split(";")[0]
    blob_endpoint = azurite.connection_string.split("BlobEndpoint=")[1].split(";")[0]
    datastore_file = write(tmp_path / "datastore.yml", f"""
        $schema: https://azuremlschemas.azureedge.net/latest/azureBlob.schema.json
        name: {name}
        type: azure_blob
        description: Datastore pointing to a blob container.
        account_name: devstoreaccount1
        container_name: scoring-data
        account_url: {blob_endpoint}
        credentials:
          account_key: {key}
    """)
    created = cli.json("datastore", "create", "--file", str(datastore_file))
    assert created["credentials"] == {"type": "account_key"}
    listed = cli("datastore", "list", "-o", "json").stdout
    assert key not in listed and name in listed
    assert cli.json("datastore", "show", "-n", "workspaceblobstore")["is_default"] is True
    cli("datastore", "delete", "-n", name)
    cli("datastore", "show", "-n", name, expect=1)


def test_api_errors_exit_1_with_the_code_and_field(cli, model_yaml, tmp_path):
    bad = cli("endpoint", "create", "--name", "1-bad_name", expect=1)
    assert "ValidationError" in bad.stderr and "field: name" in bad.stderr
    endpoint = unique("err")
    cli("endpoint", "create", "-n", endpoint)
    again = cli("endpoint", "create", "-n", endpoint, expect=1)
    assert "ResourceAlreadyExists" in again.stderr and "HTTP 409" in again.stderr
    missing = cli("deployment", "create", "-n", "dpl", "-e", endpoint, "--set", "model=azureml:no-such-model:1",
                  expect=1)
    assert "ReferenceNotFound" in missing.stderr and "field: model" in missing.stderr
    typo = cli("deployment", "create", "-n", "dpl", "-e", endpoint, "--set", f"model={model_yaml[1]}@latest",
               "--set", "settings.mini_batch_sise=3", expect=1)
    assert "settings.mini_batch_sise" in typo.stderr
    assert "ResourceNotFound" in cli("endpoint", "show", "-n", unique("none"), expect=1).stderr


def test_usage_and_connection_problems_exit_2(cli, tmp_path):
    assert "No such file" in cli("endpoint", "create", "--file", str(tmp_path / "nope.yml"), expect=2).stderr
    write(tmp_path / "broken.yml", "name: [unclosed\n")
    assert "not valid YAML" in cli("endpoint", "create", "--file", str(tmp_path / "broken.yml"), expect=2).stderr
    unreachable = cli("endpoint", "list", env={"MLBATCH_URL": "http://127.0.0.1:9"}, expect=2)
    assert "cannot reach" in unreachable.stderr
    cli("endpoint", "frobnicate", expect=2)
    wrong_key = cli("endpoint", "list", "--key", "not-the-key", expect=1)
    assert "401" in wrong_key.stderr


def test_deleting_an_endpoint_asks_first_and_then_removes_everything(cli, model_yaml, storage, tmp_path):
    cli("model", "create", "--file", str(model_yaml[0]))
    endpoint = unique("gone")
    write(tmp_path / "code" / "score.py", "def init():\n    pass\n\n\ndef run(mini_batch):\n    return mini_batch\n")
    write(tmp_path / "code" / f"{endpoint}.txt", "makes this code folder unique\n")
    cli("endpoint", "create", "-n", endpoint)
    cli("deployment", "create", "-n", "first", "-e", endpoint, "--set", f"model={model_yaml[1]}@latest")
    deployment_file = write(tmp_path / "b.yml", f"""
        name: second
        endpoint_name: {endpoint}
        model: azureml:{model_yaml[1]}@latest
        code_configuration:
          code: ./code
          scoring_script: score.py
    """)
    code = cli.json("deployment", "create", "-f", str(deployment_file))["code_configuration"]["code"]
    refused = cli("endpoint", "delete", "-n", endpoint, expect=2)
    assert "--yes" in refused.stderr and cli.json("endpoint", "show", "-n", endpoint)["name"] == endpoint
    cli("endpoint", "delete", "-n", endpoint, "--yes")
    cli("endpoint", "show", "-n", endpoint, expect=1)
    tables = TableServiceClient.from_connection_string(storage)
    rows = list(tables.get_table_client("BatchDeployments").query_entities(
        "PartitionKey eq @pk", parameters={"pk": endpoint}))
    assert rows == []
    digest = code.removeprefix("azureml:code:")
    blobs = BlobServiceClient.from_connection_string(storage).get_container_client("workspaceblobstore")
    assert list(blobs.list_blobs(name_starts_with=f"codes/{digest}/")) == []


def test_an_onnx_file_and_model_delete(cli, tmp_path):
    (tmp_path / "clf.onnx").write_bytes(onnx_model_bytes())
    name = unique("onnx")
    created = cli.json("model", "create", "--name", name, "--path", str(tmp_path / "clf.onnx"))
    assert created["format"] == "onnx" and created["onnx_file"] == "clf.onnx"
    cli("model", "delete", "-n", name, "-v", "1")
    assert "ResourceNotFound" in cli("model", "show", "-n", name, "-v", "1", expect=1).stderr


def test_invoke_streams_a_local_folder_job_to_its_end_and_downloads_the_predictions(cli, model_yaml, tmp_path):
    import pandas as pd

    from tests.model_builders import sklearn_classifier, training_data

    cli("model", "create", "--file", str(model_yaml[0]))
    endpoint = unique("invoke")
    cli("endpoint", "create", "-n", endpoint)
    cli("deployment", "create", "-n", "main", "-e", endpoint, "--set", f"model={model_yaml[1]}@latest")
    frame, _ = training_data(rows=30, seed=5)
    (tmp_path / "inputs").mkdir()
    for number in range(3):
        frame.iloc[number * 10:(number + 1) * 10].to_csv(tmp_path / "inputs" / f"batch-{number}.csv", index=False)
    done = cli("endpoint", "invoke", "-n", endpoint, "--input", str(tmp_path / "inputs"), "--mini-batch-size", "1",
               "--output-file-name", "scores.csv", "--stream")
    job = json.loads(done.stdout)
    assert job["status"] == "Completed" and job["counts"]["mini_batches"] == 3
    assert "3/3 mini-batches" in done.stderr and "uploaded" in done.stderr
    assert cli.json("job", "list", "-e", endpoint)[0]["name"] == job["name"]
    assert cli.json("job", "show", "-n", job["name"])["settings"]["output_file_name"] == "scores.csv"
    saved = cli.json("job", "download", "-n", job["name"], "--output-name", "score", "-p", str(tmp_path / "out"))
    assert [s["path"] for s in saved] == ["scores.csv"]
    scores = pd.read_csv(tmp_path / "out" / job["name"] / "scores.csv")
    assert list(scores["prediction"]) == list(sklearn_classifier().predict(frame))
    logs = cli.json("job", "download", "-n", job["name"], "--output-name", "logs", "-p", str(tmp_path / "out"))
    assert "logs/job_progress_overview.txt" in [s["path"] for s in logs]


def test_a_streamed_job_that_fails_exits_1(cli, model_yaml, tmp_path, storage):
    cli("model", "create", "--file", str(model_yaml[0]))
    endpoint = unique("failing")
    cli("endpoint", "create", "-n", endpoint)
    cli("deployment", "create", "-n", "main", "-e", endpoint, "--set", f"model={model_yaml[1]}@latest")
    (tmp_path / "bad.csv").write_text("f0,f1,f2,f3\nx,y,z,w\n")
    failed = cli("endpoint", "invoke", "-n", endpoint, "-i", str(tmp_path / "bad.csv"), "--error-threshold", "0",
                 "--max-retries", "0", "--stream", expect=1)
    assert "ended Failed" in failed.stderr
    assert "does not exist" in cli("endpoint", "invoke", "-n", endpoint, "-i", "./no/such/folder", expect=2).stderr


def test_the_demo_leaves_a_model_an_endpoint_and_data_so_a_first_invoke_works(cli, product, tmp_path):
    (tmp_path / ".devhost").mkdir()
    (tmp_path / ".devhost" / "connection.json").write_text(json.dumps(
        {"url": product.base_url, "function_key": product.function_key}))
    plain = {k: v for k, v in os.environ.items() if not k.startswith("MLBATCH_")}
    run = partial(subprocess.run, capture_output=True, text=True, cwd=tmp_path, env=plain, timeout=300,
                  stdin=subprocess.DEVNULL)
    seeded = run([str(MLBATCH), "demo", "--wait", "30", "-o", "json"])
    assert seeded.returncode == 0, seeded.stderr
    kinds = {item["kind"] for item in json.loads(seeded.stdout)}
    assert kinds in ({"model", "endpoint", "deployment", "data"}, {"demo"})
    again = run([str(MLBATCH), "demo", "-o", "json"])
    assert json.loads(again.stdout) == [{"kind": "demo", "name": "demo", "state": "already there"}]
    first = run([str(MLBATCH), "endpoint", "invoke", "-n", "demo", "--input", "azureml:demo-inputs@latest",
                 "--stream"])
    assert first.returncode == 0, first.stderr
    job = json.loads(first.stdout)
    assert job["status"] == "Completed" and job["counts"]["rows_scored"] == 1000
