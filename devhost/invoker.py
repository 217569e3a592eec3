"""Call user functions as the Python worker does, and write one log line pair per invocation (at DEBUG for a
timer's that succeed, so a frequent timer does not fill the log; failures always at ERROR).

Synchronous functions run in a thread pool; coroutine functions run on one event loop of their own, so a
function that blocks cannot stall the host's own server and storage loops.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .app_loader import FunctionSpec

log = logging.getLogger("devhost.functions")


@dataclass
class InvocationContext:
    """What the worker passes as `context` to functions that ask for it."""

    invocation_id: str
    function_name: str
    function_directory: str
    retry_context: Any = None
    trace_context: Any = None
    thread_local_storage: Any = None


class InvocationFailed(Exception):
    def __init__(self, function_name: str, invocation_id: str, error: BaseException, details: str):
        super().__init__(f"{type(error).__name__}: {error}")
        self.function_name = function_name
        self.invocation_id = invocation_id
        self.error = error
        self.details = details


class Invoker:
    def __init__(self, app_dir: Path, max_threads: int = 16):
        self._app_dir = str(app_dir)
        self._threads = concurrent.futures.ThreadPoolExecutor(max_threads, thread_name_prefix="fn")
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self._loop.run_forever, name="fn-async", daemon=True)
        self._loop_thread.start()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._threads.shutdown(wait=False, cancel_futures=True)

    async def invoke(self, spec: FunctionSpec, arguments: dict[str, Any], reason: str) -> Any:
        invocation_id = str(uuid.uuid4())
        if "context" in spec.parameters and "context" not in arguments:
            arguments = dict(arguments, context=InvocationContext(invocation_id, spec.name, self._app_dir))
        level = logging.DEBUG if spec.trigger_type == "timerTrigger" else logging.INFO  # idle ticks stay quiet
        log.log(level, "Executing 'Functions.%s' (Reason='%s', Id=%s)", spec.name, reason, invocation_id)
        started = time.perf_counter()
        try:
            if spec.is_async:
                future = asyncio.run_coroutine_threadsafe(spec.user_function(**arguments), self._loop)
                result = await asyncio.wrap_future(future)
            else:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(self._threads, lambda: spec.user_function(**arguments))
        except Exception as error:
            elapsed = (time.perf_counter() - started) * 1000
            log.error(
                "Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms): %s: %s",
                spec.name, invocation_id, elapsed, type(error).__name__, error,
            )
            raise InvocationFailed(spec.name, invocation_id, error, traceback.format_exc()) from error
        elapsed = (time.perf_counter() - started) * 1000
        log.log(level, "Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)", spec.name, invocation_id, elapsed)
        return result
