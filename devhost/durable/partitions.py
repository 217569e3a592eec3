"""Control-queue partitions leased to the hosts of a task hub, as the Durable Task Azure Storage provider's
"safe" partition manager leases them, so that several hosts share a task hub and each partition's episodes
run on one host at a time.

Container `<hub>-leases` holds `taskhub.json` and, per partition, two lease blobs `intent/<hub>-control-NN` and
`ownership/<hub>-control-NN`, each a JSON document with the partition, its owner, the owner's lease token
and an epoch counting its changes of hands. Every round (a third of the lease time) a host renews its leases
and balances:

- intent leases: a host takes free or expired ones up to its share (the partitions over the live hosts,
  rounded up); when none is free it takes one over from the host that has the most, one per round;
- ownership leases are never taken over: a host acquires one only while it holds the partition's intent,
  and a host that lost an intent stops reading that control queue, lets the episode under way finish, and
  only then releases the ownership.

So partitions move between live hosts without two of them ever running one partition's episodes at once. A
host that stops releases its leases; one that dies keeps them until they run out, and the others take them
then. Its messages in flight come back when their visibility runs out.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections import Counter
from dataclasses import dataclass

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient

from ..leases import Lease, lease_client_options
from .history import format_time, utc_now
from .taskhub import control_queue_name

log = logging.getLogger("devhost.partitions")

INTENT, OWNERSHIP = "intent", "ownership"
ROUNDS_PER_LEASE = 3  # renew and balance every third of the lease time: the provider's 30 s lease, 10 s rounds
RUNNABLE_SHARE = 2 / 3  # episodes start only within this share of the lease after its last renewal was sent,
# so a host whose renewals fail stops before the lease can run out and pass to another host


def leases_container(hub_name: str) -> str:
    return f"{hub_name.lower()}-leases"


@dataclass
class LeaseDocument:
    """A lease blob as read: its JSON document and whether the blob's lease is active (not run out)."""

    partition: int
    owner: str | None
    token: str | None
    epoch: int
    active: bool


