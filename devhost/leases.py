"""Blob leases: the lock Azure Storage offers, and the one the Functions host and the Durable Task provider use
to share work between the instances of an app (task hub partitions, timer listeners, blob receipts).

A host asks for each lease with a lease id derived from its instance id and the blob's name. Another host
cannot take the lease before it runs out, but the same instance started again (same machine, same port) gets
back at once what it held when it died, as the Durable Task provider's instance does with its worker name.
"""
from __future__ import annotations

import asyncio
import time
import uuid

from azure.core.exceptions import AzureError, HttpResponseError
from azure.storage.blob.aio import BlobClient, BlobLeaseClient

MIN_LEASE_SECONDS = 15  # the blob service's bounds for a lease of fixed duration
MAX_LEASE_SECONDS = 60
LEASE_REQUEST_RETRIES = 2  # a lease request that hangs in retries outlives the lease: fail soon instead
LEASE_REQUEST_TIMEOUT_SECONDS = 5
LEASE_RETRY_BACKOFF_SECONDS = 1  # before its first retry (the storage SDK's default is 15 s, then 18 s: two retries
#   of a storage that is gone took 42 s, longer than a lease lasts, and held a stopping host that long)
_LEASE_IDS = uuid.UUID("6f1c3a52-9a4e-4d1e-8f0b-2d6c1b7e9a10")  # the namespace of derived lease ids


def lease_client_options() -> dict:
    """Options for the storage clients that hold leases: few retries, short timeouts."""
    return {"retry_total": LEASE_REQUEST_RETRIES, "connection_timeout": LEASE_REQUEST_TIMEOUT_SECONDS,
            "read_timeout": LEASE_REQUEST_TIMEOUT_SECONDS, "initial_backoff": LEASE_RETRY_BACKOFF_SECONDS,
            "increment_base": 2, "random_jitter_range": LEASE_RETRY_BACKOFF_SECONDS}


def check_lease_seconds(seconds: float, setting: str) -> int:
    """A lease duration the blob service accepts (15 to 60 whole seconds), or an error naming the setting."""
    if not MIN_LEASE_SECONDS <= seconds <= MAX_LEASE_SECONDS or seconds != int(seconds):
        raise ValueError(f"{setting} must be whole seconds from {MIN_LEASE_SECONDS} to {MAX_LEASE_SECONDS} "
                         f"(the bounds of a blob lease), not {seconds:g}")
    return int(seconds)


def lease_id_for(owner: str, blob_name: str) -> str:
    return str(uuid.uuid5(_LEASE_IDS, f"{owner}\n{blob_name}"))


class Lease:
    """A lease of this host on one blob. `valid_until` (monotonic) is when it surely still runs by this host's
    clock: the lease's duration after the request that last acquired or renewed it was sent."""

    def __init__(self, blob: BlobClient, owner: str, seconds: int):
        self.blob = blob
        self.id = lease_id_for(owner, blob.blob_name)
        self.seconds = seconds
        self.valid_until = 0.0

    def remaining(self) -> float:
        return self.valid_until - time.monotonic()

    async def _held_after(self, request) -> bool:
        """Run a lease request; True when it succeeded, False when the service refused it (held by another,
        gone). A storage that does not answer raises."""
        sent = time.monotonic()
        try:
            await request
        except HttpResponseError:
            return False
        self.valid_until = sent + self.seconds
        return True

    async def acquire(self) -> bool:
        return await self._held_after(self.blob.acquire_lease(lease_duration=self.seconds, lease_id=self.id))

    async def take_from(self, token: str) -> bool:
        """Take the lease over from the holder whose lease id is token (the Durable Task provider's stealing)."""
        return await self._held_after(BlobLeaseClient(self.blob, lease_id=token).change(proposed_lease_id=self.id))

    async def renew(self) -> bool:
        return await self._held_after(BlobLeaseClient(self.blob, lease_id=self.id).renew())

    async def release(self) -> None:
        self.valid_until = 0.0
        try:
            await BlobLeaseClient(self.blob, lease_id=self.id).release()
        except HttpResponseError:
            pass  # it had run out, or another host has it since


async def keep(lease: Lease, every: float) -> None:
    """Renew the lease every `every` seconds while it is held; return once it is lost: refused, or the storage
    did not answer until too little of it is left to renew in time."""
    while True:
        await asyncio.sleep(every)
        try:
            if not await lease.renew():
                return
        except AzureError:
            if lease.remaining() <= every:
                return
