"""The mlbatch CLI against the running app: Azure ML CLI v2 YAML files used unchanged, local files uploaded,
clear exits."""
from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import sys
import textwrap
import uuid
from functools import partial
from pathlib import Path

import pytest
import requests
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from devhost.azurite import free_port
from tests.harness import ROOT, wait_for
from tests.model_builders import mlflow_model_folder, onnx_model_bytes

MLBATCH = [sys.executable, "-m", "mlbatch"]  # this checkout's CLI, whatever the venv's console script points at
PLAIN = {**{k: v for k, v in os.environ.items() if not k.startswith("MLBATCH_")}, "PYTHONPATH": str(ROOT)}
RED = re.compile(r"\x1b\[[0-9;]*31m")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def columns_of(line: str) -> list[str]:
    """A table line's cells: columns stand two spaces or more apart, words within a cell one."""
    return re.split(r"\s{2,}", line.strip())


def on_terminal(*args: str, env: dict, cwd: Path | None = None) -> tuple[int, str]:
    """Run mlbatch with a pseudo-terminal as its stdout and stderr, as a person at a terminal does."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([*MLBATCH, *args], stdin=subprocess.DEVNULL, stdout=follower, stderr=follower,
                               env={**env, "COLUMNS": "250", "LINES": "40"}, cwd=cwd)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal's other side closed: the command ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return process.wait(60), b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture(scope="module")
def cli(product):
    """Run mlbatch with the app's URL and key in the environment."""

    def run(*args: str, expect: int = 0, env: dict | None = None, cwd: Path | None = None):
        environment = {**PLAIN, "MLBATCH_URL": product.base_url, "MLBATCH_KEY": product.function_key,
                       **(env or {})}
        done = subprocess.run([*MLBATCH, *args], capture_output=True, text=True, env=environment, cwd=cwd,
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
    cli("deployment", "create", "-n", "other", "-e", endpoint, "--set", f"model={model_yaml[1]}@latest")
    deployments = cli("deployment", "list", "-e", endpoint, "-o", "table").stdout.splitlines()
    assert columns_of(deployments[0])[:3] == ["Name", "Is Default", "Endpoint Name"]
    assert sorted(columns_of(line)[:2] for line in deployments[1:]) == [["only", "True"], ["other", "False"]]
    for command in (("datastore", "list"), ("schedule", "list"), ("deployment", "list", "-e", endpoint),
                    ("endpoint", "list"), ("model", "list"), ("job", "list", "-e", endpoint)):
        labels = columns_of(cli(*command, "-o", "table").stdout.splitlines()[0])
        assert len(labels) == len(set(labels)), (command, labels)
    datastores = cli("datastore", "list", "-o", "table").stdout.splitlines()
    assert columns_of(datastores[0])[:2] == ["Name", "Type"] and "Credentials Type" in columns_of(datastores[0])
    assert columns_of(cli("schedule", "list", "-o", "table").stdout.splitlines()[0])[:5] == [
        "Name", "Endpoint Name", "Type", "Is Enabled", "Last Run Name"]


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
    assert job["source"] == {"kind": "invoke", "client": "cli"}
    assert "3/3 mini-batches" in done.stderr and "uploaded" in done.stderr
    assert f"Job {job['name']} completed: 3/3 mini-batches succeeded, 30 rows scored" in done.stderr
    assert "\r" not in done.stderr  # in a pipe, progress is plain lines
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
    assert "ended Failed" in failed.stderr and "--output-name logs" in failed.stderr
    assert re.search(r"Job \S+ failed: 0/1 mini-batches succeeded, 1 failed", failed.stderr)
    assert not [line for line in failed.stderr.splitlines() if "100.0%" in line and "Failed" in line]
    assert "error/mini_batch_000000 | " in failed.stderr  # the job's own log, as it arrived
    assert "does not exist" in cli("endpoint", "invoke", "-n", endpoint, "-i", "./no/such/folder", expect=2).stderr


def test_the_demo_leaves_a_model_an_endpoint_and_data_so_a_first_invoke_works(cli, product, tmp_path):
    (tmp_path / ".devhost").mkdir()
    (tmp_path / ".devhost" / "connection.json").write_text(json.dumps(
        {"url": product.base_url, "function_key": product.function_key}))
    run = partial(subprocess.run, capture_output=True, text=True, cwd=tmp_path, env=PLAIN, timeout=300,
                  stdin=subprocess.DEVNULL)
    seeded = run([*MLBATCH, "demo", "--wait", "30", "-o", "json"])
    assert seeded.returncode == 0, seeded.stderr
    kinds = {item["kind"] for item in json.loads(seeded.stdout)}
    assert kinds in ({"model", "endpoint", "deployment", "data"}, {"demo"})
    again = run([*MLBATCH, "demo", "-o", "json"])
    assert json.loads(again.stdout) == [{"kind": "demo", "name": "demo", "state": "already there"}]
    first = run([*MLBATCH, "endpoint", "invoke", "-n", "demo", "--input", "azureml:demo-inputs@latest",
                 "--stream"])
    assert first.returncode == 0, first.stderr
    job = json.loads(first.stdout)
    assert job["status"] == "Completed" and job["counts"]["rows_scored"] == 1000


def test_on_a_terminal_invoke_says_what_to_run_next_and_a_failure_in_red(cli, product, tmp_path):
    (tmp_path / "clf.onnx").write_bytes(onnx_model_bytes())
    model = unique("tty-onnx")
    cli("model", "create", "--name", model, "--path", str(tmp_path / "clf.onnx"))
    endpoint = unique("tty")
    cli("endpoint", "create", "-n", endpoint)
    cli("deployment", "create", "-n", "main", "-e", endpoint, "--set", f"model={model}@latest")
    (tmp_path / "good.csv").write_text("f0,f1,f2,f3\n1,2,3,4\n5,6,7,8\n")
    (tmp_path / "bad.csv").write_text("f0,f1,f2,f3\nx,y,z,w\n")
    env = {**PLAIN, "MLBATCH_URL": product.base_url, "MLBATCH_KEY": product.function_key}

    code, text = on_terminal("endpoint", "invoke", "-n", endpoint, "-i", str(tmp_path / "good.csv"), "--stream",
                             env=env)
    assert code == 0, text
    plain = ANSI.sub("", text)
    name = re.search(r"Job (\S+): Completed \(endpoint", plain).group(1)
    assert f"mlbatch job download -n {name} --output-name score" in plain and f"mlbatch job show -n {name}" in plain
    assert '"status"' not in plain  # a summary, not the JSON
    code, text = on_terminal("endpoint", "invoke", "-n", endpoint, "-i", str(tmp_path / "good.csv"), env=env)
    assert code == 0 and "mlbatch job stream -n " in ANSI.sub("", text), text
    code, text = on_terminal("endpoint", "invoke", "-n", endpoint, "-i", str(tmp_path / "good.csv"), "-o", "json",
                             env=env)
    assert code == 0 and json.loads(text[text.index("{"):])["endpoint"] == endpoint, text  # after "uploaded ..."

    code, text = on_terminal("endpoint", "invoke", "-n", endpoint, "-i", str(tmp_path / "bad.csv"), "--max-retries",
                             "0", "--stream", env=env)
    assert code == 1, text
    assert re.search(RED.pattern + r"Job \S+ failed", text), text


def test_the_cli_finds_the_app_from_any_folder_by_the_per_user_file_or_a_parent_folders(cli, product, tmp_path):
    config = tmp_path / "config"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**PLAIN, "HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(config)}
    connection = json.dumps({"url": product.base_url, "function_key": product.function_key})

    def listed(cwd: Path, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([*MLBATCH, "endpoint", "list"], capture_output=True, text=True, cwd=cwd,
                              env={**env, **extra}, stdin=subprocess.DEVNULL, timeout=120)

    assert listed(elsewhere).returncode != 0  # nothing says where the app is
    write(config / "mlbatch" / "connection.json", connection)
    found = listed(elsewhere)
    assert found.returncode == 0 and isinstance(json.loads(found.stdout), list), found.stderr
    project = tmp_path / "project"
    write(project / ".devhost" / "connection.json", json.dumps({"url": product.base_url, "function_key": "stale"}))
    (project / "a" / "b").mkdir(parents=True)
    refused = listed(project / "a" / "b")  # the nearest file wins over the per-user one
    assert refused.returncode == 1 and str(project / ".devhost" / "connection.json") in refused.stderr
    assert listed(project / "a", MLBATCH_KEY=product.function_key).returncode == 0  # the environment wins
    write(project / ".devhost" / "connection.json", connection)
    assert listed(project / "a" / "b").returncode == 0


def test_the_banner_ends_with_the_studio_and_the_key_and_idle_timer_ticks_log_nothing(product, storage):
    end = product.log_text().split("Listening on", 1)[1].split("\n\n")[1].strip().splitlines()
    assert end == [f"Studio:       {product.base_url}/api/studio/", f"Function key: {product.function_key}"]
    status = BlobServiceClient.from_connection_string(storage).get_blob_client(
        "azure-webjobs-hosts", f"timers/{product.host_id}/events_tick/status")
    first = json.loads(status.download_blob().readall())["Last"]
    wait_for(lambda: json.loads(status.download_blob().readall())["Last"] != first, timeout=60,
             what="another tick of events_tick")
    assert "Functions.events_tick" not in product.log_text()


TINY_APP = '''
import os

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.route(route="hello", methods=["GET"])
def hello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"{os.environ['GREETING']} from {os.getcwd()}")
'''


def test_devhost_runs_an_app_folder_outside_the_project_from_another_folder(azurite, tmp_path):
    app = tmp_path / "tiny app"
    write(app / "function_app.py", TINY_APP)
    write(app / "host.json", '{"version": "2.0"}')
    write(app / "local.settings.json", json.dumps({"IsEncrypted": False, "Values": {
        "FUNCTIONS_WORKER_RUNTIME": "python", "GREETING": "hello", "AzureWebJobsStorage": "not used"}}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    port = free_port()
    env = {**PLAIN, "XDG_CONFIG_HOME": str(tmp_path / "config"), "PYTHONUNBUFFERED": "1",
           "AzureWebJobsStorage": azurite.connection_string,
           "AzureFunctionsJobHost__extensions__durableTask__hubName": f"Hub{uuid.uuid4().hex[:12]}"}
    log = tmp_path / "devhost.log"
    with open(log, "wb") as output:
        host = subprocess.Popen([sys.executable, "-m", "devhost", "start", "--app-dir", "../tiny app", "--port",
                                 str(port), "--azurite", "never", "--workers", "1", "--keys-file",
                                 "--keys-file", "keys.json"], cwd=elsewhere, env=env, stdout=output,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: "Listening on" in log.read_text() or host.poll() is not None, timeout=90,
                 what="the tiny app's start")
        text = log.read_text()
        assert host.poll() is None, text
        key = re.search(r"default function key: (\S+)", text).group(1)
        assert text.split("Listening on", 1)[1].split("\n\n")[1].strip() == f"Function key: {key}"
        answer = requests.get(f"http://127.0.0.1:{port}/api/hello", params={"code": key}, timeout=30)
        assert (answer.status_code, answer.text) == (200, f"hello from {app.resolve()}")
        assert requests.get(f"http://127.0.0.1:{port}/api/hello", timeout=30).status_code == 401
        for written in (tmp_path / "config" / "mlbatch" / "connection.json", elsewhere / "keys.json"):
            assert json.loads(written.read_text())["function_key"] == key
            assert written.stat().st_mode & 0o777 == 0o600
    finally:
        os.killpg(host.pid, signal.SIGTERM)
        host.wait(30)