class PartitionLeases:
    def __init__(self, connection_string: str, hub_name: str, partition_count: int, owner: str,
                 lease_seconds: int):
        self.hub_name = hub_name
        self.partition_count = partition_count
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.round_seconds = lease_seconds / ROUNDS_PER_LEASE
        self._service = BlobServiceClient.from_connection_string(connection_string, **lease_client_options())
        self.container = self._service.get_container_client(leases_container(hub_name))
        self.intent: dict[int, Lease] = {}
        self.ownership: dict[int, Lease] = {}
        self._epochs: dict[tuple[str, int], int] = {}
        self._busy = [0] * partition_count
        self._gained = [asyncio.Event() for _ in range(partition_count)]

    def blob_name(self, kind: str, partition: int) -> str:
        return f"{kind}/{control_queue_name(self.hub_name, partition)}"

    def _queue(self, partition: int) -> str:
        return control_queue_name(self.hub_name, partition)

    # -- what the dispatcher asks ----------------------------------------------------------------------
    def may_run(self, partition: int) -> bool:
        """Whether this host may read the partition's control queue now (it is not handing it over)."""
        return partition in self.intent and self.may_commit(partition)

    def may_commit(self, partition: int) -> bool:
        """Whether this host may still commit an episode of the partition: its ownership surely holds."""
        lease = self.ownership.get(partition)
        return lease is not None and lease.remaining() > lease.seconds * (1 - RUNNABLE_SHARE)

    @contextlib.contextmanager
    def running(self, partition: int):
        """Around reading a control queue and running its episodes: the ownership is not released meanwhile."""
        self._busy[partition] += 1
        try:
            yield
        finally:
            self._busy[partition] -= 1

    async def wait_until_runnable(self, partition: int, stopping: asyncio.Event) -> None:
        """Return once this host may run the partition, or after a round (it may be stopping)."""
        gained = self._gained[partition]
        gained.clear()
        if self.may_run(partition) or stopping.is_set():
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(gained.wait(), self.round_seconds)

    # -- rounds -----------------------------------------------------------------------------------------
    async def run(self, stopping: asyncio.Event) -> None:
        store_created = False
        while not stopping.is_set():
            try:
                if not store_created:
                    await self._create_store()
                    store_created = True
                await self._renew()
                await self._balance()
            except ResourceNotFoundError:  # a storage that lost its blobs (an emulator killed before saving)
                store_created = False
            except AzureError as error:  # the storage does not answer: the leases lapse, the next round tries
                log.warning("partition leases could not be renewed or balanced: %s", type(error).__name__)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.round_seconds)

    async def _create_store(self) -> None:
        with contextlib.suppress(ResourceExistsError):
            await self.container.create_container()
        blobs = {"taskhub.json": {"TaskHubName": self.hub_name, "CreatedAt": format_time(utc_now()),
                                  "PartitionCount": self.partition_count}}
        for partition in range(self.partition_count):
            for kind in (INTENT, OWNERSHIP):
                blobs[self.blob_name(kind, partition)] = {"PartitionId": self._queue(partition), "Owner": None,
                                                          "Token": None, "Epoch": 0}
        for name, document in blobs.items():
            with contextlib.suppress(ResourceExistsError):  # there already, or leased by a host
                await self.container.upload_blob(name, json.dumps(document), overwrite=False)

    async def _read(self, kind: str) -> dict[int, LeaseDocument]:
        async def one(partition: int) -> LeaseDocument:
            download = await self.container.download_blob(self.blob_name(kind, partition))
            document = json.loads(await download.readall())
            return LeaseDocument(partition, document.get("Owner"), document.get("Token"),
                                 int(document.get("Epoch") or 0), download.properties.lease.state == "leased")

        found = await asyncio.gather(*(one(p) for p in range(self.partition_count)))
        return {document.partition: document for document in found}

    async def _write(self, kind: str, partition: int, lease: Lease, owner: str | None) -> None:
        body = {"PartitionId": self._queue(partition), "Owner": owner, "Token": lease.id if owner else None,
                "Epoch": self._epochs.get((kind, partition), 0)}
        await self.container.upload_blob(self.blob_name(kind, partition), json.dumps(body), overwrite=True,
                                         lease=lease.id)

    async def _take(self, kind: str, document: LeaseDocument, from_token: str | None = None) -> bool:
        lease = Lease(self.container.get_blob_client(self.blob_name(kind, document.partition)), self.owner,
                      self.lease_seconds)
        if not await (lease.take_from(from_token) if from_token else lease.acquire()):
            return False
        self._epochs[(kind, document.partition)] = document.epoch + 1
        await self._write(kind, document.partition, lease, self.owner)
        (self.intent if kind == INTENT else self.ownership)[document.partition] = lease
        return True

    async def _release(self, kind: str, partition: int, lease: Lease) -> None:
        try:
            await self._write(kind, partition, lease, None)
        except AzureError:
            pass  # the lease is gone already: releasing it is all that is left
        await lease.release()

    async def _renew(self) -> None:
        for partition, lease in list(self.intent.items()):
            if not await lease.renew():
                del self.intent[partition]
                log.info("partition %s: another host took its intent lease; handing it over", self._queue(partition))
        for partition, lease in list(self.ownership.items()):
            if partition not in self.intent and not self._busy[partition]:
                del self.ownership[partition]
                await self._release(OWNERSHIP, partition, lease)
                log.info("partition %s: released to another host", self._queue(partition))
            elif not await lease.renew():
                del self.ownership[partition]
                log.warning("partition %s: its ownership lease ran out; another host may run it now",
                            self._queue(partition))

    async def _balance(self) -> None:
        intents = await self._read(INTENT)
        live = Counter(d.owner for d in intents.values() if d.active and d.owner)
        live[self.owner] = len(self.intent)
        share = math.ceil(self.partition_count / len(live)) if self.partition_count > len(live) else 1
        wanted = share - len(self.intent)
        # This instance's own leases first (it was started again), then the free and run-out ones.
        takeable = sorted((d for d in intents.values() if d.partition not in self.intent
                           and (d.owner == self.owner or not (d.active and d.owner))),
                          key=lambda d: d.owner != self.owner)
        for document in takeable:
            if wanted <= 0:
                break
            if await self._take(INTENT, document):
                wanted -= 1
        others = {owner: count for owner, count in live.items() if owner != self.owner}
        if wanted > 0 and not takeable and others:
            busiest = max(others, key=others.get)
            if others[busiest] > share - (1 if wanted > 1 else 0):  # the provider's rule: one per round
                victim = next(d for d in intents.values() if d.active and d.owner == busiest)
                if await self._take(INTENT, victim, from_token=victim.token):
                    log.info("partition %s: taken over from %s to balance the hosts", self._queue(victim.partition),
                             busiest)
        await self._acquire_ownerships()

    async def _acquire_ownerships(self) -> None:
        waiting = [p for p in self.intent if p not in self.ownership]
        if not waiting:
            return
        ownerships = await self._read(OWNERSHIP)
        gained = []
        for partition in waiting:
            document = ownerships[partition]
            if document.active and document.owner not in (None, self.owner):
                continue  # its previous host still finishes an episode, or died and its lease has not run out
            if await self._take(OWNERSHIP, document):
                gained.append(partition)
                self._gained[partition].set()
        if gained:
            log.info("partitions %s: this host (%s) runs them now", ", ".join(self._queue(p) for p in gained),
                     self.owner)

    async def release_all(self) -> None:
        """A clean stop: give every lease back, so the other hosts take the partitions at their next round."""
        held = [(OWNERSHIP, p, lease) for p, lease in self.ownership.items()]
        held += [(INTENT, p, lease) for p, lease in self.intent.items()]
        self.ownership, self.intent = {}, {}
        outcomes = await asyncio.gather(*(self._release(*item) for item in held), return_exceptions=True)
        if held and not any(isinstance(outcome, Exception) for outcome in outcomes):
            log.info("partition leases released")

    async def close(self) -> None:
        await self._service.close()
