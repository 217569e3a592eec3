"""Test harness: the local runtime as a real subprocess against a real Azurite, and polling helpers."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable

import requests

from devhost.azurite import free_port

ROOT = Path(__file__).resolve().parent.parent
APPS = Path(__file__).resolve().parent / "apps"


def wait_for(predicate: Callable[[], object], timeout: float = 60, interval: float = 0.2, what: str = "condition"):
    """Poll until predicate returns something truthy; fail with a message after the deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last value: {last!r})")


class Runtime:
    """`python -m devhost start` for one app folder, with its own task hub and host id unless given; `env`
    adds to the test's environment, and a value of None leaves that variable out. `name` tells its log apart
    from those of other hosts with the same host id (default: the host id); `log_level` is the host's
    (default: its own, INFO)."""

    def __init__(self, app_dir: Path, storage: str, log_dir: Path, *, hub: str | None = None,
                 host_id: str | None = None, workers: int = 2, env: dict | None = None,
                 activity_visibility: int = 60, port: int | None = None, name: str | None = None,
                 log_level: str | None = None):
        self.app_dir = app_dir
        self.storage = storage
        self.hub = hub or f"Hub{uuid.uuid4().hex[:12]}"
        self.host_id = host_id or f"test-{uuid.uuid4().hex[:12]}"
        self.workers = workers
        self.extra_env = env or {}
        self.activity_visibility = activity_visibility
        self.port = port or free_port()
        self.log_dir = log_dir
        self.name = name or self.host_id
        self.log_level = log_level
        self.process: subprocess.Popen | None = None
        self.log_path: Path | None = None
        self.starts = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""

    def start(self, timeout: float = 90) -> "Runtime":
        self.starts += 1
        self.log_path = self.log_dir / f"runtime-{self.name}-{self.starts}.log"
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "AzureWebJobsStorage": self.storage,
            "AzureFunctionsJobHost__extensions__durableTask__hubName": self.hub,
            "AzureFunctionsWebHost__hostid": self.host_id,
            **self.extra_env,
        }
        env = {name: value for name, value in env.items() if value is not None}  # None: unset it
        command = [sys.executable, "-m", "devhost", "start", "--app-dir", str(self.app_dir),
                   "--port", str(self.port), "--azurite", "never", "--workers", str(self.workers),
                   "--activity-visibility", str(self.activity_visibility)]
        if self.log_level:
            command += ["--log-level", self.log_level]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            cwd=ROOT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while "Listening on" not in self.log_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"runtime did not start:\n{self.log_text()[-4000:]}")
            time.sleep(0.1)
        text = self.log_text()
        self.function_key = re.search(r"default function key: (\S+)", text).group(1)
        self.master_key = re.search(r"master key:\s+(\S+)", text).group(1)
        return self

    def kill(self) -> None:
        """kill -9 the host and its worker processes, as a crash of the machine would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)

    # -- HTTP helpers ----------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def get(self, path: str, key: bool = True, **kwargs) -> requests.Response:
        return self._call("GET", path, key, **kwargs)

    def post(self, path: str, key: bool = True, **kwargs) -> requests.Response:
        return self._call("POST", path, key, **kwargs)

    def _call(self, method: str, path: str, key: bool, **kwargs) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if key:
            headers.setdefault("x-functions-key", self.function_key)
        return requests.request(method, self.url(path), headers=headers, timeout=60, **kwargs)

    def wait_for_status(self, status_url: str, statuses=("Completed", "Failed", "Terminated"),
                        timeout: float = 120) -> dict:
        def done():
            body = requests.get(status_url, timeout=30).json()
            return body if body.get("runtimeStatus") in statuses else None

        return wait_for(done, timeout=timeout, interval=0.2, what=f"instance status in {statuses}")


def product_runtime(storage: str, log_dir: Path, *, settings: dict | None = None, **options) -> Runtime:
    """The product app (batch_app.py) on the local runtime, with the app settings given; not started."""
    return Runtime(ROOT, storage, log_dir, env={"PYTHON_SCRIPT_FILE_NAME": "batch_app.py", **(settings or {})},
                   **options)
