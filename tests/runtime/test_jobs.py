"""Batch scoring jobs end to end on the local runtime: invoke, fan-out/fan-in scoring of MLflow, ONNX and
custom-script models, outputs, logs, progress, failures, retries, timeouts and cancel."""
from __future__ import annotations

import io
import threading
import uuid
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from azure.storage.blob import BlobServiceClient

from tests.harness import wait_for
from tests.model_builders import FEATURES, mlflow_model_folder, onnx_model_bytes, sklearn_classifier, zip_folder

TERMINAL = ("Completed", "Failed", "Canceled")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def call(api, method: str, path: str, **kwargs):
    return api._call(method, path, True, **kwargs)


def input_frames(files: int, rows: int = 25, seed: int = 1) -> list[pd.DataFrame]:
    rng = np.random.default_rng(seed)
    return [pd.DataFrame(rng.normal(size=(rows + i, len(FEATURES))), columns=FEATURES) for i in range(files)]


def upload_csvs(storage: str, prefix: str, frames: list[pd.DataFrame], container: str = "workspaceblobstore") -> str:
    client = BlobServiceClient.from_connection_string(storage).get_container_client(container)
    for number, frame in enumerate(frames):
        client.upload_blob(f"{prefix}/part-{number:03d}.csv", frame.to_csv(index=False), overwrite=True)
    return f"azureml://datastores/{container}/paths/{prefix}/"


def wait_for_job(api, name: str, timeout: float = 240) -> dict:
    job = {}

    def finished():
        nonlocal job
        job = call(api, "GET", f"api/jobs/{name}").json()
        return job["status"] in TERMINAL

    wait_for(finished, timeout=timeout, interval=0.5, what=f"job {name} to finish")
    return job


def predictions(api, job: dict) -> pd.DataFrame:
    answer = call(api, "GET", f"api/jobs/{job['name']}/outputs/{job['output']['file_name']}")
    assert answer.status_code == 200, answer.text
    return pd.read_csv(io.BytesIO(answer.content))


def register(api, name: str, data: bytes, filename: str) -> dict:
    answer = api.post(f"api/models/{name}/versions", data=data, params={"filename": filename})
    assert answer.status_code == 201, answer.text
    return answer.json()


def endpoint_with(api, model: dict, **deployment) -> str:
    endpoint = unique("ep")
    assert call(api, "PUT", f"api/batchEndpoints/{endpoint}", json={}).status_code == 201
    body = {"type": "model", "model": model["id"], **deployment}
    answer = call(api, "PUT", f"api/batchEndpoints/{endpoint}/deployments/main", json=body)
    assert answer.status_code == 201, answer.text
    return endpoint


def invoke(api, endpoint: str, **body) -> dict:
    answer = call(api, "POST", f"api/batchEndpoints/{endpoint}/jobs", json=body)
    assert answer.status_code == 202, answer.text
    return answer.json()


@pytest.fixture(scope="module")
def mlflow_model(product, tmp_path_factory) -> dict:
    folder = mlflow_model_folder(tmp_path_factory.mktemp("m") / "model")
    return register(product, unique("mlflow"), zip_folder(folder), "model.zip")


def test_an_mlflow_model_scores_20_csv_files_row_for_row(product, storage, mlflow_model):
    frames = input_frames(20)
    source = upload_csvs(storage, unique("inputs"), frames)
    endpoint = endpoint_with(product, mlflow_model, settings={"mini_batch_size": 3})
    submitted = invoke(product, endpoint, input=source, input_type="uri_folder")
    assert submitted["status"] in ("NotStarted", "Preparing", "Running")
    job = wait_for_job(product, submitted["name"])
    assert job["status"] == "Completed", job
    assert job["counts"]["files"] == 20 and job["counts"]["mini_batches"] == 7
    assert job["counts"]["rows_scored"] == sum(len(f) for f in frames)
    result = predictions(product, job)
    model = sklearn_classifier()
    expected = pd.concat([pd.DataFrame({"file_name": f"part-{i:03d}.csv", "row": range(len(f)),
                                        "prediction": model.predict(f)}) for i, f in enumerate(frames)],
                         ignore_index=True)
    pd.testing.assert_frame_equal(result[["file_name", "row", "prediction"]], expected, check_dtype=False)
