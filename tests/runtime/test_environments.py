"""Each deployment scores in its model's own environment: an MLflow model pinning an older scikit-learn
scores in a build of its own requirements, a scoring script imports a package the app lacks from its inline
conda file, equal specs build once, and a pin no resolver can meet fails the deployment (API, CLI) and its
jobs at once. Environments are built with uv from the package index, as in use."""
from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn
from azure.storage.blob import BlobServiceClient

from tests.harness import wait_for

OLD_SKLEARN = "1.5.2"
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
COLUMNS = ["a", "b", "c", "d"]
TRAIN = """
import pickle, sys
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
rng = np.random.default_rng(0)
frame = pd.DataFrame(rng.normal(size=(300, 4)), columns=["a", "b", "c", "d"])
model = make_pipeline(StandardScaler(), LogisticRegression()).fit(frame, (frame.a + frame.b > 0).astype(int))
with open(sys.argv[1] + "/model.pkl", "wb") as sink:
    pickle.dump(model, sink)
test = pd.read_csv(sys.argv[2])
print(",".join(str(v) for v in model.predict(test)))
"""
MLMODEL = """artifact_path: model
flavors:
  python_function:
    env:
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    model_path: model.pkl
    predict_fn: predict
    python_version: "{python}"
  sklearn:
    pickled_model: model.pkl
    serialization_format: pickle
    sklearn_version: {sklearn}
mlflow_version: 3.17.2
model_uuid: {uuid}
"""
TABULATE_SCRIPT = """
import pandas as pd


def init():
    global tabulate
    import tabulate


def run(mini_batch):
    return pd.DataFrame({"tabulate": [tabulate.__version__ for _ in mini_batch]})
"""


@pytest.fixture(scope="module")
def app(start_product, tmp_path_factory):
    return start_product(BATCH_ENVIRONMENTS_DIR=str(tmp_path_factory.mktemp("environments")))


def call(api, method: str, path: str, **kwargs):
    return api._call(method, path, True, **kwargs)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def uv() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


def zipped(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def upload_inputs(storage: str, frames: list[pd.DataFrame]) -> str:
    prefix = unique("env-in")
    client = BlobServiceClient.from_connection_string(storage).get_container_client("workspaceblobstore")
    for number, frame in enumerate(frames):
        client.upload_blob(f"{prefix}/part-{number}.csv", frame.to_csv(index=False), overwrite=True)
    return f"azureml://datastores/workspaceblobstore/paths/{prefix}/"


def deployment(api, endpoint: str, name: str, body: dict) -> dict:
    answer = call(api, "PUT", f"api/batchEndpoints/{endpoint}/deployments/{name}", json=body)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def settled(api, endpoint: str, name: str) -> dict:
    """The deployment once its environment build has ended."""
    def state():
        shown = call(api, "GET", f"api/batchEndpoints/{endpoint}/deployments/{name}").json()
        return shown if shown["provisioning_state"] != "Creating" else None

    return wait_for(state, timeout=300, interval=0.5, what=f"deployment {name} to be provisioned")


def finished(api, name: str) -> dict:
    def done():
        job = call(api, "GET", f"api/jobs/{name}").json()
        return job if job["status"] in ("Completed", "Failed", "Canceled") else None

    return wait_for(done, timeout=300, interval=0.5, what=f"job {name}")


def invoke(api, endpoint: str, source: str, **body) -> dict:
    answer = call(api, "POST", f"api/batchEndpoints/{endpoint}/jobs", json={"input": source, **body})
    assert answer.status_code == 202, answer.text
    return answer.json()


def script_and_model(app, tmp_path: Path) -> tuple[dict, dict]:
    """The tabulate script as a code asset, and a one-file custom model for it."""
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "score.py").write_text(TABULATE_SCRIPT)
    code = app.post("api/codes", data=zipped(tmp_path / "code"), params={"filename": "code.zip"}).json()
    weights = io.BytesIO()
    with zipfile.ZipFile(weights, "w") as archive:
        archive.writestr("weights.json", "{}")
    model = app.post(f"api/models/{unique('weights')}/versions", data=weights.getvalue(),
                     params={"filename": "weights.zip"}).json()
    return code, model


