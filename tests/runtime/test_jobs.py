"""Batch scoring jobs end to end on the local runtime: invoke, fan-out/fan-in scoring of MLflow, ONNX and
custom-script models, outputs, logs, progress, failures, retries, timeouts and cancel."""
from __future__ import annotations

import io
import threading
import zipfile
import uuid
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
from azure.storage.blob import BlobServiceClient

from jobs.outputs import block_id, together_block_id
from tests.harness import Runtime, wait_for
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


ROOT = Path(__file__).resolve().parents[2]
SPLIT_BYTES = 4000
SLICE_SIZE = 4
ROWS_BLOCK_BYTES = 1500  # about two files' prediction rows: mini-batches stage their rows in several blocks
DOWNLOAD_RANGE_BYTES = 2000  # outputs larger than this are downloaded in ranges or straight from storage


@pytest.fixture(scope="module")
def product(azurite, artifacts_dir: Path):
    """The product with small slices (several sub-orchestrations per job), a small split size (big files are
    cut) and small blocks of prediction rows (several per mini-batch), so the tests exercise all three on
    small data."""
    runtime = Runtime(ROOT, azurite.connection_string, artifacts_dir, env={
        "PYTHON_SCRIPT_FILE_NAME": "batch_app.py", "BATCH_SPLIT_BYTES": str(SPLIT_BYTES),
        "BATCH_SLICE_SIZE": str(SLICE_SIZE), "BATCH_ROWS_BLOCK_BYTES": str(ROWS_BLOCK_BYTES),
        "BATCH_DOWNLOAD_RANGE_BYTES": str(DOWNLOAD_RANGE_BYTES), "BATCH_OUTBOUND_ALLOW": "127.0.0.1"})
    runtime.start()
    yield runtime
    runtime.stop()


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
    batches = call(product, "GET", f"api/jobs/{job['name']}/mini-batches").json()["value"]
    assert max(b["blocks"] for b in batches) > 1  # rows staged in blocks cut while the mini-batch scored
    result = predictions(product, job)
    model = sklearn_classifier()
    expected = pd.concat([pd.DataFrame({"file_name": f"part-{i:03d}.csv", "row": range(len(f)),
                                        "prediction": model.predict(f)}) for i, f in enumerate(frames)],
                         ignore_index=True)
    pd.testing.assert_frame_equal(result[["file_name", "row", "prediction"]], expected, check_dtype=False)


def expected_frame(frames: list[pd.DataFrame], predict, names=None) -> pd.DataFrame:
    names = names or [f"part-{i:03d}.csv" for i in range(len(frames))]
    return pd.concat([pd.DataFrame({"file_name": name, "row": range(len(f)), "prediction": predict(f)})
                      for name, f in zip(names, frames)], ignore_index=True)


@pytest.fixture(scope="module")
def onnx_model(product) -> dict:
    return register(product, unique("onnx"), onnx_model_bytes(), "model.onnx")


def test_an_onnx_model_scores_with_its_graph_and_gives_probabilities(product, storage, onnx_model):
    frames = input_frames(20, seed=2)
    source = upload_csvs(storage, unique("onnx-in"), frames)
    endpoint = endpoint_with(product, onnx_model, settings={"mini_batch_size": 5},
                             resources={"instance_count": 2})
    job = wait_for_job(product, invoke(product, endpoint, input=source)["name"])
    assert job["status"] == "Completed", job
    result = predictions(product, job)
    model = sklearn_classifier()
    expected = expected_frame(frames, model.predict)
    pd.testing.assert_frame_equal(result[["file_name", "row", "prediction"]], expected, check_dtype=False)
    probabilities = np.vstack([model.predict_proba(f) for f in frames])
    np.testing.assert_allclose(result[["probabilities_0", "probabilities_1"]].to_numpy(), probabilities, atol=1e-5)


CUSTOM_SCRIPT = """
import logging
import os
from pathlib import Path

import mlflow.pyfunc
import pandas as pd

model = None


def init():
    global model
    model = mlflow.pyfunc.load_model(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model"))


def run(mini_batch):
    logging.getLogger("score").debug("a debug line")
    logging.getLogger("score").info("scoring %d files", len(mini_batch))
    print("printed by run()")
    results = []
    for path in mini_batch:
        frame = pd.read_csv(path)
        results.append({"file": Path(path).name, "positives": int(model.predict(frame).sum()),
                        "greeting": os.environ.get("GREETING", "")})
    return pd.DataFrame(results)
"""


