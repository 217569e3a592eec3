"""Host keys, kept where the Functions host keeps them: blob `azure-webjobs-secrets/<host id>/host.json`.

Keys are generated on first start and reused afterwards, so a key printed once keeps working.
"""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient

SECRETS_CONTAINER = "azure-webjobs-secrets"
DURABLE_SYSTEM_KEY = "durabletask_extension"


def _new_key() -> str:
    return secrets.token_urlsafe(40)


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
        if secrets.compare_digest(presented, self.master):
            return True
        if level == "function":
            return any(secrets.compare_digest(presented, key) for key in self.function_keys.values())
        if level == "system":
            return any(secrets.compare_digest(presented, key) for key in self.system_keys.values())
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
    try:
        keys = HostKeys.from_document(json.loads(blob.download_blob().readall()))
    except ResourceNotFoundError:
        keys = HostKeys(_new_key())
    changed = False
    if "default" not in keys.function_keys:
        keys.function_keys["default"] = _new_key()
        changed = True
    if DURABLE_SYSTEM_KEY not in keys.system_keys:
        keys.system_keys[DURABLE_SYSTEM_KEY] = _new_key()
        changed = True
    if changed:
        blob.upload_blob(json.dumps(keys.to_document(), indent=2), overwrite=True)
    return keys
