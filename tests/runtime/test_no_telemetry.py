"""No telemetry leaves the machine: with every proxy variable pointing at a proxy on loopback that records
whatever comes to it, the product runs whole jobs of an ONNX and an MLflow model, and the proxy sees no
connection at all. The runtime runs as on a user's machine: libraries that keep quiet in CI or under pytest
(ONNX Runtime and MLflow do) must not see the variables that tell them so."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.model_builders import mlflow_model_folder, onnx_model_bytes, zip_folder
from tests.runtime.test_jobs import endpoint_with, input_frames, invoke, predictions, register, unique, upload_csvs, \
    wait_for_job

LOOPBACK = "127.0.0.1"
MLFLOW_ENVIRONMENT_FILES = ("conda.yaml", "python_env.yaml", "requirements.txt")


class RecordingProxy(ThreadingHTTPServer):
    """A proxy that lets nothing through: it records each connection and request line (a CONNECT's target
    too) and answers 502."""

    daemon_threads = True

    def __init__(self):
        self.connections = 0
        self.requests: list[str] = []
        super().__init__((LOOPBACK, 0), Refusing)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server_address[1]}"

    def verify_request(self, request, client_address) -> bool:
        self.connections += 1
        return True


class Refusing(BaseHTTPRequestHandler):
    def parse_request(self) -> bool:
        parsed = super().parse_request()
        self.server.requests.append(self.requestline)
        if parsed:
            self.send_error(502, "nothing leaves this machine")
        return False  # answered here, whatever the method

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def proxy():
    server = RecordingProxy()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def offline(start_product, proxy):
    """The product with all traffic sent to the proxy except to loopback (Azurite, the test's own servers)."""
    proxies = {name: proxy.url for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")}
    return start_product(**proxies, NO_PROXY=f"{LOOPBACK},localhost", no_proxy=f"{LOOPBACK},localhost",
                         BATCH_OUTBOUND_ALLOW=LOOPBACK, PYTEST_CURRENT_TEST=None, CI=None)


def test_jobs_of_an_onnx_and_an_mlflow_model_send_nothing_off_the_machine(offline, proxy, storage, tmp_path):
    """The MLflow model names no environment of its own, so it scores in the app's (building one would
    rightly fetch packages from the package index)."""
    folder = mlflow_model_folder(tmp_path / "model")
    for name in MLFLOW_ENVIRONMENT_FILES:
        (folder / name).unlink(missing_ok=True)
    models = [register(offline, unique("onnx"), onnx_model_bytes(), "model.onnx"),
              register(offline, unique("mlflow"), zip_folder(folder), "model.zip")]
    frames = input_frames(4, rows=5, seed=12)
    source = upload_csvs(storage, unique("offline"), frames)
    for model in models:
        endpoint = endpoint_with(offline, model, settings={"mini_batch_size": 2})
        job = wait_for_job(offline, invoke(offline, endpoint, input=source)["name"])
        assert job["status"] == "Completed", job
        assert len(predictions(offline, job)) == sum(len(frame) for frame in frames)
    offline.stop()  # whatever a library sends as its process ends is sent now
    assert proxy.requests == [] and proxy.connections == 0, proxy.requests
