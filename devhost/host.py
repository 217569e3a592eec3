"""Assembles the local runtime: storage, keys, HTTP, durable dispatcher, activity workers, triggers."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import socket
from pathlib import Path

from aiohttp import web
from azure.storage.blob import BlobServiceClient

from .app_loader import load_app
from .config import apply_local_settings, partition_lease_seconds, read_host_settings, script_file_name
from .durable.activities import ActivityWorkerPool, activity_threads
from .durable.dispatcher import OrchestrationDispatcher
from .durable.management import ManagementApi, client_binding
from .durable.partitions import PartitionLeases
from .durable.taskhub import TaskHub
from .http_server import DEFAULT_RPC_PORT, HttpFrontend, RpcEndpoint
from .invoker import Invoker
from .keys import DURABLE_SYSTEM_KEY, load_or_create_keys
from .storage import expand_connection_string
from .triggers import start_trigger_listeners

log = logging.getLogger("devhost")
INSTANCE_ID_SETTING = "WEBSITE_INSTANCE_ID"  # the platform's name for the instance an app runs on
DEFAULT_WORKER_CHECK_SECONDS = 1.0  # how soon a dead activity worker is replaced (results ring at once)
DEFAULT_STOP_RELEASE_SECONDS = 5.0  # a stopping host gives its leases back for this long at most: they run out
#   by themselves within a minute, and a storage that is gone would hold the stop for every retry


def host_id_for(app_dir: Path) -> str:
    explicit = os.environ.get("AzureFunctionsWebHost__hostid")
    if explicit:
        return explicit
    name = re.sub(r"[^a-z0-9-]", "", app_dir.resolve().name.lower()) or "app"
    return name[:32].strip("-") or "app"


def instance_id_for(port: int) -> str:
    """This host among the instances of the app: one per machine and port, the same when started again there (so
    it takes back at once the leases it held), another for each host started beside it."""
    return f"{socket.gethostname()}:{port}"


class Host:
    def __init__(self, app_dir: Path, port: int = 7071, workers: int | None = None,
                 storage: str | None = None, bind: str = "127.0.0.1",
                 activity_visibility_seconds: int = 60, trigger_poll_seconds: float = 1.0,
                 durable_rpc_port: int = DEFAULT_RPC_PORT):
        self.app_dir = app_dir.resolve()
        self.port = port
        self.bind = bind
        self.durable_rpc_port = durable_rpc_port
        self.workers = workers or os.cpu_count() or 1
        self.storage_override = storage
        self.activity_visibility_seconds = activity_visibility_seconds
        self.trigger_poll_seconds = trigger_poll_seconds
        self.stopping = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.pool: ActivityWorkerPool | None = None

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.bind in ("0.0.0.0", "::") else self.bind
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        apply_local_settings(self.app_dir)
        raw = self.storage_override or os.environ.get("AzureWebJobsStorage")
        if not raw:
            raise ValueError("no storage: set AzureWebJobsStorage (local.settings.json) or pass --storage")
        self.connection_string = expand_connection_string(raw)
        os.environ["AzureWebJobsStorage"] = self.connection_string
        os.chdir(self.app_dir)
        self.settings = read_host_settings(self.app_dir)
        self.script_file = script_file_name()
        self.index = load_app(self.app_dir, self.script_file)
        self.host_id = host_id_for(self.app_dir)
        self.instance_id = instance_id_for(self.port)
        os.environ[INSTANCE_ID_SETTING] = self.instance_id  # the platform sets it; the workers inherit it
        blobs = BlobServiceClient.from_connection_string(self.connection_string)
        self.keys = await asyncio.to_thread(load_or_create_keys, blobs, self.host_id)
        self.invoker = Invoker(self.app_dir)

        durable = self.settings.durable
        self.hub = TaskHub(self.connection_string, durable.hub_name, durable.partition_count)
        await self.hub.create()
        system_key = self.keys.system_keys[DURABLE_SYSTEM_KEY]
        orchestrators = self.index.orchestrators()

        activities = self.index.activities()
        if activities:
            options = {
                "app_dir": str(self.app_dir),
                "script_file": self.script_file,
                "connection_string": self.connection_string,
                "hub_name": durable.hub_name,
                "partition_count": durable.partition_count,
                "visibility_seconds": self.activity_visibility_seconds,
                "log_level": logging.getLevelName(logging.getLogger().level),
            }
            processes = self.workers
            if durable.max_concurrent_activities:  # activities at once = processes x threads each
                processes = max(1, -(-durable.max_concurrent_activities // activity_threads()))
            self.pool = ActivityWorkerPool(options, processes)
            self.pool.start()
        on_work = self.pool.notify_work if self.pool else (lambda: None)
        self.partitions = PartitionLeases(self.connection_string, durable.hub_name, durable.partition_count,
                                          self.instance_id, partition_lease_seconds())
        self.dispatcher = OrchestrationDispatcher(self.hub, orchestrators, self.partitions, on_work_sent=on_work)
        self.management = ManagementApi(self.hub, self.dispatcher, system_key, set(orchestrators), self.base_url)
        self.rpc = RpcEndpoint(self.management)
        await self.rpc.start(self.durable_rpc_port)
        binding = json.dumps(client_binding(self.base_url, self.rpc.base_url, durable.hub_name, system_key))
        self.frontend = HttpFrontend(self.index, self.invoker, self.keys, self.settings.route_prefix,
                                     self.management, lambda: binding)
        self.runner = web.AppRunner(self.frontend.application(), access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, self.bind, self.port).start()

        self._tasks.append(asyncio.create_task(self.dispatcher.run(self.stopping)))
        if self.pool:
            self._tasks.append(asyncio.create_task(self._supervise_workers()))
        self._tasks += start_trigger_listeners(self, binding)
        self.print_banner()

    async def _supervise_workers(self) -> None:
        """Wake the dispatcher when workers report results (they ring the results bell); replace workers that
        died."""
        signals = self.pool.signals
        results, bell = signals.results, signals.results_bell
        seen = list(results)

        def look() -> None:
            bell.clear()
            for partition, count in enumerate(results):
                if count != seen[partition]:
                    seen[partition] = count
                    self.dispatcher.notify_partition(partition)

        loop = asyncio.get_running_loop()
        loop.add_reader(bell.reader.fileno(), look)
        try:
            while not self.stopping.is_set():
                await asyncio.sleep(DEFAULT_WORKER_CHECK_SECONDS)
                look()
                self.pool.replace_dead()
        finally:
            loop.remove_reader(bell.reader.fileno())

    def print_banner(self) -> None:
        lines = ["", "Functions (local runtime, an emulator of the Azure Functions host):", ""]
        lines += self.frontend.describe(self.base_url)
        for spec in sorted(self.index.functions.values(), key=lambda s: s.name):
            if spec.trigger_type != "httpTrigger":
                lines.append(f"  {spec.name}: {spec.trigger_type}")
        lines += [
            "",
            f"Host keys (kept in blob azure-webjobs-secrets/{self.host_id}/host.json):",
            f"  default function key: {self.keys.default_function_key}",
            f"  master key:           {self.keys.master}",
            f"Task hub: {self.hub.hub_name}; activity workers: {self.pool.count if self.pool else 0}",
            f"Instance: {self.instance_id} (hosts on the same storage, task hub and host id share the work)",
            f"Listening on {self.base_url}",
            "",
        ]
        studio = next((self.frontend.public_path(spec).partition("{")[0] for spec in self.frontend.http_functions
                       if self.frontend.route_of(spec).startswith("studio/")), None)
        if studio:
            lines.append(f"Studio:       {self.base_url}{studio}")
        lines += [f"Function key: {self.keys.default_function_key}", ""]
        print("\n".join(lines), flush=True)

    async def _stop_tasks_and_release(self) -> None:
        """The listeners end (a timer listener gives its lock back), then the partition leases are given back."""
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.partitions.release_all()

    async def stop(self) -> None:
        self.stopping.set()
        for task in self._tasks:
            task.cancel()
        await _at_most(self._stop_tasks_and_release())
        await self.partitions.close()
        if self.pool:
            await asyncio.to_thread(self.pool.stop)
        await self.runner.cleanup()
        await self.rpc.stop()
        await self.hub.close()
        self.invoker.close()


async def _at_most(work) -> None:
    """Await work for DEFAULT_STOP_RELEASE_SECONDS, then cancel it: a clean stop hands its leases back, but none
    is worth a host that does not stop."""
    try:
        await asyncio.wait_for(work, DEFAULT_STOP_RELEASE_SECONDS)
    except asyncio.TimeoutError:
        log.warning("stopping without giving back every lease: the storage did not answer within %g s; they run "
                    "out by themselves", DEFAULT_STOP_RELEASE_SECONDS)
