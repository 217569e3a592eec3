"""The task hub in Azure Storage, laid out as the Durable Task Azure Storage provider lays it out.

`<hub>Instances` holds one row per instance, `<hub>History` the history rows of each execution,
`<hub>-control-NN` the messages for orchestrations (partitioned by instance id), `<hub>-workitems` the
activities to run, and `<hub>-largemessages` the payloads too big for a row or a message.

An episode commits in two steps: history rows are written first, then the instance row, whose
`HistoryLength` makes them count. Rows beyond that length (from an episode cut short) are ignored and
overwritten. The instance row also says whether the episode's outgoing messages were all sent, so a
restart resends them instead of losing them.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import zlib
from typing import Any, AsyncIterator

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables.aio import TableServiceClient
from azure.storage.blob.aio import BlobServiceClient
from azure.storage.queue.aio import QueueServiceClient

from ..storage import expand_connection_string, receive_page
from .history import EventType
from .payloads import (
    blob_fields,
    encode_message,
    join_entity,
    large_messages_container,
    message_blob_name,
    split_entity,
)

TABLE_BATCH = 100
TERMINAL_STATUSES = {"Completed", "Failed", "Terminated", "Canceled"}
MAX_VISIBILITY_SECONDS = 6 * 24 * 3600
PROBE_TIMEOUT_SECONDS = 5  # a storage that has not answered a probe within this is taken as down


def control_queue_name(hub: str, partition: int) -> str:
    return f"{hub.lower()}-control-{partition:02d}"


def work_item_queue_name(hub: str) -> str:
    return f"{hub.lower()}-workitems"


def partition_of(instance_id: str, partition_count: int) -> int:
    return zlib.crc32(instance_id.encode()) % partition_count


def history_row_key(execution_id: str, sequence: int) -> str:
    return f"{execution_id}:{sequence:08d}"


class TaskHub:
    def __init__(self, connection_string: str, hub_name: str, partition_count: int):
        conn = expand_connection_string(connection_string)
        self.hub_name = hub_name
        self.partition_count = partition_count
        self._tables = TableServiceClient.from_connection_string(conn)
        self._queues = QueueServiceClient.from_connection_string(conn)
        self._blobs = BlobServiceClient.from_connection_string(conn)
        self.instances = self._tables.get_table_client(f"{hub_name}Instances")
        self.history = self._tables.get_table_client(f"{hub_name}History")
        self.control_queues = [
            self._queues.get_queue_client(control_queue_name(hub_name, p)) for p in range(partition_count)
        ]
        self.work_items = self._queues.get_queue_client(work_item_queue_name(hub_name))
        self.large = self._blobs.get_container_client(large_messages_container(hub_name))
        self._probe = QueueServiceClient.from_connection_string(
            conn, retry_total=0, connection_timeout=PROBE_TIMEOUT_SECONDS, read_timeout=PROBE_TIMEOUT_SECONDS)

    async def create(self) -> None:
        for table in (self.instances, self.history):
            try:
                await table.create_table()
            except ResourceExistsError:
                pass
        for queue in [*self.control_queues, self.work_items]:
            try:
                await queue.create_queue()
            except ResourceExistsError:
                pass
        try:
            await self.large.create_container()
        except ResourceExistsError:
            pass

    async def close(self) -> None:
        for client in (self._tables, self._queues, self._blobs, self._probe):
            await client.close()

    async def answers(self) -> bool:
        """Whether the storage answers right now: one cheap request, not retried (the clients above retry for
        up to a minute, which would hide an outage)."""
        try:
            await self._probe.get_queue_client(self.work_items.queue_name).get_queue_properties()
        except HttpResponseError:
            return True  # it answered, if only with an error
        except AzureError:
            return False
        return True

    # -- payloads ---------------------------------------------------------------------------------
    async def _store(self, entity: dict, instance_id: str) -> dict:
        stored, blobs = split_entity(entity, instance_id)
        await asyncio.gather(*(self.large.upload_blob(n, t, overwrite=True) for n, t in blobs.items()))
        return stored

    async def _load(self, entity: dict) -> dict:
        fields = blob_fields(entity)
        texts = await asyncio.gather(*(self._download(name) for name in fields.values()))
        return join_entity(entity, dict(zip(fields, texts)))

    async def _download(self, name: str) -> str:
        stream = await self.large.download_blob(name)
        return (await stream.readall()).decode()

    # -- instances --------------------------------------------------------------------------------
    async def get_instance(self, instance_id: str) -> dict | None:
        try:
            entity = await self.instances.get_entity(instance_id, "")
        except ResourceNotFoundError:
            return None
        row = await self._load(dict(entity))
        row["_etag"] = entity.metadata["etag"]
        return row

    async def put_instance(self, row: dict, etag: str | None = None) -> str:
        """Write the instance row; with an etag, only if nobody changed it since it was read."""
        data = {k: v for k, v in row.items() if not k.startswith("_")}
        entity = await self._store(
            {**data, "PartitionKey": row["PartitionKey"], "RowKey": ""}, row["PartitionKey"]
        )
        if etag is None:
            result = await self.instances.upsert_entity(entity, mode="replace")
        else:
            result = await self.instances.update_entity(
                entity, mode="replace", etag=etag, match_condition=MatchConditions.IfNotModified
            )
        return result["etag"]

    async def insert_instance(self, row: dict) -> bool:
        entity = await self._store({**row, "RowKey": ""}, row["PartitionKey"])
        try:
            await self.instances.create_entity(entity)
            return True
        except ResourceExistsError:
            return False

    async def query_instances(self, filter_text: str | None, parameters: dict | None = None) -> list[dict]:
        if filter_text:
            entities = self.instances.query_entities(filter_text, parameters=parameters or {})
        else:
            entities = self.instances.list_entities()
        return [await self._load(dict(e)) async for e in entities]

    async def delete_instance(self, instance_id: str) -> None:
        await self.delete_history(instance_id)
        try:
            await self.instances.delete_entity(instance_id, "")
        except ResourceNotFoundError:
            pass
        async for blob in self.large.list_blobs(name_starts_with=f"{instance_id}/"):
            await self.large.delete_blob(blob.name)

    # -- history ----------------------------------------------------------------------------------
    async def load_history(self, instance_id: str, execution_id: str, length: int) -> list[dict]:
        low, high = history_row_key(execution_id, 0), history_row_key(execution_id, length)
        rows = self.history.query_entities(
            "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high",
            parameters={"pk": instance_id, "low": low, "high": high},
        )
        events = []
        async for row in rows:
            events.append(_row_to_event(await self._load(dict(row))))
        if len(events) != length:
            raise RuntimeError(f"history of {instance_id} has {len(events)} rows, expected {length}")
        return events

    async def write_history(self, instance_id: str, execution_id: str, start: int, events: list[dict]) -> None:
        operations = []
        for offset, history_event in enumerate(events):
            row = await self._store(_event_to_row(history_event), instance_id)
            row.update(
                PartitionKey=instance_id,
                RowKey=history_row_key(execution_id, start + offset),
                ExecutionId=execution_id,
            )
            operations.append(("upsert", row, {"mode": "replace"}))
        for i in range(0, len(operations), TABLE_BATCH):
            await self.history.submit_transaction(operations[i : i + TABLE_BATCH])

    async def delete_history(self, instance_id: str, keep_execution: str | None = None) -> None:
        rows = self.history.query_entities(
            "PartitionKey eq @pk", parameters={"pk": instance_id}, select=["PartitionKey", "RowKey", "ExecutionId"]
        )
        doomed = [
            ("delete", {"PartitionKey": r["PartitionKey"], "RowKey": r["RowKey"]})
            async for r in rows
            if r.get("ExecutionId") != keep_execution
        ]
        for i in range(0, len(doomed), TABLE_BATCH):
            await self.history.submit_transaction(doomed[i : i + TABLE_BATCH])

    # -- messages ---------------------------------------------------------------------------------
    async def _send(self, queue, body: dict, delay_seconds: float = 0) -> None:
        text, blob = encode_message(body)
        if blob:
            await self.large.upload_blob(blob[0], blob[1], overwrite=True)
        visibility = math.ceil(min(max(delay_seconds, 0), MAX_VISIBILITY_SECONDS))
        await queue.send_message(text, visibility_timeout=visibility or None, time_to_live=-1)

    async def send_control(self, instance_id: str, body: dict, delay_seconds: float = 0) -> None:
        queue = self.control_queues[partition_of(instance_id, self.partition_count)]
        await self._send(queue, {**body, "InstanceId": instance_id}, delay_seconds)

    async def send_work_item(self, body: dict) -> None:
        await self._send(self.work_items, body)

    async def receive(self, queue, max_messages: int, visibility_seconds: int) -> list[tuple[Any, dict]]:
        return [(message, await self.decode(message.content))
                for message in await receive_page(queue, max_messages, visibility_seconds)]

    async def decode(self, text: str) -> dict:
        blob_name = message_blob_name(text)
        return json.loads(await self._download(blob_name)) if blob_name else json.loads(text)

    async def delete_message(self, queue, message) -> None:
        try:
            await queue.delete_message(message)
        except (ResourceNotFoundError, HttpResponseError):
            pass  # already gone, or its pop receipt was superseded: it will come back and be deduplicated

    async def defer_message(self, queue, message, seconds: float) -> None:
        try:
            await queue.update_message(message, visibility_timeout=math.ceil(min(seconds, MAX_VISIBILITY_SECONDS)))
        except (ResourceNotFoundError, HttpResponseError):
            pass

    async def iter_unfinished_instances(self) -> AsyncIterator[dict]:
        unfinished = " and ".join(f"RuntimeStatus ne '{status}'" for status in sorted(TERMINAL_STATUSES))
        async for entity in self.instances.query_entities(unfinished):
            yield await self._load(dict(entity))

    async def iter_instances_needing_outbox(self) -> AsyncIterator[dict]:
        async for entity in self.instances.query_entities("OutboxSent eq false"):
            row = await self._load(dict(entity))
            row["_etag"] = entity.metadata["etag"]
            yield row


def _event_to_row(history_event: dict) -> dict:
    row = dict(history_event)
    row["_Timestamp"] = row.pop("Timestamp")
    return row


def _row_to_event(row: dict) -> dict:
    history_event = {
        k: v for k, v in row.items() if k not in ("PartitionKey", "RowKey", "ExecutionId") and not k.startswith("_")
    }
    history_event["Timestamp"] = row["_Timestamp"]
    if history_event["EventType"] == EventType.ExecutionStarted:
        history_event.setdefault("Version", None)
    return history_event


def as_utc(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
