"""The storage layer: tables of records (with ETags) and blob containers in the app's own account
(`AzureWebJobsStorage`, Azurite locally), and the clients of registered datastores. Every Table and Blob
client of the product is made here; the engine's per-job gateway (`jobs.job_storage`) works on the
containers it is given."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableServiceClient, TableTransactionError
from azure.storage.blob import BlobProperties, BlobServiceClient, ContainerClient, LinearRetry

from .defaults import MAX_RECORD_CHARS
from .errors import AlreadyExists, NotFound, PreconditionFailed, ValidationFailed

STORAGE_SETTING = "AzureWebJobsStorage"
# Every client's bounds: a storage account that does not answer fails the call in seconds, not in the SDK's
# minutes (its blob retries wait 15 s, 18 s, 24 s), so it neither holds a worker other jobs need nor an API call.
DEFAULT_STORAGE_RETRIES = 3  # retries after the first attempt: rides out a blip or an emulator restarting
DEFAULT_STORAGE_BACKOFF_SECONDS = 1.0  # the pause before each retry (tables double it each time)
DEFAULT_STORAGE_CONNECT_TIMEOUT_SECONDS = 5  # a TCP connect on a working network takes milliseconds
DEFAULT_STORAGE_READ_TIMEOUT_SECONDS = 30  # between two reads of an answer; a large blob streams all along
DEFAULT_TRANSACTION_ROWS = 100  # Table storage's most operations in one transaction (a fact, not a choice)
DEFAULT_TRANSACTION_CHARS = 2_000_000  # half the service's 4 MiB payload limit, for UTF-16 and the batch framing
BODY_PART_CHARS = 30_000  # a Table string property holds 64 KiB of UTF-16: a record's JSON is kept in parts
DEV_STORAGE = "UseDevelopmentStorage=true"
# The emulator's well-known development account (public, documented; not a secret).
_DEV_ACCOUNT = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"
    "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
)


def connection_string() -> str:
    value = os.environ.get(STORAGE_SETTING, "")
    if not value:
        raise RuntimeError(f"the app setting {STORAGE_SETTING} is not set")
    return _DEV_ACCOUNT if value.replace(" ", "").lower() == DEV_STORAGE.lower() else value


@dataclass
class Record:
    """A stored resource: its JSON body and the ETag that guards updates."""

    body: dict
    etag: str


class RecordTable:
    """One table of JSON records, keyed by (partition, row), with optimistic concurrency."""

    def __init__(self, client: TableClient):
        self.client = client

    def get(self, partition: str, row: str, kind: str, name: str) -> Record:
        try:
            entity = self.client.get_entity(partition, row)
        except ResourceNotFoundError:
            raise NotFound(f"{kind} '{name}' was not found.", target="name") from None
        return Record(_body_of(entity), entity.metadata["etag"])

    def find(self, partition: str, row: str) -> Record | None:
        try:
            entity = self.client.get_entity(partition, row)
        except ResourceNotFoundError:
            return None
        return Record(_body_of(entity), entity.metadata["etag"])

    def create(self, partition: str, row: str, body: dict, kind: str, name: str, **columns: Any) -> Record:
        try:
            result = self.client.create_entity(self._entity(partition, row, body, columns))
        except ResourceExistsError:
            raise AlreadyExists(f"{kind} '{name}' already exists.", target="name") from None
        return Record(body, result["etag"])

    def _transactions(self, partition: str, rows: list[tuple[str, dict]]) -> list[list]:
        transactions: list[list] = [[]]
        size = 0
        for row, body in rows:
            entity = self._entity(partition, row, body, {})
            length = sum(len(value) for value in entity.values())
            if transactions[-1] and (len(transactions[-1]) == DEFAULT_TRANSACTION_ROWS
                                     or size + length > DEFAULT_TRANSACTION_CHARS):
                transactions.append([])
                size = 0
            transactions[-1].append(("create", entity))
            size += length
        return [operations for operations in transactions if operations]

    def create_all(self, partition: str, rows: list[tuple[str, dict]], at_once: bool = False,
                   before: Callable[[], None] = lambda: None) -> None:
        """Create rows of one partition in as few round trips as the service allows: transactions of at most
        DEFAULT_TRANSACTION_ROWS rows and DEFAULT_TRANSACTION_CHARS characters. Raises RowsExist when a row is
        there already, saying how many rows (in order) the transactions before it stored. at_once: all in one
        transaction (all or none stored), or TooManyForOneTransaction before anything is sent. before is called
        once the rows are known to fit, before the first transaction is sent."""
        transactions = self._transactions(partition, rows)
        if at_once and len(transactions) > 1:
            raise TooManyForOneTransaction(f"{len(rows)} rows do not fit one transaction.")
        before()
        stored = 0
        for operations in transactions:
            try:
                self.client.submit_transaction(operations)
            except TableTransactionError as error:
                if error.error_code == "EntityAlreadyExists":
                    raise RowsExist(stored) from None
                raise
            stored += len(operations)

    def replace(self, partition: str, row: str, body: dict, etag: str, kind: str, name: str, **columns) -> Record:
        try:
            result = self.client.update_entity(self._entity(partition, row, body, columns), mode="replace",
                                               etag=etag, match_condition=MatchConditions.IfNotModified)
        except ResourceModifiedError:
            raise PreconditionFailed(
                f"{kind} '{name}' was changed by someone else (ETag mismatch); read it again and retry.",
                target="If-Match") from None
        except ResourceNotFoundError:
            raise NotFound(f"{kind} '{name}' was not found.", target="name") from None
        return Record(body, result["etag"])

    def delete(self, partition: str, row: str, etag: str | None = None) -> None:
        try:
            if etag:
                self.client.delete_entity(partition, row, etag=etag, match_condition=MatchConditions.IfNotModified)
            else:
                self.client.delete_entity(partition, row)
        except ResourceModifiedError:
            raise PreconditionFailed("The resource was changed by someone else (ETag mismatch).",
                                     target="If-Match") from None
        except ResourceNotFoundError:
            pass  # already gone: deleting is idempotent

    def upsert(self, partition: str, row: str, body: dict, **columns: Any) -> None:
        self.client.upsert_entity(self._entity(partition, row, body, columns), mode="replace")

    def query(self, text: str, **parameters: Any) -> Iterator[Record]:
        for entity in self.client.query_entities(text, parameters=parameters):
            yield Record(_body_of(entity), entity.metadata["etag"])

    def list(self, partition: str | None = None) -> Iterator[Record]:
        if partition is None:
            entities = self.client.list_entities()
        else:
            entities = self.client.query_entities("PartitionKey eq @pk", parameters={"pk": partition})
        for entity in entities:
            yield Record(_body_of(entity), entity.metadata["etag"])

    @staticmethod
    def _entity(partition: str, row: str, body: dict, columns: dict) -> dict:
        text = json.dumps(body)
        if len(text) > MAX_RECORD_CHARS:
            raise _too_large(body, len(text))
        parts = [text[start:start + BODY_PART_CHARS] for start in range(0, len(text), BODY_PART_CHARS)]
        entity = {"PartitionKey": partition, "RowKey": row, "Body": parts[0], **columns}
        entity.update({f"Body{number}": part for number, part in enumerate(parts[1:], start=1)})
        return entity


class TooManyForOneTransaction(ValueError):
    """Rows that must be stored all or none do not fit the service's one transaction."""


