"""Blob triggers by polling, with blob receipts so each blob version fires once, across restarts and across
the hosts of one app.

A receipt is a blob in `azure-webjobs-hosts/blobreceipts/<host id>/<function>/<etag>/<container>/<blob>`,
created before the function runs and marked completed after it succeeds. A host runs the function only while
it holds a lease on the receipt (as the Functions host does while it hands the blob on), so the hosts
polling one container run each blob once; one that dies mid-run leaves a lease that runs out, and the blob
runs again elsewhere. Failures are counted on the receipt; after the host's maximum dequeue count the blob
goes to the `webjobs-blobtrigger-poison` queue, as in the Functions host.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re

import azure.functions as func
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient
from azure.storage.queue.aio import QueueClient

from ..app_loader import FunctionSpec
from ..invoker import InvocationFailed
from ..leases import Lease, keep
from .common import (HOSTS_CONTAINER, annotation_of, close_quietly, connection_string_for, extra_arguments,
                     resolve_setting_references)

log = logging.getLogger("devhost.blob")
POISON_QUEUE = "webjobs-blobtrigger-poison"
MAX_PARALLEL = 8
DEFAULT_RECEIPT_LEASE_SECONDS = 30  # the Functions host's lease on a receipt (BlobReceiptManager.LeasePeriod)


def compile_blob_path(path: str) -> tuple[str, str, re.Pattern]:
    """`container/inbox/{name}.csv` -> container, listing prefix, and a pattern capturing `name`."""
    container, _, blob_pattern = resolve_setting_references(path).partition("/")
    prefix = blob_pattern.split("{", 1)[0]
    regex = ""
    for literal, name in re.findall(r"([^{]*)(?:\{([^}]*)\})?", blob_pattern):
        regex += re.escape(literal)
        if name:
            regex += f"(?P<{name}>.+?)" if name.isidentifier() else ".+?"
    return container, prefix, re.compile(regex)


class BlobTriggerListener:
    def __init__(self, host, spec: FunctionSpec, client_binding_json: str):
        self.host = host
        self.spec = spec
        self.client_binding_json = client_binding_json
        self.container_name, self.prefix, self.pattern = compile_blob_path(spec.trigger["path"])
        conn = connection_string_for(spec.trigger, host.connection_string)
        self.blobs = BlobServiceClient.from_connection_string(conn)
        self.receipt_service = BlobServiceClient.from_connection_string(host.connection_string)
        self.receipts = self.receipt_service.get_container_client(HOSTS_CONTAINER)
        self.poison = QueueClient.from_connection_string(host.connection_string, POISON_QUEUE)
        self.done: set[tuple[str, str]] = set()
        self.max_attempts = host.settings.queue_max_dequeue_count
        self.limit = asyncio.Semaphore(MAX_PARALLEL)

    async def close(self) -> None:
        await close_quietly(self.blobs, self.receipt_service, self.poison)

    def receipt_name(self, blob_name: str, etag: str) -> str:
        return (f"blobreceipts/{self.host.host_id}/{self.spec.name}/{etag.strip(chr(34))}/"
                f"{self.container_name}/{blob_name}")

    async def run(self) -> None:
        for client in (self.receipts,):
            try:
                await client.create_container()
            except ResourceExistsError:
                pass
        container = self.blobs.get_container_client(self.container_name)
        try:
            await container.create_container()
        except ResourceExistsError:
            pass
        while not self.host.stopping.is_set():
            try:
                pending = []
                async for blob in container.list_blobs(name_starts_with=self.prefix or None, include=["metadata"]):
                    match = self.pattern.fullmatch(blob.name)
                    if match and (blob.name, blob.etag) not in self.done:
                        pending.append((blob, self.consider(container, blob, match.groupdict())))
                # Wait for every blob of this listing, even when one fails, so the next listing never
                # starts a blob whose invocation is still running.
                outcomes = await asyncio.gather(*(work for _, work in pending), return_exceptions=True)
                for (blob, _), outcome in zip(pending, outcomes):
                    if isinstance(outcome, Exception):
                        log.error("blob trigger %s: %s/%s: %s: %s", self.spec.name, self.container_name,
                                  blob.name, type(outcome).__name__, outcome)
            except Exception:
                log.exception("blob trigger %s: polling failed", self.spec.name)
            await asyncio.sleep(self.host.trigger_poll_seconds)

    async def consider(self, container, blob, metadata: dict) -> None:
        async with self.limit:
            receipt = self.receipts.get_blob_client(self.receipt_name(blob.name, blob.etag))
            receipt_meta = await self.read_receipt(receipt)
            if receipt_meta is not None and receipt_meta.get("completed") == "true":
                self.done.add((blob.name, blob.etag))
                return
            if receipt_meta is None:
                try:
                    await receipt.upload_blob(b"", overwrite=False)
                except ResourceExistsError:
                    return  # another host has just created it: it runs the blob, or this one will next time
            lease = Lease(receipt, self.host.instance_id, DEFAULT_RECEIPT_LEASE_SECONDS)
            if not await lease.acquire():
                return  # another host runs the blob now
            keeper = asyncio.create_task(keep(lease, lease.seconds / 2))
            try:
                await self.run_leased(container, blob, metadata, receipt, lease)
            finally:
                keeper.cancel()
                await lease.release()

    async def read_receipt(self, receipt) -> dict | None:
        try:
            properties = await receipt.get_blob_properties()
        except ResourceNotFoundError:
            return None
        return properties.metadata or {}

    async def run_leased(self, container, blob, metadata: dict, receipt, lease: Lease) -> None:
        """Run the function for the blob unless its receipt (read again, now under the lease) says it ran."""
        receipt_meta = await self.read_receipt(receipt) or {}
        if receipt_meta.get("completed") == "true":
            self.done.add((blob.name, blob.etag))
            return
        attempts = int(receipt_meta.get("failedattempts", "0"))
        try:
            await self.fire(container, blob, metadata)
        except InvocationFailed:
            attempts += 1
            if attempts >= self.max_attempts:
                await self.to_poison(blob)
                await self.mark(receipt, lease, {"completed": "true", "poisoned": "true"})
                self.done.add((blob.name, blob.etag))
            else:
                await self.mark(receipt, lease, {"failedattempts": str(attempts)})
            return
        await self.mark(receipt, lease, {"completed": "true"})
        self.done.add((blob.name, blob.etag))

    async def mark(self, receipt, lease: Lease, metadata: dict) -> None:
        try:
            await receipt.set_blob_metadata(metadata, lease=lease.id)
        except HttpResponseError:  # the lease ran out and another host took the blob: it records the outcome
            log.warning("blob trigger %s: receipt %s was taken over before the outcome was recorded",
                        self.spec.name, receipt.blob_name)

    async def fire(self, container, blob, metadata: dict) -> None:
        client = container.get_blob_client(blob.name)
        data = await (await client.download_blob()).readall()
        parameter = self.spec.trigger["name"]
        annotation = annotation_of(self.spec, parameter)
        if annotation is bytes:
            value = data
        elif annotation is str:
            value = data.decode()
        else:
            value = func.blob.InputStream(data=data, name=f"{self.container_name}/{blob.name}", uri=client.url,
                                          length=len(data), metadata=blob.metadata or {})
        arguments = {parameter: value, **extra_arguments(self.spec, self.client_binding_json)}
        await self.host.invoker.invoke(self.spec, arguments,
                                       reason=f"New blob detected: {self.container_name}/{blob.name}")

    async def to_poison(self, blob) -> None:
        try:
            await self.poison.create_queue()
        except ResourceExistsError:
            pass
        body = {"FunctionId": f"Host.Functions.{self.spec.name}", "BlobType": "BlockBlob",
                "ContainerName": self.container_name, "BlobName": blob.name, "ETag": blob.etag}
        await self.poison.send_message(json.dumps(body))
        log.error("blob %s/%s moved to %s after %d failures", self.container_name, blob.name, POISON_QUEUE,
                  self.max_attempts)
