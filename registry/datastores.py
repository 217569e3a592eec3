"""Datastores: the default `workspaceblobstore` (a container of the app's own storage account) and
registered Azure Blob containers. Credentials are kept, never shown."""
from __future__ import annotations

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContainerClient

from .blob_folders import browse
from .clock import now_iso
from .defaults import DEFAULT_DATASTORE
from .errors import AlreadyExists, Conflict, NotFound, ReferenceNotFound, ValidationFailed
from .names import check_datastore_name
from .optimistic import Preconditions, check_if_match
from .outbound import check_url
from .refs import DatastorePath, parse_datastore_uri
from .resources import DatastoreSpec, parse
from .storage import Record, WorkspaceStorage, datastore_container

PARTITION = "datastore"


class DatastoreService:
    def __init__(self, storage: WorkspaceStorage):
        self.storage = storage
        self.table = storage.table("Datastores")

    def ensure_default(self) -> Record:
        existing = self.table.find(PARTITION, DEFAULT_DATASTORE)
        if existing:
            return existing
        body = {"name": DEFAULT_DATASTORE, "type": "azure_blob", "description": "The workspace's default blob store",
                "tags": {}, "container_name": DEFAULT_DATASTORE, "is_default": True, "credentials": None,
                "account_name": None, "account_url": None, "endpoint": None, "protocol": None,
                "created_at": now_iso()}
        self.storage.container(DEFAULT_DATASTORE)
        try:
            return self.table.create(PARTITION, DEFAULT_DATASTORE, body, "Datastore", DEFAULT_DATASTORE)
        except AlreadyExists:  # another first call made it at the same moment
            return self.table.get(PARTITION, DEFAULT_DATASTORE, "Datastore", DEFAULT_DATASTORE)

    def create_or_update(self, name: str, body: dict, conditions: Preconditions = Preconditions()) -> Record:
        check_datastore_name(name)
        if name == DEFAULT_DATASTORE:
            raise Conflict(f"'{DEFAULT_DATASTORE}' is the workspace's default datastore and cannot be changed.",
                           target="name")
        spec = parse(DatastoreSpec, body)
        if spec.name not in (None, name):
            raise ValidationFailed(f"The body names datastore '{spec.name}' but the URL names '{name}'.",
                                   target="name")
        if spec.account_url:
            check_url(spec.account_url, "account_url")
        stored = {**spec.model_dump(), "name": name, "is_default": False}
        if stored["credentials"] is not None:
            stored["credentials"]["type"] = _credential_type(stored["credentials"])
        existing = self.table.find(PARTITION, name)
        stored["created_at"] = existing.body["created_at"] if existing else now_iso()
        if existing:
            conditions.check_existing(existing.etag, f"Datastore '{name}'")
            return self.table.replace(PARTITION, name, stored, existing.etag, "Datastore", name)
        conditions.check_missing(f"Datastore '{name}'")
        return self.table.create(PARTITION, name, stored, "Datastore", name)

    def get(self, name: str) -> Record:
        if name == DEFAULT_DATASTORE:
            return self.ensure_default()
        return self.table.get(PARTITION, name, "Datastore", name)

    def list(self) -> list[Record]:
        self.ensure_default()
        return sorted(self.table.list(PARTITION), key=lambda r: r.body["name"])

    def delete(self, name: str, if_match: str | None = None) -> None:
        if name == DEFAULT_DATASTORE:
            raise Conflict(f"'{DEFAULT_DATASTORE}' is the workspace's default datastore and cannot be deleted.",
                           target="name")
        record = self.get(name)
        check_if_match(record.etag, if_match, f"Datastore '{name}'")
        self.table.delete(PARTITION, name, record.etag)

    def browse(self, name: str, prefix: str, marker: str | None = None) -> dict:
        """The folders and files right under prefix, each with the azureml:// URI a job input or data asset takes."""
        self.get(name)
        location = parse_datastore_uri(str(DatastorePath(name, prefix)), "prefix")
        container = self.container(name)
        try:
            listed = browse(container, location.path, marker)
        except ResourceNotFoundError:
            raise NotFound(f"Datastore '{name}' names container '{container.container_name}', which does not exist.",
                           target="name") from None
        return {**listed, "folders": [{"path": folder, "uri": str(DatastorePath(name, folder))}
                                      for folder in listed["folders"]],
                "files": [{**file, "uri": str(DatastorePath(name, file["path"]))} for file in listed["files"]]}

    def container(self, name: str, field: str = "datastore") -> ContainerClient:
        """A client for the datastore's container, with its own credentials."""
        if name == DEFAULT_DATASTORE:
            return self.storage.container(DEFAULT_DATASTORE)
        record = self.table.find(PARTITION, name)
        if record is None:
            raise ReferenceNotFound(f"Datastore '{name}' does not exist.", target=field)
        body = record.body
        credentials = body["credentials"] or {}
        url = body["account_url"] or f"{body['protocol']}://{body['account_name']}.blob.{body['endpoint']}"
        return datastore_container(body["container_name"], account_url=url, account_name=body["account_name"],
                                   account_key=credentials.get("account_key"),
                                   sas_token=credentials.get("sas_token"),
                                   connection_string=credentials.get("connection_string"))


def _credential_type(credentials: dict) -> str:
    for kind in ("account_key", "sas_token", "connection_string"):
        if kind in credentials:
            return kind
    return "none"


def datastore_view(record: Record) -> dict:
    """Secrets never leave: only the kind of credential is shown."""
    body = dict(record.body)
    credentials = body.get("credentials")
    body["credentials"] = {"type": credentials.get("type", _credential_type(credentials))} if credentials else None
    return body