class RowsExist(AlreadyExists):
    """A row of create_all was there already; the first `stored` rows were stored, none after them."""

    def __init__(self, stored: int):
        super().__init__("A row already exists.", target="name")
        self.stored = stored


def _body_of(entity: dict) -> dict:
    parts, number = [entity["Body"]], 1
    while f"Body{number}" in entity:
        parts.append(entity[f"Body{number}"])
        number += 1
    return json.loads("".join(parts))


def _too_large(body: dict, size: int) -> ValidationFailed:
    """Named after the field that takes the most room, so the user knows what to shorten."""
    largest = max(body, key=lambda key: len(json.dumps(body[key])), default="body")
    return ValidationFailed(f"The resource is too large to keep ({size:,} characters of JSON, at most "
                            f"{MAX_RECORD_CHARS:,}); '{largest}' takes the most room.", target=largest)


MISSING_CODES = ("ContainerNotFound", "TableNotFound")


class WorkspaceStorage:
    """Tables and containers of the workspace, created on first use (and again if storage lost them)."""

    TABLES = ("Models", "Datastores", "DataAssets", "Codes", "BatchEndpoints", "BatchDeployments")

    def __init__(self, conn: str):
        self.connection_string = conn
        self._ready: set[str] = set()
        self._containers: dict[str, ContainerClient] = {}  # clients kept: each builds a request pipeline
        self._record_tables: dict[str, RecordTable] = {}
        forget = {"raw_response_hook": self._forget_missing}
        self._tables = TableServiceClient.from_connection_string(conn, **table_client_options(), **forget)
        self.blobs = BlobServiceClient.from_connection_string(conn, **blob_client_options(), **forget)

    def _forget_missing(self, response) -> None:
        """A table or container that storage says is missing (an emulator that lost its last writes, someone
        who deleted it) is created again on its next use, instead of failing every write until a restart."""
        answer = response.http_response
        if answer.status_code == 404 and answer.headers.get("x-ms-error-code") in MISSING_CODES:
            self._ready.clear()

    def table(self, name: str) -> RecordTable:
        if name not in self._ready:
            try:
                self._tables.create_table(name)
            except ResourceExistsError:
                pass
            self._ready.add(name)
        table = self._record_tables.get(name)
        if table is None:
            table = self._record_tables.setdefault(name, RecordTable(self._tables.get_table_client(name)))
        return table

    def container(self, name: str) -> ContainerClient:
        client = self._containers.get(name)
        if client is None:
            client = self._containers.setdefault(name, self.blobs.get_container_client(name))
        if f"container:{name}" not in self._ready:
            try:
                client.create_container()
            except ResourceExistsError:
                pass
            self._ready.add(f"container:{name}")
        return client


