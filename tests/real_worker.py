"""The real Python worker library's view of an app, next to the local runtime's, for the tests to compare.

For Python 3.13 apps the Functions host runs the worker library published as `azure-functions-runtime`
(Python >= 3.13 only). Its entry points take the host's gRPC messages; here they get a small namespace of
plain classes instead (`PROTOS`, our own adapter: each records the keyword arguments it is built with and
carries the enum members the library reads). That is enough for the library to index an app exactly as it
does under the host: `worker_init_request` imports the entry script and indexes every function,
`functions_metadata_request` answers with one `RpcFunctionMetadata` per function.

The library runs in a Python 3.13 venv cached at `.venv-py313/` (git-ignored), built on demand from
requirements.txt plus the library and the local runtime's aiohttp, and rebuilt when any of those pins
change. Each view is taken in a process of its own, as each host starts a fresh worker: entry scripts of
different apps share module names (`function_app`), which one process could import only once.

This module lives with the tests rather than in devhost because the local runtime must not depend on a
second interpreter. It is imported by pytest (Python 3.11) and also run as the script of the 3.13
subprocess, so at the top it imports only the standard library.

    python -m tests.real_worker APP_DIR [SCRIPT_FILE]   # prints both views of an app as JSON
    python -m tests.real_worker --build                 # only builds the venv if it is missing or stale
"""
from __future__ import annotations

import asyncio
import fcntl
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-py313"
RUNTIME_REQUIREMENT = "azure-functions-runtime==1.3.0"
DEFAULT_SCRIPT_FILE = "function_app.py"
PIP_TIMEOUT = 1500  # seconds for the first build: onnxruntime, pyarrow and pandas are large downloads
INDEX_TIMEOUT = 180


# -- the protos adapter ------------------------------------------------------------------------------------
class Message:
    """A gRPC message as the library uses one: built with keyword arguments, read back as attributes."""

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.__dict__!r})"


class BindingInfo(Message):
    # enum Direction; `in` is a Python keyword, so the proto's generated code cannot name it either
    in_, out, inout = 0, 1, 2
    # enum DataType
    undefined, string, binary, stream = 0, 1, 2, 3


class StatusResult(Message):
    Failure, Success, Cancelled = 0, 1, 2


class WorkerInitResponse(Message):
    pass


class WorkerMetadata(Message):
    pass


class RpcException(Message):
    pass


class FunctionMetadataResponse(Message):
    pass


class RpcFunctionMetadata(Message):
    pass


class RpcRetryOptions(Message):
    pass


PROTOS = SimpleNamespace(**{message.__name__: message for message in (
    BindingInfo, StatusResult, WorkerInitResponse, WorkerMetadata, RpcException, FunctionMetadataResponse,
    RpcFunctionMetadata, RpcRetryOptions)})

DIRECTIONS = {BindingInfo.in_: "in", BindingInfo.out: "out", BindingInfo.inout: "inout"}
DATA_TYPES = {BindingInfo.undefined: "undefined", BindingInfo.string: "string", BindingInfo.binary: "binary",
              BindingInfo.stream: "stream"}


# -- the two views, each in its own process ----------------------------------------------------------------
def binding_view(type_: str, direction: str, data_type: str, raw: dict) -> dict:
    return {"type": type_, "direction": direction, "data_type": data_type, "raw": raw}


