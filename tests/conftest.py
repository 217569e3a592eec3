"""Fixtures: one Azurite per test session on free ports; local runtimes started per test."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from devhost.azurite import Azurite, free_port  # noqa: E402
from tests.harness import Runtime  # noqa: E402

LOOPBACK = "127.0.0.1"  # the tests' own servers (Azurite as a datastore, a web server for URL inputs)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def azurite(artifacts_dir: Path):
    emulator = Azurite((free_port(), free_port(), free_port()), log_file=artifacts_dir / "azurite.log")
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def disk_azurite(tmp_path_factory, artifacts_dir: Path):
    """An Azurite of the module's own, persisted in a folder, so a test can kill or stop it and start it again
    on the same ports and folder."""
    emulator = Azurite((free_port(), free_port(), free_port()), location=tmp_path_factory.mktemp("azurite"),
                       log_file=artifacts_dir / "azurite-on-disk.log")
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def storage(azurite) -> str:
    return azurite.connection_string


@pytest.fixture
def start_runtime(azurite, artifacts_dir: Path):
    """Start runtimes for a test; each is stopped afterwards, and its log kept in test-artifacts/."""
    started: list[Runtime] = []

    def start(app_dir: Path, **options) -> Runtime:
        runtime = Runtime(app_dir, azurite.connection_string, artifacts_dir, **options)
        started.append(runtime)
        return runtime.start()

    yield start
    for runtime in started:
        runtime.stop()


@pytest.fixture(scope="module")
def start_product(azurite, artifacts_dir: Path):
    """Start the product app on the local runtime with the app settings given; stopped after the module."""
    started: list[Runtime] = []

    def start(**settings: str) -> Runtime:
        runtime = Runtime(ROOT, azurite.connection_string, artifacts_dir,
                          env={"PYTHON_SCRIPT_FILE_NAME": "batch_app.py", **settings})
        started.append(runtime)
        return runtime.start()

    yield start
    for runtime in started:
        runtime.stop()


@pytest.fixture(scope="module")
def product(start_product):
    """The product app on the local runtime, shared by a test module."""
    return start_product(BATCH_OUTBOUND_ALLOW=LOOPBACK)
