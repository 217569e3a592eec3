"""The storage layer against Azurite: a container or table that storage lost is created again on next use, and
the default datastore is one record however many first calls make it at once."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from devhost.azurite import Azurite, free_port
from registry.datastores import DatastoreService
from registry.storage import WorkspaceStorage


def test_a_container_storage_lost_is_created_again_on_its_next_use(storage):
    workspace, name = WorkspaceStorage(storage), f"lost{uuid.uuid4().hex[:10]}"
    workspace.container(name).upload_blob("a.txt", b"1")
    BlobServiceClient.from_connection_string(storage).delete_container(name)
    with pytest.raises(ResourceNotFoundError):
        workspace.container(name).upload_blob("b.txt", b"2")
    workspace.container(name).upload_blob("b.txt", b"2")
    assert [b.name for b in workspace.container(name).list_blobs()] == ["b.txt"]


def test_a_table_storage_lost_is_created_again_on_its_next_use(storage):
    workspace, name = WorkspaceStorage(storage), f"Lost{uuid.uuid4().hex[:10]}"
    workspace.table(name).upsert("p", "r1", {"n": 1})
    TableServiceClient.from_connection_string(storage).delete_table(name)
    with pytest.raises(ResourceNotFoundError):
        workspace.table(name).upsert("p", "r2", {"n": 2})
    workspace.table(name).upsert("p", "r2", {"n": 2})
    assert [r.body for r in workspace.table(name).list("p")] == [{"n": 2}]


def test_the_default_datastore_made_by_many_first_calls_at_once_is_one_record():
    account = Azurite((free_port(), free_port(), free_port())).start()  # a fresh account: no default yet
    try:
        services = [DatastoreService(WorkspaceStorage(account.connection_string)) for _ in range(8)]
        with ThreadPoolExecutor(8) as pool:
            made = list(pool.map(lambda service: service.ensure_default().body["name"], services))
        assert made == ["workspaceblobstore"] * 8
        table = TableServiceClient.from_connection_string(account.connection_string).get_table_client("Datastores")
        assert len(list(table.list_entities())) == 1
    finally:
        account.stop()
