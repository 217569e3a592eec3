"""Environments, Azure ML's way: versioned records of a conda file (what the scoring process's Python
environment holds) and an image (kept and shown; there is no container runtime to run it). A deployment
names one (`azureml:<name>:<version>`, `<name>@latest`) or gives one inline."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from .clock import now_iso
from .environment_specs import from_conda
from .errors import NotFound, ReferenceNotFound, ValidationFailed
from .refs import parse_asset_ref
from .resources import Description, Schema, Tags, parse
from .storage import Record, WorkspaceStorage
from .versions import AssetVersions

NO_DOCKER_BUILD = ("Environments built from a Docker context (build:) are not supported here: there is no "
                   "container runtime to build or run an image. Give conda_file (and image, kept for reference).")


class EnvironmentSpec(Schema):
    name: str | None = None
    version: int | str | None = None
    description: Description = ""
    tags: Tags = Field(default_factory=dict)
    image: str | None = Field(None, description="kept and shown; not run")
    conda_file: dict[str, Any] | str | None = Field(None, description="a conda environment (mapping or YAML text)")
    os_type: Literal["linux"] = "linux"
    properties: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _no_docker_build(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("build") is not None:
            raise ValidationFailed(NO_DOCKER_BUILD, target="build")
        return data

    @model_validator(mode="after")
    def _something_to_use(self) -> "EnvironmentSpec":
        if self.conda_file is None and not self.image:
            raise ValueError("give conda_file (and optionally image)")
        if self.conda_file is not None:
            from_conda(self.conda_file, "conda_file")  # refused now, not at the first build
        return self


class InlineEnvironment(Schema):
    """A deployment's own environment: Azure ML's inline form."""

    name: str | None = None
    version: int | str | None = None
    description: Description = ""
    image: str | None = None
    conda_file: dict[str, Any] | str | None = None
    os_type: Literal["linux"] = "linux"

    @model_validator(mode="before")
    @classmethod
    def _no_docker_build(cls, data: Any) -> Any:
        return EnvironmentSpec._no_docker_build(data)


class EnvironmentService(AssetVersions):
    def __init__(self, storage: WorkspaceStorage):
        super().__init__(storage.table("Environments"), "Environment")

    def create(self, name: str, fields: Any) -> Record:
        spec = self.named_spec(EnvironmentSpec, name, fields)
        self.check_free(name, spec.version)
        return self.create_version(name, spec.version, lambda version: {
            "name": name, "version": version, "id": f"azureml:{name}:{version}", "description": spec.description,
            "tags": spec.tags, "image": spec.image, "conda_file": spec.conda_file, "os_type": spec.os_type,
            "properties": spec.properties, "created_at": now_iso()})

    def resolve(self, given: str | dict, field: str = "environment") -> dict:
        """A deployment's environment as {conda_file, image, id}: a registered one by reference, or inline."""
        if isinstance(given, dict):
            spec = parse(InlineEnvironment, given, prefix=field)
            if spec.conda_file is not None:
                from_conda(spec.conda_file, f"{field}.conda_file")
            return {"id": None, "conda_file": spec.conda_file, "image": spec.image}
        ref = parse_asset_ref(given, field)
        try:
            body = self.get(ref.name, ref.version if ref.version is not None else "latest").body
        except NotFound:
            raise ReferenceNotFound(f"Environment '{given}' does not exist.", target=field) from None
        return {"id": body["id"], "conda_file": body["conda_file"], "image": body["image"]}

    def delete(self, name: str, version: str | int) -> None:
        self.delete_record(self.get(name, version))