def custom_endpoint(api, tmp_path: Path, script: str, mlflow_model: dict, **deployment) -> str:
    folder = tmp_path / "code"
    folder.mkdir(exist_ok=True)
    (folder / "score.py").write_text(script)
    code = api.post("api/codes", data=zip_folder(folder), params={"filename": "code.zip"}).json()
    return endpoint_with(api, mlflow_model, code_configuration={"code": code["id"], "scoring_script": "score.py"},
                         **deployment)


def test_a_custom_script_gets_init_once_and_run_with_file_paths(product, storage, mlflow_model, tmp_path):
    frames = input_frames(20, seed=3)
    source = upload_csvs(storage, unique("custom-in"), frames)
    endpoint = custom_endpoint(product, tmp_path, CUSTOM_SCRIPT, mlflow_model,
                               settings={"mini_batch_size": 4, "environment_variables": {"GREETING": "hello"}})
    job = wait_for_job(product, invoke(product, endpoint, input=source)["name"])
    assert job["status"] == "Completed", job
    result = predictions(product, job)
    model = sklearn_classifier()
    assert list(result["positives"]) == [int(model.predict(f).sum()) for f in frames]
    assert list(result["file_name"]) == [f"part-{i:03d}.csv" for i in range(20)]
    assert set(result["greeting"]) == {"hello"}
    log = call(product, "GET", f"api/jobs/{job['name']}/outputs/logs/user/stdout/mini_batch_000000.txt").text
    assert "scoring 4 files" in log and "printed by run()" in log and "a debug line" not in log


GLOBBING_SCRIPT = """
import glob
import os
from pathlib import Path

import mlflow.pyfunc
import pandas as pd


def init():
    global model, layout
    folders = glob.glob(os.environ["AZUREML_MODEL_DIR"] + "/*/")
    model = mlflow.pyfunc.load_model(folders[0])
    layout = "/".join(Path(os.environ["AZUREML_MODEL_DIR"]).parts[-3:]) + " " + Path(folders[0]).name


def run(mini_batch):
    return pd.DataFrame({"rows": [len(model.predict(pd.read_csv(p))) for p in mini_batch], "layout": layout})
"""

SINGLE_FILE_SCRIPT = """
import json
import os

import pandas as pd


def init():
    global scale
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "weights.json")) as source:
        scale = json.load(source)["scale"]


def run(mini_batch):
    return pd.DataFrame({"scaled": [scale * len(pd.read_csv(p)) for p in mini_batch]})
"""


def test_scripts_find_their_model_where_azure_ml_puts_it(product, storage, mlflow_model, tmp_path):
    """AZUREML_MODEL_DIR is azureml-models/<name>/<version>, with the registered folder or file inside it by its
    own name: `os.path.join(dir, "model")` (above), `glob(dir + "/*/")`, and a single file by its name."""
    source = upload_csvs(storage, unique("layout-in"), input_frames(2, rows=3))
    endpoint = custom_endpoint(product, tmp_path, GLOBBING_SCRIPT, mlflow_model)
    job = wait_for_job(product, invoke(product, endpoint, input=source)["name"])
    assert job["status"] == "Completed", job
    name, version = mlflow_model["id"].split(":")[1:]
    result = predictions(product, job)
    assert list(result["rows"]) == [3, 4] and set(result["layout"]) == {f"azureml-models/{name}/{version} model"}
    weights = io.BytesIO()
    with zipfile.ZipFile(weights, "w") as archive:
        archive.writestr("weights.json", '{"scale": 10}')
    single = register(product, unique("weights"), weights.getvalue(), "weights.zip")
    assert single["root"] == {"name": "weights.json", "single_file": True}
    (tmp_path / "single").mkdir()
    endpoint = custom_endpoint(product, tmp_path / "single", SINGLE_FILE_SCRIPT, single)
    job = wait_for_job(product, invoke(product, endpoint, input=source)["name"])
    assert job["status"] == "Completed", job
    assert list(predictions(product, job)["scaled"]) == [30, 40]


SLOW_LAST_SCRIPT = """
import time

import pandas as pd


def init():
    pass


def run(mini_batch):
    if mini_batch[0].endswith("part-002.csv"):
        time.sleep(4)
    return pd.DataFrame({"rows": [len(pd.read_csv(path)) for path in mini_batch]})
"""