def test_an_mlflow_model_pinning_an_older_scikit_learn_scores_in_its_own_environment(app, storage, tmp_path):
    assert sklearn.__version__ != OLD_SKLEARN
    trainer = tmp_path / "trainer"
    subprocess.run([uv(), "venv", "--quiet", "--python", sys.executable, str(trainer)], check=True,
                   env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"})
    subprocess.run([uv(), "pip", "install", "--quiet", "--python", str(trainer / "bin" / "python"),
                    f"scikit-learn=={OLD_SKLEARN}", "pandas"], check=True, env={**os.environ, "VIRTUAL_ENV": ""})
    frames = [pd.DataFrame(np.random.default_rng(n).normal(size=(20 + n, 4)), columns=COLUMNS) for n in range(3)]
    everything = tmp_path / "all.csv"
    pd.concat(frames).to_csv(everything, index=False)
    model = tmp_path / "model"
    model.mkdir()
    trained = subprocess.run([str(trainer / "bin" / "python"), "-c", TRAIN, str(model), str(everything)],
                             check=True, capture_output=True, text=True)
    expected = [int(v) for v in trained.stdout.strip().split(",")]
    (model / "MLmodel").write_text(MLMODEL.format(python=PYTHON, sklearn=OLD_SKLEARN, uuid=uuid.uuid4().hex))
    (model / "requirements.txt").write_text(f"mlflow-skinny==3.17.2\nscikit-learn=={OLD_SKLEARN}\n")
    (model / "python_env.yaml").write_text(f"python: {PYTHON}\nbuild_dependencies: [pip]\n"
                                           "dependencies: [-r requirements.txt]\n")
    registered = app.post(f"api/models/{unique('old-sklearn')}/versions", data=zipped(model),
                          params={"filename": "model.zip"}).json()
    endpoint = unique("envs")
    assert call(app, "PUT", f"api/batchEndpoints/{endpoint}", json={}).status_code == 201
    created = deployment(app, endpoint, "main", {"model": registered["id"]})
    assert created["provisioning_state"] == "Creating"
    assert settled(app, endpoint, "main")["provisioning_state"] == "Succeeded"
    built = call(app, "GET", f"api/batchEndpoints/{endpoint}/deployments/main/environment").json()
    assert f"scikit-learn=={OLD_SKLEARN}" in built["spec"]["requirements"] and "pyarrow" in built["spec"]["requirements"]
    assert built["spec"]["source"] == "the model's python_env.yaml" and "Built:" in built["log"]

    job = finished(app, invoke(app, endpoint, upload_inputs(storage, frames))["name"])
    assert job["status"] == "Completed", job["error"]
    answer = call(app, "GET", f"api/jobs/{job['name']}/outputs/predictions.csv")
    assert list(pd.read_csv(io.BytesIO(answer.content))["prediction"]) == expected
    log = call(app, "GET", f"api/jobs/{job['name']}/outputs/logs/user/stdout/mini_batch_000000.txt").text
    assert f"scikit-learn=={OLD_SKLEARN}" in log and built["python"] in log  # reported by the scoring process
    assert sklearn.__version__ != OLD_SKLEARN  # the app's own is untouched


def test_a_script_imports_what_its_inline_conda_file_pins_and_equal_specs_build_once(app, storage, tmp_path):
    assert importlib.util.find_spec("tabulate") is None  # the app does not have it
    code, model = script_and_model(app, tmp_path)
    environment = {"conda_file": {"dependencies": [f"python={PYTHON}", "pip", {"pip": ["tabulate==0.9.0"]}]},
                   "image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest"}
    endpoint = unique("envs")
    assert call(app, "PUT", f"api/batchEndpoints/{endpoint}", json={}).status_code == 201
    body = {"model": model["id"], "environment": environment,
            "code_configuration": {"code": code["id"], "scoring_script": "score.py"}}
    assert deployment(app, endpoint, "first", body)["provisioning_state"] == "Creating"
    source = upload_inputs(storage, [pd.DataFrame({"x": [1, 2]})] * 2)
    early = invoke(app, endpoint, source, deployment_name="first")["name"]  # waits for the build
    deployment(app, endpoint, "second", {**body, "description": "the same environment"})
    assert settled(app, endpoint, "first")["provisioning_state"] == "Succeeded"
    assert settled(app, endpoint, "second")["provisioning_state"] == "Succeeded"
    first = call(app, "GET", f"api/batchEndpoints/{endpoint}/deployments/first/environment").json()
    second = call(app, "GET", f"api/batchEndpoints/{endpoint}/deployments/second/environment").json()
    assert first["key"] == second["key"] and first["log"] == second["log"]
    assert "tabulate==0.9.0" in first["spec"]["requirements"]
    assert first["spec"]["source"] == "the deployment's inline environment"
    shown = call(app, "GET", f"api/batchEndpoints/{endpoint}/deployments/second").json()
    assert shown["environment"]["image"] == environment["image"]  # kept and shown

    for job_name in (early, invoke(app, endpoint, source, deployment_name="second")["name"]):
        job = finished(app, job_name)
        assert job["status"] == "Completed", job["error"]
        answer = call(app, "GET", f"api/jobs/{job['name']}/outputs/predictions.csv")
        assert set(pd.read_csv(io.BytesIO(answer.content))["tabulate"]) == {"0.9.0"}
    builds = BuildsTable(storage)
    assert builds.count(first["key"]) == 1  # two deployments, one build


class BuildsTable:
    def __init__(self, storage: str):
        from registry.environment_builds import EnvironmentBuilds
        from registry.storage import WorkspaceStorage

        self.builds = EnvironmentBuilds(WorkspaceStorage(storage))

    def count(self, key: str) -> int:
        return self.builds.get(key).body["builds"]


def test_a_pin_no_resolver_can_meet_fails_the_deployment_and_its_jobs_at_once(app, storage, tmp_path):
    name = unique("unmeetable")
    conda = {"dependencies": [f"python={PYTHON}", {"pip": ["numpy==0.0.1"]}]}
    created = call(app, "POST", f"api/environments/{name}/versions", json={"conda_file": conda, "tags": {"n": 1}})
    assert created.status_code == 201 and created.json()["id"] == f"azureml:{name}:1", created.text
    refused = call(app, "POST", f"api/environments/{name}/versions", json={"build": {"path": "docker/"}})
    assert refused.status_code == 400 and "Docker context" in refused.json()["error"]["message"]
    code, model = script_and_model(app, tmp_path)
    endpoint = unique("envs")
    assert call(app, "PUT", f"api/batchEndpoints/{endpoint}", json={}).status_code == 201
    pipeline = call(app, "PUT", f"api/batchEndpoints/{endpoint}/deployments/prep", json={
        "type": "pipeline", "component": "azureml:prep:1", "settings": {"default_compute": "cpu"}})
    assert pipeline.status_code == 400 and pipeline.json()["error"]["message"] == (
        "Deployments of type 'pipeline' are not supported: only model deployments (type: model) score here.")
    deployment(app, endpoint, "main", {"model": model["id"], "environment": f"azureml:{name}@latest",
                                       "tags": {"device_batching": 16},
                                       "code_configuration": {"code": code["id"], "scoring_script": "score.py"}})
    failed = settled(app, endpoint, "main")
    assert failed["provisioning_state"] == "Failed" and failed["tags"] == {"device_batching": "16"}
    log = call(app, "GET", f"api/batchEndpoints/{endpoint}/deployments/main/environment").json()["log"]
    assert "numpy==0.0.1" in log and "No solution found" in log  # the resolver's own words

    cli = {**os.environ, "MLBATCH_URL": app.base_url, "MLBATCH_KEY": app.function_key}
    shown = subprocess.run([str(Path(sys.executable).parent / "mlbatch"), "deployment", "show", "-n", "main", "-e",
                            endpoint, "-o", "json"], capture_output=True, text=True, env=cli, timeout=60)
    assert json.loads(shown.stdout)["provisioning_state"] == "Failed", shown.stderr
    printed = subprocess.run([str(Path(sys.executable).parent / "mlbatch"), "deployment", "build-log", "-n", "main",
                              "-e", endpoint, "-o", "json"], capture_output=True, text=True, env=cli, timeout=60)
    assert "No solution found" in json.loads(printed.stdout)["log"], printed.stderr

    job = finished(app, invoke(app, endpoint, upload_inputs(storage, [pd.DataFrame({"x": [1]})]))["name"])
    assert job["status"] == "Failed" and job["error"]["code"] == "EnvironmentBuildFailed", job
    assert "numpy==0.0.1" in job["error"]["message"] and job["counts"]["mini_batches"] == 0  # nothing was scored


def test_a_build_is_reused_once_finished_and_a_missing_python_falls_back_to_the_apps_with_a_warning(tmp_path):
    from registry.environment_builds import build, find_interpreter
    from registry.environment_specs import ResolvedEnvironment

    spec = ResolvedEnvironment("3.99", ("tabulate==0.9.0",), "a test")
    first = build(spec, tmp_path)
    assert first.ok and not first.reused, first.log
    assert f"WARNING: Python 3.99 was asked for but this machine has no python3.99; using the app's Python {PYTHON}" \
        in first.log
    again = build(spec, tmp_path)
    assert again.reused and again.python == first.python and Path(again.python).exists()
    version = subprocess.run([again.python, "-c", "import tabulate; print(tabulate.__version__)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert version == "0.9.0"
    assert find_interpreter(PYTHON)[0] == sys.executable
