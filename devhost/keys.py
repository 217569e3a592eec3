"""Host keys, kept where the Functions host keeps them: blob `azure-webjobs-secrets/<host id>/host.json`.

Keys are generated on first start and reused afterwards, so a key printed once keeps working.
"""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient

SECRETS_CONTAINER = "azure-webjobs-secrets"
DURABLE_SYSTEM_KEY = "durabletask_extension"


def _new_key() -> str:
    return secrets.token_urlsafe(40)


def _same(presented: str, key: str) -> bool:
    """Constant-time comparison that also copes with non-ASCII input (a `?code=` can hold anything)."""
    return secrets.compare_digest(presented.encode("utf-8", "surrogateescape"), key.encode("utf-8"))


@dataclass
class HostKeys:
    master: str
    function_keys: dict[str, str] = field(default_factory=dict)
    system_keys: dict[str, str] = field(default_factory=dict)

    @property
    def default_function_key(self) -> str:
        return self.function_keys["default"]

    def allows(self, auth_level: str, presented: str | None) -> bool:
        """Anonymous needs nothing; function takes any function key or the master key; admin only the master."""
        level = auth_level.lower()
        if level == "anonymous":
            return True
        if not presented:
            return False
        if _same(presented, self.master):
            return True
        if level == "function":
            return any(_same(presented, key) for key in self.function_keys.values())
        if level == "system":
            return any(_same(presented, key) for key in self.system_keys.values())
        return False

    def to_document(self) -> dict:
        def entries(keys: dict[str, str]) -> list[dict]:
            return [{"name": name, "value": value, "encrypted": False} for name, value in keys.items()]

        return {
            "masterKey": {"name": "master", "value": self.master, "encrypted": False},
            "functionKeys": entries(self.function_keys),
            "systemKeys": entries(self.system_keys),
        }

    @classmethod
    def from_document(cls, doc: dict) -> "HostKeys":
        def keys(items: list[dict]) -> dict[str, str]:
            return {item["name"]: item["value"] for item in items or []}

        return cls(doc["masterKey"]["value"], keys(doc.get("functionKeys")), keys(doc.get("systemKeys")))


def load_or_create_keys(blobs: BlobServiceClient, host_id: str) -> HostKeys:
    container = blobs.get_container_client(SECRETS_CONTAINER)
    try:
        container.create_container()
    except ResourceExistsError:
        pass
    blob = container.get_blob_client(f"{host_id}/host.json")
    # Two hosts with one host id may start together: write conditionally, so both end up with the same keys.
    for _ in range(10):
        try:
            download = blob.download_blob()
            keys = HostKeys.from_document(json.loads(download.readall()))
            condition = {"overwrite": True, "etag": download.properties.etag,
                         "match_condition": MatchConditions.IfNotModified}
        except ResourceNotFoundError:
            keys = HostKeys(_new_key())
            condition = {"overwrite": False}
        changed = False
        if "default" not in keys.function_keys:
            keys.function_keys["default"] = _new_key()
            changed = True
        if DURABLE_SYSTEM_KEY not in keys.system_keys:
            keys.system_keys[DURABLE_SYSTEM_KEY] = _new_key()
            changed = True
        if not changed:
            return keys
        try:
            blob.upload_blob(json.dumps(keys.to_document(), indent=2), **condition)
            return keys
        except (ResourceExistsError, ResourceModifiedError):
            continue  # another host wrote the keys first: use theirs
    raise RuntimeError(f"could not store the host keys in {SECRETS_CONTAINER}/{host_id}/host.json")
