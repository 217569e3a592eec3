"""Activity functions in worker processes, at least once.

Each worker process loads the app once (so caches such as loaded models live as long as the worker);
each of its activity threads (PYTHON_THREADPOOL_THREAD_COUNT, 1 unless set) takes one work item at a time
from `<hub>-workitems`, runs it, sends the result to the orchestration's control queue, and only then
deletes the work item. While an activity runs its message's visibility is extended; if the worker dies the
message reappears after the visibility timeout and runs again. The orchestration records the first result
only.
"""
from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import os
import select
import signal
import threading
import time
import traceback
import uuid
from pathlib import Path

from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError
from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter
from azure.storage.blob import ContainerClient
from azure.storage.queue import QueueClient

from ..logs import configure_logging
from ..storage import expand_connection_string
from .messages import control_message, task_completed, task_failed
from .payloads import encode_message, large_messages_container, message_blob_name
from .taskhub import control_queue_name, partition_of, work_item_queue_name

log = logging.getLogger("devhost.activities")

DEFAULT_VISIBILITY_SECONDS = 60
DEFAULT_MAX_DELIVERIES = 10
IDLE_POLL_SECONDS = 2.0  # the host gives notice of new work; polling only catches items whose worker died
DEFAULT_BELL_CHECK_SECONDS = 0.5  # a waiter also looks at its counter this often (and sees the host stopping)


def run_activity(spec, input_json: str | None, loop: asyncio.AbstractEventLoop | None = None):
    """Decode the input, call the function, encode its result, as the worker's activity converter does."""
    argument = ActivityTriggerConverter.decode(meta.Datum(type="json", value=input_json or "null"),
                                               trigger_metadata=None)
    kwargs = {spec.trigger["name"]: argument}
    if spec.is_async:
        result = (loop or asyncio.new_event_loop()).run_until_complete(spec.user_function(**kwargs))
    else:
        result = spec.user_function(**kwargs)
    return ActivityTriggerConverter.encode(result, expected_type=None).value


class _Heartbeat(threading.Thread):
    """Keeps a running work item invisible to other workers, and remembers its latest pop receipt."""

    def __init__(self, queue: QueueClient, message, visibility: int):
        super().__init__(daemon=True)
        self.queue, self.message, self.visibility = queue, message, visibility
        self.stopped = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        while not self.stopped.wait(max(self.visibility / 3, 0.5)):
            with self.lock:
                try:
                    updated = self.queue.update_message(self.message, visibility_timeout=self.visibility)
                    self.message.pop_receipt = updated.pop_receipt
                except (ResourceNotFoundError, HttpResponseError):
                    return
                except AzureError:  # the storage does not answer: try again next time, while the item runs
                    continue

    def finish(self) -> None:
        self.stopped.set()
        with self.lock:
            pass


class Doorbell:
    """A pipe that wakes whoever waits on it. Ringing never blocks (a full pipe already rings; a waiter that
    died is ignored) and waiting never hangs past its timeout, so a process may die at any moment without
    stalling the others; the bell only says "look again": the counters say what changed."""

    def __init__(self, context):
        self.reader, self.writer = context.Pipe(duplex=False)
        for end in (self.reader, self.writer):  # the processes it is handed to share these flags
            os.set_blocking(end.fileno(), False)

    def ring(self) -> None:
        try:
            os.write(self.writer.fileno(), b"\0")
        except OSError:  # full (it rings already), or no one reads it any more
            pass

    def wait(self, timeout: float) -> None:
        """Until rung (a ring since the last wait counts) or timeout; the rings heard are cleared."""
        poller = select.poll()  # not select(): it refuses descriptors past 1023, which a busy process may hold
        poller.register(self.reader.fileno(), select.POLLIN)
        if poller.poll(max(timeout, 0) * 1000):
            self.clear()

    def clear(self) -> None:
        fd = self.reader.fileno()
        try:
            while len(os.read(fd, 4096)) == 4096:
                pass
        except BlockingIOError:  # another thread of the process cleared it first
            pass

    def close(self) -> None:
        self.reader.close()
        self.writer.close()


