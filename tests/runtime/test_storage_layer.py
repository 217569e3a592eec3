"""The storage layer against Azurite: a container or table that storage lost is created again on next use."""
from __future__ import annotations

import uuid

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

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