def blob_client_options() -> dict:
    return {"retry_policy": LinearRetry(backoff=DEFAULT_STORAGE_BACKOFF_SECONDS, retry_total=DEFAULT_STORAGE_RETRIES,
                                        random_jitter_range=DEFAULT_STORAGE_BACKOFF_SECONDS / 2),
            "connection_timeout": DEFAULT_STORAGE_CONNECT_TIMEOUT_SECONDS,
            "read_timeout": DEFAULT_STORAGE_READ_TIMEOUT_SECONDS}


def table_client_options() -> dict:
    return {"retry_total": DEFAULT_STORAGE_RETRIES, "retry_backoff_factor": DEFAULT_STORAGE_BACKOFF_SECONDS,
            "connection_timeout": DEFAULT_STORAGE_CONNECT_TIMEOUT_SECONDS,
            "read_timeout": DEFAULT_STORAGE_READ_TIMEOUT_SECONDS}


def datastore_container(container_name: str, *, account_url: str | None = None, account_name: str | None = None,
                        account_key: str | None = None, sas_token: str | None = None,
                        connection_string: str | None = None) -> ContainerClient:
    """A client for a registered datastore's container, with its own credential."""
    if connection_string:
        service = BlobServiceClient.from_connection_string(connection_string, **blob_client_options())
    else:
        credential: Any = sas_token
        if account_key:
            credential = {"account_name": account_name or _account_from_url(account_url or ""),
                          "account_key": account_key}
        service = BlobServiceClient(account_url, credential=credential, **blob_client_options())
    return service.get_container_client(container_name)


def _account_from_url(url: str) -> str:
    """The account name in an account URL: the host's first label, or the first path segment (Azurite)."""
    parts = urlsplit(url)
    segments = [segment for segment in parts.path.split("/") if segment]
    return segments[0] if segments else (parts.hostname or "").split(".")[0]


def blob_properties(container: ContainerClient, path: str) -> BlobProperties | None:
    """The blob's properties (size, ETag), or None where there is no such blob."""
    try:
        return container.get_blob_client(path).get_blob_properties()
    except ResourceNotFoundError:
        return None
