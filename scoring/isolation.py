"""The caller's side of the scoring process: start it, send a mini-batch, wait at most the timeout, and
stop it (the next request starts a fresh one) when the time is up, the caller says stop (a canceled job), or
it died."""
from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from .contracts import BlockReady, ScoringAnswer, ScoringRequest, parse_message
from .errors import ScoringSystemError

DEFAULT_STOP_GRACE_SECONDS = 2  # a killed process is waited for this long, then left to the kernel
DEFAULT_READ_BYTES = 1024 * 1024  # one read of the answer pipe: a mini-batch's notices fit in one
DEFAULT_STOP_CHECK_SECONDS = 1.0  # how often a running mini-batch asks whether it should stop
STOPPED_ERROR = "The mini-batch was stopped: its job was canceled."


class ScoringProcess:
    """One scoring process per caller process; it keeps its loaded model while requests share its key."""

    def __init__(self):
        self.process: subprocess.Popen | None = None
        self.key: str | None = None
        self._received = b""

    def score(self, request: ScoringRequest, timeout: float, threads: int,
              on_block: Callable[[BlockReady], None] = lambda block: None,
              should_stop: Callable[[], bool] = lambda: False) -> ScoringAnswer:
        """The mini-batch's answer; each block of rows it reports ready on the way goes to on_block. While it
        runs, should_stop is asked every DEFAULT_STOP_CHECK_SECONDS: True stops the process."""
        if self.process is None or self.process.poll() is not None or self.key != request.key:
            self.stop()
            self._start(threads, request.scorer.python or sys.executable)
            self.key = request.key
        try:
            self.process.stdin.write(request.to_line())
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            self.stop()
            raise ScoringSystemError("the scoring process exited before it took the mini-batch") from None
        deadline = time.monotonic() + timeout
        while True:
            line = self._read_line(min(deadline, time.monotonic() + DEFAULT_STOP_CHECK_SECONDS))
            if line is None:
                if time.monotonic() >= deadline:
                    self.stop()
                    return ScoringAnswer(ok=False, timed_out=True, error=f"The mini-batch did not finish within "
                                         f"the timeout of {timeout:g} s (retry_settings.timeout); its scoring was "
                                         "stopped.")
                if should_stop():
                    self.stop()
                    return ScoringAnswer(ok=False, stopped=True, error=STOPPED_ERROR)
                continue
            if not line:
                code = self.process.wait()
                self.stop()
                return ScoringAnswer(ok=False, error=f"The scoring process died (exit code {code}) while scoring "
                                     "the mini-batch.")
            message = parse_message(line)
            if isinstance(message, BlockReady):
                on_block(message)
                continue
            return message

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
                    chunk = os.read(self.process.stdout.fileno(), DEFAULT_READ_BYTES)
                    if not chunk:
                        return b""
                    self._received += chunk
            line, _, self._received = self._received.partition(b"\n")
            if line.strip():  # a blank line is no message (and never mistaken for the end)
                return line

    def _start(self, threads: int, python: str) -> None:
        environment = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
                       "OPENBLAS_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [root, environment.get("PYTHONPATH")]))
        self.process = subprocess.Popen([python, "-m", "scoring.process"], stdin=subprocess.PIPE,
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
            process.wait(DEFAULT_STOP_GRACE_SECONDS)
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
