"""Asset versions (models, data): whole numbers from 1, stored as fixed-width row keys so they sort."""
from __future__ import annotations

from typing import Any, Callable

from .errors import AlreadyExists, Conflict, NotFound, ValidationFailed
from .names import check_asset_name
from .resources import parse
from .storage import Record, RecordTable

VERSION_WIDTH = 10
REGISTER_ATTEMPTS = 5


def version_key(version: int) -> str:
    return f"{version:0{VERSION_WIDTH}d}"


def explicit_version(version: int | str | None) -> int | None:
    if version is None or version == "":
        return None
    if isinstance(version, int) or str(version).isdigit():
        value = int(version)
        if value >= 1:
            return value
    raise ValidationFailed(f"Invalid version '{version}': a version is a whole number from 1.",
                           target="version")


class AssetVersions:
    """The versions of named assets in one table (partition: the name; row: the fixed-width version).

    Files are uploaded before a version is chosen, under a prefix of their own, so two registrations racing
    for the same number never mix their files: the loser just takes the next number."""

    def __init__(self, table: RecordTable, kind: str):
        self.table = table
        self.kind = kind

    def create_version(self, name: str, requested: int | str | None, body_for: Callable[[int], dict]) -> Record:
        explicit = explicit_version(requested)
        for _ in range(REGISTER_ATTEMPTS):
            version = explicit or self._next_version(name)
            try:
                return self.table.create(name, version_key(version), body_for(version), self.kind,
                                         f"{name}:{version}")
            except AlreadyExists:
                if explicit:
                    raise AlreadyExists(f"{self.kind} '{name}' version {version} already exists.",
                                        target="version") from None
        raise Conflict(f"{self.kind} '{name}' is being registered concurrently; retry.", target="name")

    def named_spec(self, schema, name: str, fields: Any):
        """The request parsed into schema for asset `name`: a valid name, the same name in the body if any,
        and a version that is a whole number if given."""
        check_asset_name(name)
        spec = parse(schema, fields)
        if spec.name not in (None, name):
            raise ValidationFailed(f"The body names {self.kind.lower()} '{spec.name}' but the URL names '{name}'.",
                                   target="name")
        explicit_version(spec.version)
        return spec

    def check_free(self, name: str, requested: int | str | None) -> None:
        """Refuse an explicit version that exists before any file is uploaded for it."""
        explicit = explicit_version(requested)
        if explicit and self.table.find(name, version_key(explicit)) is not None:
            raise AlreadyExists(f"{self.kind} '{name}' version {explicit} already exists.", target="version")

    def _next_version(self, name: str) -> int:
        return max((r.body["version"] for r in self.table.list(name)), default=0) + 1

    def get(self, name: str, version: str | int) -> Record:
        if str(version) == "latest":
            versions = self.list_versions(name)
            if not versions:
                raise NotFound(f"{self.kind} '{name}' was not found.", target="name")
            return versions[0]
        if not str(version).isdigit():
            raise ValidationFailed(f"Invalid version '{version}': use a number or 'latest'.", target="version")
        return self.table.get(name, version_key(int(version)), self.kind, f"{name}:{version}")

    def list_versions(self, name: str) -> list[Record]:
        return sorted(self.table.list(name), key=lambda r: -r.body["version"])

    def list_latest(self) -> list[Record]:
        latest: dict[str, Record] = {}
        for record in self.table.list():
            current = latest.get(record.body["name"])
            if current is None or record.body["version"] > current.body["version"]:
                latest[record.body["name"]] = record
        return [latest[name] for name in sorted(latest)]

    def delete_record(self, record: Record) -> None:
        self.table.delete(record.body["name"], version_key(record.body["version"]), record.etag)
