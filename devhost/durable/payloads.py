"""Large payloads: table properties and queue messages have size limits, so big values go to blobs.

Pure encoding here; the callers upload and download (the host asynchronously, workers synchronously).
"""
from __future__ import annotations

import json
import uuid

# A table string property holds 64 KiB (32K UTF-16 characters); a queue message 64 KiB.
MAX_INLINE_CHARS = 30_000
MAX_MESSAGE_CHARS = 45_000


def large_messages_container(hub_name: str) -> str:
    return f"{hub_name.lower()}-largemessages"


def new_blob_name(instance_id: str, kind: str) -> str:
    return f"{instance_id}/{kind}-{uuid.uuid4().hex}.json"


def split_entity(entity: dict, instance_id: str) -> tuple[dict, dict[str, str]]:
    """Return the entity to store and the blobs to upload (name -> text) for oversized strings."""
    stored, blobs = {}, {}
    for key, value in entity.items():
        if isinstance(value, (dict, list)):
            key, value = f"{key}Json", json.dumps(value)
        if isinstance(value, str) and len(value) > MAX_INLINE_CHARS:
            name = new_blob_name(instance_id, key)
            blobs[name] = value
            stored[f"{key}BlobName"] = name
        elif value is not None:
            stored[key] = value
    return stored, blobs


def blob_fields(entity: dict) -> dict[str, str]:
    """Field name -> blob name for values kept out of line."""
    return {key[: -len("BlobName")]: value for key, value in entity.items() if key.endswith("BlobName")}


def join_entity(entity: dict, blob_texts: dict[str, str]) -> dict:
    """Inverse of split_entity, given the downloaded texts by field name."""
    result = {}
    for key, value in entity.items():
        if key.endswith("BlobName"):
            key, value = key[: -len("BlobName")], blob_texts[key[: -len("BlobName")]]
        if key.endswith("Json") and isinstance(value, str):
            key, value = key[: -len("Json")], json.loads(value)
        result[key] = value
    return result


def encode_message(body: dict) -> tuple[str, tuple[str, str] | None]:
    """Queue text, plus (blob name, text) to upload first when the body is too big for a message."""
    text = json.dumps(body)
    if len(text) <= MAX_MESSAGE_CHARS:
        return text, None
    name = new_blob_name(body.get("InstanceId", "messages"), "message")
    return json.dumps({"MessageBlobName": name}), (name, text)


def message_blob_name(text: str) -> str | None:
    body = json.loads(text)
    return body.get("MessageBlobName")
