"""Start and stop Azurite from the project's node_modules, and wait until it answers."""
from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from .storage import dev_connection_string

PROJECT_ROOT = Path(__file__).resolve().parent.parent
AZURITE_BIN = PROJECT_ROOT / "node_modules" / ".bin" / "azurite"


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_ports(host: str, ports: tuple[int, ...], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not all(port_open(host, port) for port in ports):
        if time.monotonic() > deadline:
            raise TimeoutError(f"Azurite did not answer on {host}:{ports} within {timeout:.0f}s")
        time.sleep(0.1)


class Azurite:
    """One Azurite process: in memory for tests, or persisted under a folder for local work."""

    def __init__(self, ports: tuple[int, int, int], location: Path | None = None, host: str = "127.0.0.1",
                 log_file: Path | None = None):
        self.ports = ports
        self.location = location
        self.host = host
        self.log_file = log_file
        self.process: subprocess.Popen | None = None

    @property
    def connection_string(self) -> str:
        return dev_connection_string(self.host, self.ports)

    def start(self, timeout: float = 60.0) -> "Azurite":
        if not AZURITE_BIN.exists():
            raise FileNotFoundError(f"{AZURITE_BIN} is missing: run `npm ci` in {PROJECT_ROOT}")
        blob, queue, table = self.ports
        command = [
            str(AZURITE_BIN), "--silent", "--disableTelemetry", "--skipApiVersionCheck", "--loose",
            "--blobHost", self.host, "--blobPort", str(blob),
            "--queueHost", self.host, "--queuePort", str(queue),
            "--tableHost", self.host, "--tablePort", str(table),
        ]
        if self.location:
            self.location.mkdir(parents=True, exist_ok=True)
            command += ["--location", str(self.location)]
        else:
            command += ["--inMemoryPersistence"]
        output = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        self.process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:
            wait_for_ports(self.host, self.ports, timeout)
        except TimeoutError:
            self.stop()
            raise
        return self

    def kill(self) -> None:
        """kill -9, as a crash would: what Azurite had not saved to its folder yet is lost (it saves every few
        seconds). start() again brings it back on the same ports and folder."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