def test_a_mini_batch_whose_result_the_storage_lost_is_scored_again_and_counted_once(product, storage,
                                                                                       mlflow_model, tmp_path):
    from azure.data.tables import TableServiceClient

    source = upload_csvs(storage, unique("lost-in"), input_frames(3, rows=2))
    endpoint = custom_endpoint(product, tmp_path, SLOW_LAST_SCRIPT, mlflow_model, settings={"mini_batch_size": 1})
    name = invoke(product, endpoint, input=source)["name"]
    results = TableServiceClient.from_connection_string(storage).get_table_client("JobMiniBatches")

    def first_recorded():
        return [e for e in results.query_entities("PartitionKey eq @job", parameters={"job": name})
                if e["RowKey"] == "00000000"]

    wait_for(first_recorded, timeout=60, what="mini-batch 0's result")
    results.delete_entity(name, "00000000")  # as if the storage lost an acknowledged write
    job = wait_for_job(product, name)
    assert job["status"] == "Completed", job
    assert job["counts"]["mini_batches_done"] == 3 and job["counts"]["rows_scored"] == 3  # a result row a file
    scored = predictions(product, job)
    assert list(scored["file_name"]) == [f"part-{n:03d}.csv" for n in range(3)]  # once each
    assert list(scored["rows"]) == [2, 3, 4]
    assert first_recorded(), "mini-batch 0 was scored again"


FAILING_INIT_SCRIPT = """
def init():
    raise RuntimeError("no GPU on this machine")


def run(mini_batch):
    return mini_batch
"""


def test_a_script_whose_init_raises_fails_the_job_at_once_with_its_traceback(product, storage, mlflow_model,
                                                                             tmp_path):
    source = upload_csvs(storage, unique("init-in"), input_frames(12, rows=2))
    endpoint = custom_endpoint(product, tmp_path, FAILING_INIT_SCRIPT, mlflow_model,
                               settings={"mini_batch_size": 1, "retry_settings": {"max_retries": 1}})
    job = wait_for_job(product, invoke(product, endpoint, input=source)["name"])
    assert job["status"] == "Failed" and job["error"]["code"] == "ScoringScriptInitFailed", job
    assert "no GPU on this machine" in job["error"]["message"]
    assert "RuntimeError: no GPU on this machine" in job["error"]["trace"]
    batches = call(product, "GET", f"api/jobs/{job['name']}/mini-batches").json()["value"]
    assert len(batches) == 1 and batches[0]["attempts"] == 2  # one mini-batch's retries, not the other 11


def test_a_job_in_which_every_file_fails_is_failed_whatever_the_threshold(product, storage, mlflow_model):
    client = BlobServiceClient.from_connection_string(storage).get_container_client("workspaceblobstore")
    prefix = unique("all-bad")
    for number in range(3):
        client.upload_blob(f"{prefix}/notes-{number}.txt", b"not a table", overwrite=True)
    endpoint = endpoint_with(product, mlflow_model, settings={"error_threshold": -1})
    job = wait_for_job(product, invoke(product, endpoint,
                                       input=f"azureml://datastores/workspaceblobstore/paths/{prefix}/")["name"])
    assert job["status"] == "Failed" and job["error"]["code"] == "NoSucceededMiniBatch", job
    assert job["counts"]["files_failed"] == 3


VARYING_COLUMNS_SCRIPT = """
from pathlib import Path

import pandas as pd


def init():
    pass


def run(mini_batch):
    return pd.DataFrame([{("first" if Path(p).name.endswith("000.csv") else "later"): len(pd.read_csv(p))}
                         for p in mini_batch])
"""


def test_the_predictions_file_is_committed_from_the_mini_batches_blocks_or_rewritten_when_columns_differ(
        product, storage, mlflow_model, tmp_path):
    frames = input_frames(6, rows=5, seed=8)
    source = upload_csvs(storage, unique("blocks"), frames)
    job = wait_for_job(product, invoke(product, endpoint_with(product, mlflow_model, settings={"mini_batch_size": 2}),
                                       input=source)["name"])
    assert job["status"] == "Completed", job
    blob = BlobServiceClient.from_connection_string(storage).get_blob_client(
        "workspaceblobstore", job["output"]["folder"] + job["output"]["file_name"])
    committed, uncommitted = blob.get_block_list("all")
    # a header, then one block of the three small mini-batches' rows, stored with their results at once
    assert [block["id"] for block in committed] == [block_id(0, "header"), together_block_id(0, 3)]
    assert uncommitted == []
    batches = call(product, "GET", f"api/jobs/{job['name']}/mini-batches").json()["value"]
    assert [(b["together"], b["rows_in"]) for b in batches] == [(3, None), (0, 0), (0, 0)]
    result = predictions(product, job)
    assert list(result["prediction"]) == list(sklearn_classifier().predict(pd.concat(frames)))

    varying = custom_endpoint(product, tmp_path, VARYING_COLUMNS_SCRIPT, mlflow_model, settings={"mini_batch_size": 1})
    job = wait_for_job(product, invoke(product, varying, input=source)["name"])
    assert job["status"] == "Completed", job["error"]
    result = predictions(product, job)
    assert list(result.columns) == ["file_name", "row", "first", "later"]
    assert result["first"].iloc[0] == len(frames[0]) and pd.isna(result["later"].iloc[0])
    assert list(result["later"].iloc[1:]) == [len(f) for f in frames[1:]] and result["first"].iloc[1:].isna().all()