class Signals:
    """Counters shared by the host and its workers, with doorbells so a waiter wakes at once.

    Blocking primitives (multiprocessing Events, Conditions) hang their other users when a process dies
    while waiting on them; a worker may die at any moment, so the host and workers only read and bump
    plain shared integers, and ring pipes that never block (see Doorbell).
    """

    def __init__(self, context, partitions: int):
        self.work = context.RawValue("q", 0)  # bumped by the host when it sends work items
        self.results = context.RawArray("q", partitions)  # per control queue, bumped by workers sending results
        self.stopping = context.RawValue("b", 0)
        self.results_bell = Doorbell(context)  # rung by workers after bumping results; the host waits on it

    @staticmethod
    def bump(counter) -> None:
        counter.value += 1

    def bump_results(self, partition: int) -> None:
        self.results[partition] += 1
        self.results_bell.ring()

    def wait_for_change(self, counter, seen: int, timeout: float, bell: Doorbell) -> int:
        deadline = time.monotonic() + timeout
        while counter.value == seen and not self.stopping.value and (left := deadline - time.monotonic()) > 0:
            bell.wait(min(left, DEFAULT_BELL_CHECK_SECONDS))
        return counter.value


THREADS_SETTING = "PYTHON_THREADPOOL_THREAD_COUNT"


def activity_threads() -> int:
    """Activities run at once in one worker process: the Python worker's thread pool setting, 1 if unset."""
    try:
        return max(1, int(os.environ.get(THREADS_SETTING) or 1))
    except ValueError:
        return 1


def worker_main(options: dict, signals: Signals, work_bell: Doorbell) -> None:
    """Entry point of one worker process: like the Functions Python worker, it runs sync activities on
    PYTHON_THREADPOOL_THREAD_COUNT threads (1 unless set), each taking its own work items."""
    stop_requested = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):  # finish the running activities, then leave
        signal.signal(number, lambda *_: stop_requested.set())
    configure_logging(options.get("log_level", "INFO"), prefix=f"[worker {os.getpid()}] ")
    for key, value in options.get("environment", {}).items():
        os.environ[key] = value
    from ..app_loader import load_app  # imported here: the app is loaded in the worker, not the parent

    app_dir = Path(options["app_dir"])
    os.chdir(app_dir)
    worker = _Worker(load_app(app_dir, options["script_file"]).activities(), options, signals, work_bell,
                     stop_requested)
    threads = [threading.Thread(target=worker.serve, name=f"activity-{n}") for n in range(activity_threads())]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class _Worker:
    """What a worker process's activity threads share: the app's activities and the storage clients."""

    def __init__(self, activities: dict, options: dict, signals: Signals, work_bell: Doorbell,
                 stop_requested: threading.Event):
        conn = expand_connection_string(options["connection_string"])
        hub, self.partitions = options["hub_name"], options["partition_count"]
        self.activities, self.signals, self.stop_requested = activities, signals, stop_requested
        self.work_bell = work_bell
        self.work_queue = QueueClient.from_connection_string(conn, work_item_queue_name(hub))
        self.controls = [QueueClient.from_connection_string(conn, control_queue_name(hub, p))
                         for p in range(self.partitions)]
        self.large = ContainerClient.from_connection_string(conn, large_messages_container(hub))
        self.visibility = int(options.get("visibility_seconds", DEFAULT_VISIBILITY_SECONDS))
        self.max_deliveries = int(options.get("max_deliveries", DEFAULT_MAX_DELIVERIES))
        self.parent = os.getppid()

    def running(self) -> bool:  # a worker does not outlive its host
        return not (self.signals.stopping.value or self.stop_requested.is_set()) and os.getppid() == self.parent

    def send_result(self, item: dict, history_event: dict) -> None:
        body = {**control_message(item["ExecutionId"], history_event), "InstanceId": item["InstanceId"]}
        text, blob = encode_message(body)
        if blob:
            self.large.upload_blob(blob[0], blob[1], overwrite=True)
        partition = partition_of(item["InstanceId"], self.partitions)
        self.controls[partition].send_message(text, time_to_live=-1)
        self.signals.bump_results(partition)

    def serve(self) -> None:
        """One activity thread: take a work item, run it, send its result, and only then delete it."""
        loop = asyncio.new_event_loop()  # async activities of this thread
        seen_work = self.signals.work.value
        while self.running():
            try:
                messages = list(self.work_queue.receive_messages(max_messages=1, visibility_timeout=self.visibility))
            except Exception:
                log.exception("work item queue could not be read")
                messages = []
            if not messages:
                seen_work = self.signals.wait_for_change(self.signals.work, seen_work, IDLE_POLL_SECONDS,
                                                        self.work_bell)
                continue
            try:
                self.run_item(messages[0], loop)
            except Exception:  # storage trouble around the activity: the item comes back after its visibility
                log.exception("work item %s could not be handled", messages[0].id)

    def run_item(self, message, loop: asyncio.AbstractEventLoop) -> None:
        blob_name = message_blob_name(message.content)
        item = json.loads(self.large.download_blob(blob_name).readall() if blob_name else message.content)
        spec = self.activities.get(item["Name"])
        invocation_id = str(uuid.uuid4())
        if message.dequeue_count > self.max_deliveries:
            reason = (f"activity '{item['Name']}' abandoned after {self.max_deliveries} deliveries "
                      "(its worker kept dying)")
            log.error("Executed 'Functions.%s' (Failed, Id=%s): %s", item["Name"], invocation_id, reason)
            self.send_result(item, task_failed(item["TaskId"], reason, None))
        elif spec is None:
            self.send_result(item, task_failed(item["TaskId"], f"The activity function '{item['Name']}' doesn't exist.",
                                               None))
        else:
            heartbeat = _Heartbeat(self.work_queue, message, self.visibility)
            heartbeat.start()
            log.info("Executing 'Functions.%s' (Reason='(null)', Id=%s)", spec.name, invocation_id)
            started = time.perf_counter()
            try:
                result = run_activity(spec, item.get("Input"), loop)
                outcome = task_completed(item["TaskId"], result)
                label = "Succeeded"
            except Exception as error:
                outcome = task_failed(item["TaskId"], f"{type(error).__name__}: {error}", traceback.format_exc())
                label = "Failed"
            heartbeat.finish()
            elapsed = (time.perf_counter() - started) * 1000
            log.info("Executed 'Functions.%s' (%s, Id=%s, Duration=%dms)", spec.name, label, invocation_id, elapsed)
            self.send_result(item, outcome)
        try:
            self.work_queue.delete_message(message)
        except (ResourceNotFoundError, HttpResponseError):
            pass  # its visibility ran out and another worker has it: that run's result will be a duplicate


