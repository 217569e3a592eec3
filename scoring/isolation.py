"""The caller's side of the scoring process: start it, send a mini-batch, wait at most the timeout, and
stop it (the next request starts a fresh one) when the time is up or it died."""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

from .errors import ScoringSystemError

STOP_GRACE_SECONDS = 2
READ_BYTES = 1024 * 1024


@dataclass
class Answer:
    ok: bool
    timed_out: bool = False
    outcome: dict | None = None
    error: str = ""
    trace: str = ""
    log: str = ""


class ScoringProcess:
    """One scoring process per caller process; it keeps its loaded model while requests share its key."""

    def __init__(self):
        self.process: subprocess.Popen | None = None
        self.key: str | None = None
        self._received = b""

    def score(self, request: dict, timeout: float, threads: int,
              on_block: Callable[[dict], None] = lambda block: None) -> Answer:
        """The mini-batch's answer; each block of rows it reports ready on the way goes to on_block."""
        if self.process is None or self.process.poll() is not None or self.key != request["key"]:
            self.stop()
            self._start(threads)
            self.key = request["key"]
        try:
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            self.stop()
            raise ScoringSystemError("the scoring process exited before it took the mini-batch") from None
        deadline = time.monotonic() + timeout
        while True:
            line = self._read_line(deadline)
            if line is None:
                self.stop()
                return Answer(ok=False, timed_out=True, error=f"The mini-batch did not finish within the timeout "
                              f"of {timeout:g} s (retry_settings.timeout); its scoring was stopped.")
            if not line:
                code = self.process.wait()
                self.stop()
                return Answer(ok=False, error=f"The scoring process died (exit code {code}) while scoring "
                              "the mini-batch.")
            message = json.loads(line)
            if "block" in message:
                on_block(message["block"])
                continue
            return Answer(**{k: v for k, v in message.items() if k in Answer.__dataclass_fields__})

    def _read_line(self, deadline: float) -> bytes | None:
        """The next line from the process (b"" once it has exited), or None when the deadline passes. Read
        from the descriptor into a buffer of its own, so lines that arrive together are never left waiting
        behind a select()."""
        while True:
            while b"\n" not in self._received:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                ready, _, _ = select.select([self.process.stdout], [], [], remaining)
                if ready:
                    chunk = os.read(self.process.stdout.fileno(), READ_BYTES)
                    if not chunk:
                        return b""
                    self._received += chunk
            line, _, self._received = self._received.partition(b"\n")
            if line.strip():  # a blank line is no message (and never mistaken for the end)
                return line

    def _start(self, threads: int) -> None:
        environment = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
                       "OPENBLAS_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [root, environment.get("PYTHONPATH")]))
        self.process = subprocess.Popen([sys.executable, "-m", "scoring.process"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=None, env=environment, cwd=root,
                                        start_new_session=True)
        self._received = b""

    def stop(self) -> None:
        if self.process is None:
            return
        process, self.process, self.key = self.process, None, None
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # the script's own children too
            except ProcessLookupError:
                pass
        try:
            process.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        for stream in (process.stdin, process.stdout):
            try:
                stream.close()
            except OSError:
                pass


class ScoringPool:
    """The scoring processes of one caller process. The Functions host may run several activities at once on
    threads of one worker process; each mini-batch borrows a process of its own, preferably one that already
    holds its model, so the pool grows to the mini-batches that ran at once and no further."""

    def __init__(self):
        self._idle: list[ScoringProcess] = []
        self._lock = threading.Lock()
        self.size = 0

    @contextmanager
    def borrowed(self, key: str) -> Iterator[ScoringProcess]:
        with self._lock:
            process = next((p for p in self._idle if p.key == key), None) or next(iter(self._idle), None)
            if process is None:
                process = ScoringProcess()
                self.size += 1
            else:
                self._idle.remove(process)
        try:
            yield process
        finally:
            with self._lock:
                self._idle.append(process)
