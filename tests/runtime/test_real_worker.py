"""The app under the real Python worker: the library the Functions host runs for Python 3.13 apps
(azure-functions-runtime) indexes the product and every test app as the local runtime's loader does, refuses
the apps the loader refuses, and the product runs a scoring job with the local runtime on Python 3.13.

Both views come from tests/real_worker.py, each from a fresh process. They are put in one form there, and
only in what is representation: a direction is the library's enum number and the binding JSON's member name
("IN"), a data type unset in the library's call is the proto's zero value, undefined.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from devhost.config import read_local_settings
from tests.harness import APPS, ROOT, Runtime
from tests.model_builders import onnx_model_bytes, sklearn_classifier
from tests.real_worker import ensure_worker_venv, find_python313, take_view
from tests.runtime.test_jobs import (endpoint_with, expected_frame, input_frames, invoke, predictions,
                                     register, unique, upload_csvs, wait_for_job)

pytestmark = pytest.mark.timeout(1800)  # the first run builds .venv-py313: minutes of downloads


@pytest.fixture(scope="session")
def worker_python(pytestconfig) -> str:
    """The 3.13 venv's interpreter, the venv built first if requirements changed, with progress shown."""
    python = find_python313()
    if python is None:
        pytest.skip("no Python 3.13 on this machine (PATH python3.13, pyenv, or set PYTHON313)")
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")

    def progress(line: str) -> None:
        with capture.global_and_fixture_disabled():
            print(f"\n{line}", flush=True)

    return str(ensure_worker_venv(python, progress))


def v2_apps() -> list:
    """The product and each test app whose entry script exists (the v2 model: no function.json folders)."""
    apps = [pytest.param(ROOT, {"PYTHON_SCRIPT_FILE_NAME": "batch_app.py"}, id="product")]
    for app_dir in sorted(path for path in APPS.iterdir() if (path / "host.json").exists()):
        script = read_local_settings(app_dir).get("PYTHON_SCRIPT_FILE_NAME", "function_app.py")
        if (app_dir / script).exists():
            apps.append(pytest.param(app_dir, {}, id=app_dir.name))
    return apps


def both_views(worker_python: str, app_dir: Path, settings: dict) -> tuple[dict, dict]:
    return (take_view(worker_python, "worker", app_dir, settings),
            take_view(sys.executable, "devhost", app_dir, settings))


@pytest.mark.parametrize(("app_dir", "settings"), v2_apps())
def test_the_real_worker_indexes_the_app_as_the_local_runtime_does(worker_python, app_dir, settings):
    worker, devhost = both_views(worker_python, app_dir, settings)
    assert worker["python"].startswith("3.13.") and worker["error"] is None, worker["error"]
    assert devhost["error"] is None, devhost["error"]
    assert worker["functions"], "the worker indexed no function"
    assert sorted(worker["functions"]) == sorted(devhost["functions"])
    for name, indexed in worker["functions"].items():
        loaded = devhost["functions"][name]
        assert sorted(indexed["bindings"]) == sorted(loaded["bindings"]), name
        for binding, seen in indexed["bindings"].items():
            # type, direction, data type and the raw JSON: route, methods, authLevel, connection, path, ...
            assert seen == loaded["bindings"][binding], (name, binding)
        assert indexed["retry"] == loaded["retry"], name