def test_parquet_a_data_asset_and_an_http_url_are_inputs(product, storage, mlflow_model, tmp_path):
    model = sklearn_classifier()
    endpoint = endpoint_with(product, mlflow_model)
    frame = input_frames(1, rows=40, seed=4)[0]
    client = BlobServiceClient.from_connection_string(storage).get_container_client("workspaceblobstore")
    prefix = unique("parquet")
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    client.upload_blob(f"{prefix}/rows.parquet", buffer.getvalue())
    parquet = wait_for_job(product, invoke(product, endpoint, input=f"azureml://datastores/workspaceblobstore/paths/"
                                                                   f"{prefix}/rows.parquet",
                                           input_type="uri_file")["name"])
    assert parquet["status"] == "Completed", parquet
    assert list(predictions(product, parquet)["prediction"]) == list(model.predict(frame))

    asset = unique("asset")
    created = product.post(f"api/data/{asset}/versions", data=frame.to_csv(index=False).encode(),
                           params={"filename": "asset.csv", "type": "uri_file"})
    assert created.status_code == 201, created.text
    by_asset = wait_for_job(product, invoke(product, endpoint, input=f"azureml:{asset}@latest")["name"])
    assert by_asset["status"] == "Completed" and by_asset["input"]["data_asset"] == f"azureml:{asset}:1"
    assert list(predictions(product, by_asset)["file_name"].unique()) == ["asset.csv"]

    (tmp_path / "served.csv").write_text(frame.to_csv(index=False))
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/served.csv"
        by_url = wait_for_job(product, invoke(product, endpoint, input=url, input_type="uri_file")["name"])
    finally:
        server.shutdown()
    assert by_url["status"] == "Completed", by_url
    assert list(predictions(product, by_url)["prediction"]) == list(model.predict(frame))


def test_every_override_changes_the_job(product, storage, mlflow_model):
    frames = input_frames(12, rows=5, seed=5)
    source = upload_csvs(storage, unique("overrides"), frames)
    endpoint = endpoint_with(product, mlflow_model)
    output_folder = unique("custom-output")
    job = wait_for_job(product, invoke(
        product, endpoint, input=source, job_name=unique("named"),
        settings={"mini_batch_size": 5, "output_file_name": "scores.csv", "error_threshold": 3,
                  "retry_settings": {"max_retries": 0, "timeout": 60}, "logging_level": "debug",
                  "max_concurrency_per_instance": 2},
        resources={"instance_count": 2},
        output={"path": f"azureml://datastores/workspaceblobstore/paths/{output_folder}/"})["name"])
    assert job["status"] == "Completed", job
    assert job["name"].startswith("named-") and job["counts"]["mini_batches"] == 3
    settings = job["settings"]
    assert (settings["output_file_name"], settings["error_threshold"], settings["logging_level"]) == \
        ("scores.csv", 3, "debug")
    assert settings["retry_settings"] == {"max_retries": 0, "timeout": 60}
    assert job["resources"]["instance_count"] == 2 and settings["max_concurrency_per_instance"] == 2
    client = BlobServiceClient.from_connection_string(storage).get_container_client("workspaceblobstore")
    assert [b.name for b in client.list_blobs(name_starts_with=f"{output_folder}/")] == [f"{output_folder}/scores.csv"]
    assert len(predictions(product, job)) == sum(len(f) for f in frames)
    default = wait_for_job(product, invoke(product, endpoint, input=source)["name"])
    assert default["counts"]["mini_batches"] == 2 and default["output"]["file_name"] == "predictions.csv"


def test_a_big_csv_file_is_cut_into_pieces_that_keep_whole_file_row_numbers(product, storage, mlflow_model):
    frame = input_frames(1, rows=600, seed=6)[0]
    assert len(frame.to_csv(index=False)) > 5 * SPLIT_BYTES
    source = upload_csvs(storage, unique("big"), [frame])
    endpoint = endpoint_with(product, mlflow_model)
    job = wait_for_job(product, invoke(product, endpoint, input=source)["name"])
    assert job["status"] == "Completed", job["error"]
    assert job["counts"]["files"] == 1 and job["counts"]["mini_batches"] >= 5
    result = predictions(product, job)
    pd.testing.assert_frame_equal(result[["file_name", "row", "prediction"]],
                                  expected_frame([frame], sklearn_classifier().predict), check_dtype=False)


