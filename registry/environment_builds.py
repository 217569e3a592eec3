"""Building the Python environments deployments score in: with uv, once per resolved spec, into a virtual
environment named by the spec's hash, so deployments with the same spec share one build and a restart reuses
it. Each build has a record in `EnvironmentBuilds` (state, log, interpreter) that deployments and jobs read."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from .clock import now_iso, seconds_between
from .environment_specs import ResolvedEnvironment
from .errors import AlreadyExists
from .storage import Record, WorkspaceStorage

ENVIRONMENTS_DIR_SETTING = "BATCH_ENVIRONMENTS_DIR"
DEFAULT_ENVIRONMENTS_DIR = Path.home() / ".cache" / "batch-endpoints" / "environments"  # kept across restarts
DEFAULT_BUILD_TIMEOUT_SECONDS = 1800  # a resolver and installs of large wheels (torch) fit; a stuck one ends
DEFAULT_LOG_CHARS = 30_000  # of a build's output kept on its record (the resolver's message is at the end)
BUILT_MARK = ".built"  # written last: a folder without it is a build that never finished
PARTITION = "build"


class BuildState(str, Enum):
    BUILDING = "Building"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


def environments_dir() -> Path:
    return Path(os.environ.get(ENVIRONMENTS_DIR_SETTING) or DEFAULT_ENVIRONMENTS_DIR)


def interpreter_of(root: Path, key: str) -> Path:
    return root / key / "bin" / "python"


class EnvironmentBuilds:
    def __init__(self, storage: WorkspaceStorage):
        self.table = storage.table("EnvironmentBuilds")

    def get(self, key: str) -> Record:
        return self.table.get(PARTITION, key, "Environment build", key)

    def find(self, key: str) -> Record | None:
        return self.table.find(PARTITION, key)

    def request(self, spec: ResolvedEnvironment) -> bool:
        """Record that spec is wanted; True when a build has to run (none yet, or the last one failed)."""
        body = {"key": spec.key, "spec": spec.to_json(), "state": BuildState.BUILDING.value, "log": "",
                "python": None, "requested_at": now_iso(), "ended_at": None, "builds": 0}
        try:
            self.table.create(PARTITION, spec.key, body, "Environment build", spec.key)
            return True
        except AlreadyExists:
            record = self.get(spec.key)
        if self.state(record) is not BuildState.FAILED:
            return False
        self.table.replace(PARTITION, spec.key, {**record.body, "state": BuildState.BUILDING.value, "log": "",
                                                 "requested_at": now_iso(), "ended_at": None},
                           record.etag, "Environment build", spec.key)
        return True

    def finish(self, key: str, result: "BuildResult") -> Record:
        record = self.get(key)
        body = {**record.body, "state": (BuildState.SUCCEEDED if result.ok else BuildState.FAILED).value,
                "log": result.log[-DEFAULT_LOG_CHARS:], "python": result.python, "ended_at": now_iso(),
                "builds": record.body["builds"] + (0 if result.reused else 1)}
        self.table.upsert(PARTITION, key, body)
        return self.get(key)

    def state_of(self, key: str) -> BuildState:
        record = self.find(key)
        return self.state(record) if record is not None else BuildState.FAILED

    @staticmethod
    def state(record: Record) -> BuildState:
        """A build still Building past the longest a build may take lost its worker: it counts as failed, and
        the next request builds again."""
        state = BuildState(record.body["state"])
        if state is BuildState.BUILDING and \
                seconds_between(record.body["requested_at"], now_iso()) > DEFAULT_BUILD_TIMEOUT_SECONDS * 1.1:
            return BuildState.FAILED
        return state


@dataclass(frozen=True)
class BuildResult:
    ok: bool
    log: str
    python: str | None  # the environment's interpreter
    reused: bool = False


def find_interpreter(minor: str | None) -> tuple[str, str]:
    """The interpreter of the requested minor version if the machine has one, else the app's own; and a line
    for the build log saying which."""
    own = f"{sys.version_info.major}.{sys.version_info.minor}"
    if minor and minor != own:
        found = shutil.which(f"python{minor}")
        if found:
            real = subprocess.run([found, "-c", "import sys; print(sys.executable)"], capture_output=True,
                                  text=True, timeout=60)
            if real.returncode == 0 and real.stdout.strip():
                return real.stdout.strip(), f"Python {minor}: {real.stdout.strip()}"
        return sys.executable, (f"WARNING: Python {minor} was asked for but this machine has no python{minor}; "
                                f"using the app's Python {own} ({sys.executable}).")
    return sys.executable, f"Python {own}: {sys.executable}"


def build(spec: ResolvedEnvironment, root: Path | None = None) -> BuildResult:
    """Build spec's environment under root (reused when a build of the same key finished before)."""
    root = root or environments_dir()
    target = root / spec.key
    log = [f"Environment {spec.key} from {spec.source}", "Requirements:", *(f"  {line}" for line in spec.requirements)]
    if (target / BUILT_MARK).exists():
        log.append(f"Reused the environment built before: {target}")
        return BuildResult(True, "\n".join(log), str(interpreter_of(root, spec.key)), reused=True)
    root.mkdir(parents=True, exist_ok=True)
    python, chosen = find_interpreter(spec.python)
    log += [chosen, ""]
    staging = Path(tempfile.mkdtemp(prefix=f".{spec.key}.", dir=root))
    requirements = staging / "requirements.in"
    environment = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "VIRTUAL_ENV": ""}
    try:
        venv = staging / "venv"
        steps = [[_uv(), "venv", "--quiet", "--relocatable", "--python", python, str(venv)],
                 [_uv(), "pip", "install", "--python", str(venv / "bin" / "python"), "-r", str(requirements)]]
        requirements.write_text("\n".join(spec.requirements) + "\n")
        for step in steps:
            log.append("$ " + " ".join(step[1:3]))
            done = subprocess.run(step, capture_output=True, text=True, env=environment,
                                  timeout=DEFAULT_BUILD_TIMEOUT_SECONDS)
            log.append((done.stdout + done.stderr).strip())
            if done.returncode != 0:
                log.append(f"The build failed (exit code {done.returncode}).")
                return BuildResult(False, "\n".join(log), None)
        (venv / BUILT_MARK).write_text(now_iso())
        try:
            venv.rename(target)
        except OSError:  # a build of the same key on another thread finished first: use that one
            if not (target / BUILT_MARK).exists():
                raise
        log.append(f"Built: {target}")
        return BuildResult(True, "\n".join(log), str(interpreter_of(root, spec.key)))
    except subprocess.TimeoutExpired:
        log.append(f"The build did not finish within {DEFAULT_BUILD_TIMEOUT_SECONDS} s and was stopped.")
        return BuildResult(False, "\n".join(log), None)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _uv() -> str:
    from uv import find_uv_bin

    return find_uv_bin()