class ActivityWorkerPool:
    """Starts the worker processes and replaces any that die; each has a doorbell the host rings on new work."""

    def __init__(self, options: dict, count: int):
        self._context = multiprocessing.get_context("spawn")
        self.options = options
        self.count = count
        self.signals = Signals(self._context, options["partition_count"])
        self.processes: list = []
        self.bells: list[Doorbell] = []

    def notify_work(self) -> None:
        Signals.bump(self.signals.work)
        for bell in self.bells:
            bell.ring()

    def _spawn(self, index: int) -> None:
        bell = Doorbell(self._context)
        process = self._context.Process(target=worker_main, args=(self.options, self.signals, bell),
                                        name="activity-worker", daemon=True)
        process.start()
        if index < len(self.processes):
            self.bells[index].close()
            self.processes[index], self.bells[index] = process, bell
        else:
            self.processes.append(process)
            self.bells.append(bell)

    def start(self) -> None:
        for index in range(self.count):
            self._spawn(index)

    def replace_dead(self) -> int:
        replaced = 0
        for index, process in enumerate(self.processes):
            if not process.is_alive() and not self.signals.stopping.value:
                log.warning("activity worker %s exited with %s; starting another", process.pid, process.exitcode)
                self._spawn(index)
                replaced += 1
        return replaced

    def stop(self, timeout: float = 5.0) -> None:
        self.signals.stopping.value = 1
        for bell in self.bells:
            bell.ring()
        deadline = time.monotonic() + timeout
        for process in self.processes:
            process.join(max(deadline - time.monotonic(), 0.1))
            if process.is_alive():
                process.kill()