def broken_inputs(storage: str, broken: int, total: int) -> str:
    frames = input_frames(total, rows=5, seed=7)
    prefix = unique("broken")
    source = upload_csvs(storage, prefix, frames)
    client = BlobServiceClient.from_connection_string(storage).get_container_client("workspaceblobstore")
    for number in range(broken):
        client.upload_blob(f"{prefix}/part-{number * 5:03d}.csv", "f0,f1,f2,f3\nnot,a,number,here\n",
                           overwrite=True)
    return source


@pytest.mark.parametrize("threshold, status", [(5, "Completed"), (2, "Failed")])
def test_error_threshold_counts_failed_files(product, storage, mlflow_model, threshold, status):
    source = broken_inputs(storage, 3, 20)
    endpoint = endpoint_with(product, mlflow_model, settings={
        "mini_batch_size": 2, "error_threshold": threshold, "retry_settings": {"max_retries": 0, "timeout": 30}})
    job = wait_for_job(product, invoke(product, endpoint, input=source)["name"])
    assert job["status"] == status, job
    assert job["counts"]["files_failed"] == 3
    outputs = {f["path"] for f in call(product, "GET", f"api/jobs/{job['name']}/outputs").json()["value"]}
    assert "logs/user/error.txt" in outputs and "logs/job_progress_overview.txt" in outputs
    errors = call(product, "GET", f"api/jobs/{job['name']}/outputs/logs/user/error.txt").text
    assert "part-000.csv" in errors and "part-010.csv" in errors
    if status == "Completed":
        scored = predictions(product, job)
        assert len(scored) == sum(5 + i for i in range(20) if i not in (0, 5, 10))
        assert not {"part-000.csv", "part-005.csv", "part-010.csv"} & set(scored["file_name"])
    else:
        assert job["error"]["code"] == "ErrorThresholdExceeded" and "predictions.csv" not in outputs


def test_a_retried_mini_batch_stages_its_blocks_again_and_no_row_appears_twice(product, storage, mlflow_model):
    frames = input_frames(12, rows=30, seed=9)
    prefix = unique("retried")
    source = upload_csvs(storage, prefix, frames)
    client = BlobServiceClient.from_connection_string(storage).get_container_client("workspaceblobstore")
    client.upload_blob(f"{prefix}/part-003.csv", "f0,f1,f2,f3\nnot,a,number,here\n", overwrite=True)
    endpoint = endpoint_with(product, mlflow_model, settings={
        "mini_batch_size": 6, "retry_settings": {"max_retries": 2, "timeout": 30}})
    job = wait_for_job(product, invoke(product, endpoint, input=source)["name"])
    assert job["status"] == "Completed" and job["counts"]["files_failed"] == 1, job
    batches = call(product, "GET", f"api/jobs/{job['name']}/mini-batches").json()["value"]
    first = next(b for b in batches if b["index"] == 0)
    assert first["attempts"] == 3 and first["blocks"] > 1  # each attempt handed blocks over as it scored
    kept = [i for i in range(12) if i != 3]
    expected = expected_frame([frames[i] for i in kept], sklearn_classifier().predict,
                              [f"part-{i:03d}.csv" for i in kept])
    pd.testing.assert_frame_equal(predictions(product, job)[["file_name", "row", "prediction"]], expected,
                                  check_dtype=False)


FLAKY_SCRIPT = """
import hashlib
import os
from pathlib import Path


def init():
    pass


def run(mini_batch):
    marker = Path(os.environ["MARKERS"]) / hashlib.sha1("".join(sorted(Path(p).name for p in mini_batch)).encode()).hexdigest()
    if not marker.exists():
        marker.write_text("failed once")
        raise RuntimeError("transient failure")
    return [Path(p).name for p in mini_batch]
"""

HANGING_SCRIPT = """
import time


def init():
    pass


def run(mini_batch):
    time.sleep(600)
    return mini_batch
"""