HTTP_HEAD = "import azure.functions as func\n\napp = func.FunctionApp()\n\n\n@app.route(route=\"a\")\n"
DURABLE_HEAD = "import typing\n\nimport azure.durable_functions as df\n\napp = df.DFApp()\n\n\n"
SIGNATURES = {
    "a_parameter_named_unlike_its_binding": (HTTP_HEAD + "def a(request: func.HttpRequest) -> func.HttpResponse:\n"
                                             "    return func.HttpResponse('x')\n"),
    "a_parameter_with_no_binding": (HTTP_HEAD + "def a(req: func.HttpRequest, extra) -> func.HttpResponse:\n"
                                    "    return func.HttpResponse('x')\n"),
    "a_binding_with_no_parameter": (HTTP_HEAD + "@app.generic_input_binding(arg_name='client', type='durableClient')\n"
                                    "def a(req: func.HttpRequest) -> func.HttpResponse:\n"
                                    "    return func.HttpResponse('x')\n"),
    "a_context_parameter": (HTTP_HEAD + "def a(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:\n"
                            "    return func.HttpResponse(context.function_name)\n"),
    "a_context_of_another_type": (HTTP_HEAD + "def a(req: func.HttpRequest, context: dict) -> func.HttpResponse:\n"
                                  "    return func.HttpResponse('x')\n"),
    "an_http_function_returning_none": HTTP_HEAD + "def a(req: func.HttpRequest) -> None:\n    pass\n",
    "an_http_function_returning_str": HTTP_HEAD + "def a(req: func.HttpRequest) -> str:\n    return 'x'\n",
    "a_durable_client_as_str": (HTTP_HEAD + "@app.generic_input_binding(arg_name='client', type='durableClient')\n"
                                "def a(req: func.HttpRequest, client: str) -> func.HttpResponse:\n"
                                "    return func.HttpResponse(client)\n"),
    "queue_and_blob_triggers_as_str_and_bytes": textwrap.dedent("""\
        import azure.functions as func

        app = func.FunctionApp()


        @app.queue_trigger(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
        def as_text(msg: str) -> None:
            pass


        @app.blob_trigger(arg_name="blob", path="c/{name}", connection="AzureWebJobsStorage")
        def as_bytes(blob: bytes) -> None:
            pass
        """),
    "a_queue_trigger_as_dict": textwrap.dedent("""\
        import azure.functions as func

        app = func.FunctionApp()


        @app.queue_trigger(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
        def as_dict(msg: dict) -> None:
            pass
        """),
    "an_activity_taking_a_typing_generic": (DURABLE_HEAD + "@app.activity_trigger(input_name='values')\n"
                                            "def act(values: typing.List[int]) -> int:\n    return sum(values)\n"),
    "an_activity_taking_a_builtin_generic": (DURABLE_HEAD + "@app.activity_trigger(input_name='values')\n"
                                             "def act(values: list[int]) -> int:\n    return sum(values)\n"),
    "an_activity_taking_an_optional": (DURABLE_HEAD + "@app.activity_trigger(input_name='values')\n"
                                       "def act(values: typing.Optional[dict]) -> int:\n    return 0\n"),
}


@pytest.mark.parametrize("case", sorted(SIGNATURES))
def test_the_local_runtime_refuses_the_signatures_the_real_worker_refuses(worker_python, tmp_path, case):
    """The worker refuses the whole app when one function's parameters and bindings do not name each other or
    an annotation does not suit its binding; the local runtime must not start what Azure would not."""
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    (tmp_path / "function_app.py").write_text(SIGNATURES[case])
    worker, devhost = both_views(worker_python, tmp_path, {})
    assert (devhost["error"] is None) == (worker["error"] is None), (worker["error"], devhost["error"])
    assert devhost["functions"] == worker["functions"]


class Runtime313(Runtime):
    """The harness's runtime, started by the 3.13 venv's interpreter: the harness runs `sys.executable -m
    devhost`, so the interpreter is swapped for the start only."""

    def __init__(self, python: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.python = python

    def start(self, timeout: float = 90) -> "Runtime313":
        own = sys.executable
        sys.executable = self.python
        try:
            return super().start(timeout)
        finally:
            sys.executable = own


@pytest.fixture(scope="module")
def product313(worker_python, azurite, artifacts_dir):
    runtime = Runtime313(worker_python, ROOT, azurite.connection_string, artifacts_dir,
                         env={"PYTHON_SCRIPT_FILE_NAME": "batch_app.py"})
    runtime.start()
    yield runtime
    runtime.stop()


def test_the_product_scores_an_onnx_job_with_the_local_runtime_on_python_313(product313, storage):
    assert product313.get("api/health", key=False).json() == {"status": "ok"}
    model = register(product313, unique("onnx313"), onnx_model_bytes(), "model.onnx")  # makes the datastore
    frames = input_frames(6, seed=13)
    source = upload_csvs(storage, unique("py313-in"), frames)
    endpoint = endpoint_with(product313, model, settings={"mini_batch_size": 2})
    job = wait_for_job(product313, invoke(product313, endpoint, input=source)["name"])
    assert job["status"] == "Completed", job
    result = predictions(product313, job)
    classifier = sklearn_classifier()
    pd.testing.assert_frame_equal(result[["file_name", "row", "prediction"]],
                                  expected_frame(frames, classifier.predict), check_dtype=False)
    probabilities = np.vstack([classifier.predict_proba(f) for f in frames])
    np.testing.assert_allclose(result[["probabilities_0", "probabilities_1"]].to_numpy(), probabilities, atol=1e-5)
    host = os.readlink(f"/proc/{product313.process.pid}/exe")  # the interpreter the host really runs on
    version = subprocess.run([host, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True,
                             text=True, timeout=30, check=True).stdout.split()
    assert version == ["3", "13"], host