def worker_view(app_dir: Path) -> dict:
    """Index the app with the real library, as its proxy worker drives it; run inside the 3.13 venv.

    The proxy appends the app folder (AzureWebJobsScriptRoot) to sys.path and starts the library's thread
    pool before the init request; so does this.
    """
    import azure.functions
    import azure_functions_runtime as runtime
    from azure_functions_runtime.version import VERSION

    os.chdir(app_dir)
    sys.path.append(str(app_dir))
    init = SimpleNamespace(worker_init_request=SimpleNamespace(function_app_directory=str(app_dir), capabilities={}))
    properties = {"protos": PROTOS, "host": "127.0.0.1"}

    async def index():
        runtime.start_threadpool_executor()
        try:
            started = await runtime.worker_init_request(
                SimpleNamespace(name="WorkerInitRequest", request=init, properties=properties))
            if started.result.status != StatusResult.Success:
                return started, None
            metadata = await runtime.functions_metadata_request(
                SimpleNamespace(name="WorkerMetadataRequest", request=SimpleNamespace(), properties={}))
            return started, metadata
        finally:
            runtime.stop_threadpool_executor()

    started, metadata = asyncio.run(index())
    view = {"python": sys.version.split()[0], "sdk": azure.functions.__version__, "worker": VERSION,
            "error": None, "functions": {}}
    if metadata is None:
        view["error"] = f"{started.result.exception.message}\n{started.result.exception.stack_trace}"
        return view
    for function in metadata.function_metadata_results or []:
        raw = {binding["name"]: binding for binding in map(json.loads, function.raw_bindings)}
        retry = function.retry_options
        view["functions"][function.name] = {
            # an unset proto3 enum field (the SDK passes data_type=None) reads as its zero value, undefined
            "bindings": {name: binding_view(info.type, DIRECTIONS[info.direction],
                                            DATA_TYPES[info.data_type or BindingInfo.undefined], raw.get(name))
                         for name, info in function.bindings.items()},
            "retry": None if retry is None else {key: str(value) for key, value in vars(retry).items()},
        }
    return view


def devhost_view(app_dir: Path) -> dict:
    """Index the app with the local runtime's loader, as `python -m devhost start` does at start-up."""
    import azure.functions

    from devhost.app_loader import load_app
    from devhost.config import apply_local_settings, script_file_name

    apply_local_settings(app_dir)
    view = {"python": sys.version.split()[0], "sdk": azure.functions.__version__, "error": None, "functions": {}}
    try:
        index = load_app(app_dir, script_file_name())
    except Exception as error:  # the view reports any failure to load, as the worker's does
        view["error"] = f"{type(error).__name__}: {error}"
        return view
    for spec in index.functions.values():
        view["functions"][spec.name] = {
            # the binding JSON spells enums by member name: direction "IN", dataType "STRING"
            "bindings": {binding["name"]: binding_view(binding["type"], binding["direction"].lower(),
                                                       str(binding.get("dataType") or "undefined").lower(),
                                                       binding)
                         for binding in [spec.trigger, *spec.bindings]},
            "retry": None,  # the local runtime runs no function-level retry policy
        }
    return view


# -- the Python 3.13 venv ---------------------------------------------------------------------------------
def python313_candidates() -> list[str]:
    """PYTHON313 if set, python3.13 on PATH, then pyenv's 3.13 builds (`pyenv root`, else ~/.pyenv)."""
    candidates = [os.environ.get("PYTHON313"), shutil.which("python3.13")]
    roots = [Path.home() / ".pyenv"]
    if shutil.which("pyenv"):
        answer = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=30)
        if answer.returncode == 0 and answer.stdout.strip():
            roots.insert(0, Path(answer.stdout.strip()))
    for root in roots:
        candidates += sorted(glob.glob(str(root / "versions" / "3.13*" / "bin" / "python3.13")), reverse=True)
    return [c for c in dict.fromkeys(candidates) if c]


def find_python313() -> str | None:
    """The first candidate that really is a Python 3.13 (a pyenv shim may exist for a version not selected)."""
    for candidate in python313_candidates():
        try:
            answer = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 13))"],
                                    capture_output=True, text=True, timeout=30)
        except OSError:
            continue
        if answer.stdout.strip() == "True":
            return candidate
    return None


def extra_requirements() -> list[str]:
    """Besides the app's requirements: the worker library, and aiohttp so the local runtime runs there too."""
    dev = (ROOT / "requirements-dev.txt").read_text().splitlines()
    return [RUNTIME_REQUIREMENT, next(line.strip() for line in dev if line.startswith("aiohttp=="))]