def test_a_script_failing_once_per_mini_batch_succeeds_thanks_to_retries(product, storage, mlflow_model, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    source = upload_csvs(storage, unique("flaky"), input_frames(6, rows=3))
    endpoint = custom_endpoint(product, tmp_path, FLAKY_SCRIPT, mlflow_model, settings={
        "mini_batch_size": 2, "environment_variables": {"MARKERS": str(markers)}})
    job = wait_for_job(product, invoke(product, endpoint, input=source)["name"])
    assert job["status"] == "Completed" and job["counts"]["mini_batches_failed"] == 0, job
    batches = call(product, "GET", f"api/jobs/{job['name']}/mini-batches").json()["value"]
    assert [b["attempts"] for b in batches] == [2, 2, 2]
    assert len(list(markers.iterdir())) == 3


def test_a_hanging_script_is_stopped_at_the_timeout_and_retried(product, storage, mlflow_model, tmp_path):
    source = upload_csvs(storage, unique("hang"), input_frames(1, rows=3))
    endpoint = custom_endpoint(product, tmp_path, HANGING_SCRIPT, mlflow_model, settings={
        "retry_settings": {"max_retries": 1, "timeout": 2}, "error_threshold": 0})
    job = wait_for_job(product, invoke(product, endpoint, input=source)["name"], timeout=120)
    assert job["status"] == "Failed" and job["counts"]["files_failed"] == 1, job
    batch = call(product, "GET", f"api/jobs/{job['name']}/mini-batches").json()["value"][0]
    assert batch["attempts"] == 2 and "timeout" in batch["error"]


def test_an_existing_output_file_fails_the_job_before_scoring_and_stays_untouched(product, storage, mlflow_model):
    source = upload_csvs(storage, unique("exists"), input_frames(2, rows=3))
    folder = unique("taken")
    client = BlobServiceClient.from_connection_string(storage).get_container_client("workspaceblobstore")
    client.upload_blob(f"{folder}/predictions.csv", b"precious")
    endpoint = endpoint_with(product, mlflow_model)
    job = wait_for_job(product, invoke(product, endpoint, input=source, output={
        "path": f"azureml://datastores/workspaceblobstore/paths/{folder}"})["name"])
    assert job["status"] == "Failed" and job["error"]["code"] == "OutputAlreadyExists", job
    assert "already exists" in job["error"]["message"] and job["counts"]["mini_batches_done"] == 0
    assert client.download_blob(f"{folder}/predictions.csv").readall() == b"precious"
    outputs = {f["path"] for f in call(product, "GET", f"api/jobs/{job['name']}/outputs").json()["value"]}
    assert "predictions.csv" not in outputs, "the job lists a file it did not write as its output"
    answer = call(product, "GET", f"api/jobs/{job['name']}/outputs/predictions.csv")
    assert answer.status_code == 404 and b"precious" not in answer.content


def test_a_job_whose_output_another_job_wrote_lists_only_its_own_logs(product, storage, mlflow_model):
    source = upload_csvs(storage, unique("twice"), input_frames(2, rows=3))
    output = {"path": f"azureml://datastores/workspaceblobstore/paths/{unique('shared')}"}
    endpoint = endpoint_with(product, mlflow_model)
    first = wait_for_job(product, invoke(product, endpoint, input=source, output=output)["name"])
    second = wait_for_job(product, invoke(product, endpoint, input=source, output=output)["name"])
    assert first["status"] == "Completed" and second["error"]["code"] == "OutputAlreadyExists", second
    listed = {job["name"]: {f["path"] for f in call(product, "GET", f"api/jobs/{job['name']}/outputs").json()["value"]}
              for job in (first, second)}
    assert "predictions.csv" in listed[first["name"]] and "predictions.csv" not in listed[second["name"]]


def test_an_output_is_downloaded_in_ranges_or_straight_from_storage_never_whole_through_the_app(
        product, storage, mlflow_model):
    source = upload_csvs(storage, unique("ranges"), input_frames(4, rows=100))
    job = wait_for_job(product, invoke(product, endpoint_with(product, mlflow_model), input=source)["name"])
    listed = {f["path"]: f for f in call(product, "GET", f"api/jobs/{job['name']}/outputs").json()["value"]}
    size = listed["predictions.csv"]["size"]
    assert size > 2 * DOWNLOAD_RANGE_BYTES, size
    path = f"api/jobs/{job['name']}/outputs/predictions.csv"
    whole = call(product, "GET", path, allow_redirects=False)
    assert whole.status_code == 307 and not whole.content
    signed = whole.headers["Location"]
    assert signed.startswith(f"http://127.0.0.1:{storage.split('127.0.0.1:')[1].split('/')[0]}/") and "sp=r" in signed
    expected = requests.get(signed, timeout=30).content
    assert len(expected) == size
    parts, offset = [], 0
    while offset < size:
        part = call(product, "GET", path, headers={"Range": f"bytes={offset}-"})
        assert part.status_code == 206 and len(part.content) <= DOWNLOAD_RANGE_BYTES
        assert part.headers["Content-Range"] == f"bytes {offset}-{offset + len(part.content) - 1}/{size}"
        parts.append(part.content)
        offset += len(part.content)
    assert b"".join(parts) == expected
    tail = call(product, "GET", path, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == expected[-10:]
    outside = call(product, "GET", path, headers={"Range": f"bytes={size}-"})
    assert outside.status_code == 416 and outside.json()["error"]["target"] == "Range"


def test_summary_only_writes_no_predictions_file(product, storage, mlflow_model):
    source = upload_csvs(storage, unique("summary"), input_frames(3, rows=4))
    endpoint = endpoint_with(product, mlflow_model, settings={"output_action": "summary_only"})
    job = wait_for_job(product, invoke(product, endpoint, input=source)["name"])
    assert job["status"] == "Completed" and job["counts"]["rows_scored"] == 4 + 5 + 6, job
    outputs = {f["path"] for f in call(product, "GET", f"api/jobs/{job['name']}/outputs").json()["value"]}
    assert "predictions.csv" not in outputs and "logs/job_progress_overview.txt" in outputs


def test_a_running_job_is_canceled(product, storage, mlflow_model, tmp_path):
    source = upload_csvs(storage, unique("cancel"), input_frames(6, rows=3))
    endpoint = custom_endpoint(product, tmp_path, HANGING_SCRIPT, mlflow_model, settings={
        "mini_batch_size": 1, "retry_settings": {"max_retries": 0, "timeout": 300}})
    name = invoke(product, endpoint, input=source)["name"]
    wait_for(lambda: call(product, "GET", f"api/jobs/{name}").json()["status"] == "Running", timeout=60)
    internal = BlobServiceClient.from_connection_string(storage).get_container_client("batch-jobs-internal")
    assert [b.name for b in internal.list_blobs(name_starts_with=f"{name}/")] == [f"{name}/plan.json"]
    answer = call(product, "POST", f"api/jobs/{name}/cancel")
    assert answer.status_code == 200 and answer.json()["status"] == "Canceled"
    job = call(product, "GET", f"api/jobs/{name}").json()
    assert job["status"] == "Canceled" and job["ended_at"] and job["cancel_requested_at"]
    assert [b.name for b in internal.list_blobs(name_starts_with=f"{name}/")] == []  # finish cleaned up
    batches = call(product, "GET", f"api/jobs/{name}/mini-batches").json()["value"]
    assert batches and batches[0]["status"] == "canceled"  # the hanging mini-batch was stopped, not failed
    again = call(product, "POST", f"api/jobs/{name}/cancel")
    assert again.status_code == 409


def test_jobs_are_listed_newest_first_and_bad_invokes_are_refused(product, storage, mlflow_model):
    source = upload_csvs(storage, unique("list"), input_frames(1, rows=2))
    endpoint = endpoint_with(product, mlflow_model)
    first = invoke(product, endpoint, input=source)["name"]
    second = invoke(product, endpoint, input=source)["name"]
    listed = [j["name"] for j in call(product, "GET", f"api/batchEndpoints/{endpoint}/jobs").json()["value"]]
    assert listed == [second, first]
    for body, target in [({}, "input"), ({"input": source, "deployment_name": "nope"}, "deployment_name"),
                         ({"input": "azureml:no-such-data:1"}, "input"), ({"input": "/home/me/data.csv"}, "input"),
                         ({"input": source, "settings": {"mini_batch_size": 0}}, "settings.mini_batch_size"),
                         ({"input": source, "job_name": first}, "job_name")]:
        answer = call(product, "POST", f"api/batchEndpoints/{endpoint}/jobs", json=body)
        assert answer.status_code in (400, 409) and answer.json()["error"]["target"] == target, (body, answer.text)
    assert call(product, "POST", "api/batchEndpoints/no-such-endpoint/jobs", json={"input": source}).status_code == 404
    finished = wait_for_job(product, first)
    assert call(product, "DELETE", f"api/batchEndpoints/{endpoint}").status_code == 204
    assert call(product, "GET", f"api/jobs/{first}").json()["status"] == finished["status"] == "Completed"
    assert len(predictions(product, finished)) == 2


def test_a_job_of_many_mini_batches_runs_in_slices_with_bounded_histories(product, storage, mlflow_model):
    from azure.data.tables import TableServiceClient

    frames = [frame.head(2) for frame in input_frames(60, rows=2, seed=8)]
    source = upload_csvs(storage, unique("many"), frames)
    endpoint = endpoint_with(product, mlflow_model, settings={"mini_batch_size": 1, "max_concurrency_per_instance": 2})
    job = wait_for_job(product, invoke(product, endpoint, input=source)["name"], timeout=300)
    assert job["status"] == "Completed" and job["counts"]["mini_batches_done"] == 60, job
    assert len(predictions(product, job)) == sum(len(f) for f in frames)
    history = TableServiceClient.from_connection_string(storage).get_table_client(f"{product.hub}History")
    sizes = {}
    for row in history.query_entities("PartitionKey ge @low and PartitionKey lt @high",
                                      parameters={"low": job["name"], "high": job["name"] + "~"},
                                      select=["PartitionKey"]):
        sizes[row["PartitionKey"]] = sizes.get(row["PartitionKey"], 0) + 1
    slices = [k for k in sizes if ":slice:" in k]
    assert len(slices) == 60 // SLICE_SIZE
    assert max(sizes.values()) < 12 * SLICE_SIZE + 40, sizes


SLOW_SCRIPT = """
import os
import time
from pathlib import Path

import pandas as pd


def init():
    pass


def run(mini_batch):
    started = time.time()
    time.sleep(1.5)
    return pd.DataFrame([{"file": Path(p).name, "scorer": os.getpid(), "started": started, "ended": time.time()}
                         for p in mini_batch])
"""


def test_activities_on_threads_of_one_worker_process_score_in_scoring_processes_of_their_own(
        azurite, artifacts_dir, storage, mlflow_model, tmp_path):
    """As the Functions Python worker does with PYTHON_THREADPOOL_THREAD_COUNT: two mini-batches at once in one
    process, each in its own scoring process, both right."""
    runtime = Runtime(ROOT, azurite.connection_string, artifacts_dir, workers=1, env={
        "PYTHON_SCRIPT_FILE_NAME": "batch_app.py", "PYTHON_THREADPOOL_THREAD_COUNT": "2"})
    runtime.start()
    try:
        assert "activity workers: 1" in runtime.log_text()
        source = upload_csvs(storage, unique("threads"), input_frames(4, seed=9))
        endpoint = custom_endpoint(runtime, tmp_path, SLOW_SCRIPT, mlflow_model,
                                   settings={"mini_batch_size": 1, "max_concurrency_per_instance": 2})
        job = wait_for_job(runtime, invoke(runtime, endpoint, input=source)["name"])
        assert job["status"] == "Completed", job
        result = predictions(runtime, job)
    finally:
        runtime.stop()
    assert list(result["file"]) == [f"part-{i:03d}.csv" for i in range(4)]
    assert result["scorer"].nunique() == 2
    spans = sorted(zip(result["started"], result["ended"]))
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:])), spans


