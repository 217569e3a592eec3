"""Asset references as Azure ML writes them: `name:version`, `name@latest`, `azureml:` prefixed, and
datastore URIs `azureml://datastores/<name>/paths/<path>`."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ValidationFailed

_DATASTORE_URI = re.compile(r"azureml://datastores/(?P<datastore>[^/]+)/paths/(?P<path>.*)")


def is_plain_file_name(value: str) -> bool:
    """A file's own name, never a path: no folders, backslashes, '.' or '..', control characters."""
    return bool(value) and "/" not in value and "\\" not in value and value not in (".", "..") \
        and not any(ord(c) < 32 for c in value)


@dataclass(frozen=True)
class AssetRef:
    name: str
    version: int | None  # None means the latest

    def __str__(self) -> str:
        return f"azureml:{self.name}:{self.version}" if self.version is not None else f"azureml:{self.name}@latest"


def parse_asset_ref(text: str, field: str) -> AssetRef:
    raw = (text or "").strip()
    body = raw[len("azureml:"):] if raw.startswith("azureml:") else raw
    if body.endswith("@latest"):
        return AssetRef(body[: -len("@latest")], None)
    name, sep, version = body.rpartition(":")
    if not sep:
        return AssetRef(body, None) if body else _bad(raw, field)
    if not version.isdigit() or not name:
        _bad(raw, field)
    return AssetRef(name, int(version))


def _bad(raw: str, field: str):
    raise ValidationFailed(
        f"Invalid reference '{raw}' in {field}: use 'name:version', 'name@latest' or 'azureml:name:version'.",
        target=field,
    )


@dataclass(frozen=True)
class DatastorePath:
    datastore: str
    path: str

    def __str__(self) -> str:
        return f"azureml://datastores/{self.datastore}/paths/{self.path}"


def parse_datastore_uri(text: str, field: str) -> DatastorePath:
    found = _DATASTORE_URI.fullmatch((text or "").strip())
    if not found:
        raise ValidationFailed(
            f"Invalid path '{text}' in {field}: use azureml://datastores/<datastore>/paths/<path>.", target=field)
    path = found["path"].lstrip("/")
    if "\\" in path or ".." in path.split("/"):
        raise ValidationFailed(f"Invalid path '{text}' in {field}: a datastore path is a blob name or folder in the "
                               "datastore; '..' and backslashes are not allowed.", target=field)
    return DatastorePath(found["datastore"], path)