def venv_key(python: str) -> str:
    version = subprocess.run([python, "-c", "import sys; print(sys.version)"], capture_output=True, text=True,
                             timeout=30, check=True).stdout
    digest = hashlib.sha256((ROOT / "requirements.txt").read_bytes())
    digest.update("\n".join([version, *extra_requirements()]).encode())
    return digest.hexdigest()


def venv_python() -> Path:
    return VENV / "bin" / "python"


def _run_step(command: list[str], what: str, progress: Callable[[str], None], timeout: float) -> None:
    progress(f".venv-py313: {what}")
    answer = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if answer.returncode != 0:
        raise RuntimeError(f"{what} failed ({' '.join(command)}):\n{(answer.stdout + answer.stderr)[-6000:]}")


def ensure_worker_venv(python: str, progress: Callable[[str], None] = print) -> Path:
    """The cached 3.13 venv, (re)built when its key changed; one build at a time across processes."""
    key = venv_key(python)
    stamp = VENV / ".installed"
    with open(ROOT / ".venv-py313.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and stamp.read_text() == key and venv_python().exists():
            return venv_python()
        progress(f".venv-py313: building with {python} (first time, or requirements changed): a few minutes")
        _run_step([python, "-m", "venv", "--clear", str(VENV)], "creating the venv", progress, 300)
        _run_step([str(venv_python()), "-m", "pip", "install", "--quiet", "--progress-bar", "off",
                   "-r", str(ROOT / "requirements.txt"), *extra_requirements()],
                  f"installing requirements.txt and {', '.join(extra_requirements())}", progress, PIP_TIMEOUT)
        stamp.write_text(key)
        progress(".venv-py313: ready")
    return venv_python()


# -- running a view ----------------------------------------------------------------------------------------
def app_settings(app_dir: Path, settings: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a host gives the app: local.settings.json's Values, the real environment winning,
    then `settings`; less this interpreter's own variables, which would mislead the other one."""
    from devhost.config import read_local_settings

    environ = {key: value for key, value in os.environ.items()
               if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return {**read_local_settings(app_dir), **environ, **(settings or {})}


def take_view(python: str, side: str, app_dir: Path, settings: dict[str, str] | None = None) -> dict:
    """One view of the app from a fresh process of `python`: side "worker" (3.13 venv) or "devhost"."""
    env = {**app_settings(app_dir, settings), "AzureWebJobsScriptRoot": str(app_dir),
           "FUNCTIONS_WORKER_RUNTIME": "python"}
    if side == "devhost":
        env["PYTHONPATH"] = str(ROOT)  # as the harness starts `python -m devhost`
        command = [python, "-m", "tests.real_worker", "--view", side, str(app_dir)]
    else:
        command = [python, "-P", __file__, "--view", side, str(app_dir)]  # -P: this folder not on sys.path
    answer = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=INDEX_TIMEOUT)
    if answer.returncode != 0:
        raise RuntimeError(f"the {side} view of {app_dir} failed:\n{answer.stderr[-6000:]}")
    return json.loads(answer.stdout.splitlines()[-1])


def main(argv: list[str]) -> int:
    if argv[:1] == ["--view"]:
        app_dir = Path(argv[2]).resolve()
        view = worker_view(app_dir) if argv[1] == "worker" else devhost_view(app_dir)
        sys.stdout.write("\n" + json.dumps(view) + "\n")
        return 0
    python = find_python313()
    if python is None:
        print("no Python 3.13 found (set PYTHON313); the tests that need it are skipped", file=sys.stderr)
        return 0 if argv == ["--build"] else 2
    venv = ensure_worker_venv(python, progress=lambda line: print(line, file=sys.stderr, flush=True))
    if argv == ["--build"]:
        return 0
    app_dir = Path(argv[0]).resolve()
    settings = {"PYTHON_SCRIPT_FILE_NAME": argv[1]} if len(argv) > 1 else {}
    worker = take_view(str(venv), "worker", app_dir, settings)
    print(json.dumps({"worker": worker, "devhost": take_view(sys.executable, "devhost", app_dir, settings)},
                     indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