def test_a_stopped_runtime_leaves_nothing_in_its_temporary_folder(azurite, artifacts_dir, storage, mlflow_model,
                                                                    tmp_path):
    """A worker keeps the models it scores in a folder of its own and each mini-batch's files in another: all
    go when the mini-batch ends or the worker stops, so a machine that runs jobs for months does not fill up."""
    temp = tmp_path / "temp"
    temp.mkdir()
    runtime = Runtime(ROOT, azurite.connection_string, artifacts_dir, workers=1, env={
        "PYTHON_SCRIPT_FILE_NAME": "batch_app.py", "TMPDIR": str(temp)})
    runtime.start()
    try:
        source = upload_csvs(storage, unique("temp"), input_frames(2, rows=3))
        job = wait_for_job(runtime, invoke(runtime, endpoint_with(runtime, mlflow_model), input=source)["name"])
        assert job["status"] == "Completed", job
        assert [p.name for p in temp.iterdir() if p.name.startswith("batch-scoring-cache-")]  # while it runs
    finally:
        runtime.stop()
    assert sorted(p.name for p in temp.iterdir()) == []


def test_a_job_records_the_client_that_started_it(product, storage, mlflow_model):
    source = upload_csvs(storage, unique("client"), input_frames(1, rows=2))
    endpoint = endpoint_with(product, mlflow_model)
    from_studio = call(product, "POST", f"api/batchEndpoints/{endpoint}/jobs", json={"input": source},
                       headers={"x-mlbatch-client": "studio"}).json()
    unnamed = call(product, "POST", f"api/batchEndpoints/{endpoint}/jobs", json={"input": source},
                   headers={"x-mlbatch-client": "<script>"}).json()
    assert from_studio["source"] == {"kind": "invoke", "client": "studio"}
    assert unnamed["source"] == {"kind": "invoke"}
    for job in (from_studio, unnamed):
        assert wait_for_job(product, job["name"])["status"] == "Completed"
