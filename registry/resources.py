"""Resource schemas, named as in Azure ML's YAML (batchEndpoint / modelBatchDeployment schemas, model,
data and datastore YAML), with Azure ML's defaults from `defaults.py`."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator,
)

from . import defaults as d
from .errors import ValidationFailed
from .refs import is_plain_file_name


class Schema(BaseModel):
    """Unknown fields are refused (a typo must not pass silently); `$schema` is accepted and dropped."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_schema_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and "$schema" in data:
            data = {k: v for k, v in data.items() if k != "$schema"}
        return data


def _scalar_tags(value: Any) -> Any:
    """Tag values of any scalar type are kept as strings, as Azure ML keeps them (`device_batching: 16`)."""
    if not isinstance(value, dict):
        return value
    return {key: ("true" if item else "false") if isinstance(item, bool) else
            str(item) if isinstance(item, (int, float)) else "" if item is None else item
            for key, item in value.items()}


def _bounded_tags(value: dict[str, str]) -> dict[str, str]:
    if len(value) > d.MAX_TAGS:
        raise ValueError(f"at most {d.MAX_TAGS} tags (got {len(value)})")
    for key, item in value.items():
        if not key or len(key) > d.MAX_TAG_KEY_CHARS:
            raise ValueError(f"tag names are 1 to {d.MAX_TAG_KEY_CHARS} characters ('{key[:40]}')")
        if len(item) > d.MAX_TAG_VALUE_CHARS:
            raise ValueError(f"tag '{key[:40]}' is longer than {d.MAX_TAG_VALUE_CHARS} characters")
    return value


def _file_name(value: str) -> str:
    if not is_plain_file_name(value):
        raise ValueError("must be a file name, not a path")
    return value


Tags = Annotated[dict[str, str], BeforeValidator(_scalar_tags), AfterValidator(_bounded_tags)]
Description = Annotated[str, Field(max_length=d.MAX_DESCRIPTION_CHARS)]
FileName = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_file_name)]
# Counts are whole JSON numbers (a boolean is not one) within their documented bounds.
MiniBatchSize = Annotated[int, Field(ge=1, le=d.MAX_MINI_BATCH_SIZE, strict=True, description="files per mini-batch")]
MaxRetries = Annotated[int, Field(ge=0, le=d.MAX_RETRIES, strict=True)]
RetryTimeout = Annotated[int, Field(ge=1, le=d.MAX_RETRY_TIMEOUT_SECONDS, strict=True,
                                    description="seconds a mini-batch may run")]
Concurrency = Annotated[int, Field(ge=1, le=d.MAX_CONCURRENCY_PER_INSTANCE, strict=True)]
ErrorThreshold = Annotated[int, Field(ge=-1, le=d.MAX_ERROR_THRESHOLD, strict=True,
                                      description="-1: never fail the job")]
InstanceCount = Annotated[int, Field(ge=1, le=d.MAX_INSTANCE_COUNT, strict=True)]


class RetrySettings(Schema):
    max_retries: MaxRetries = d.DEFAULT_MAX_RETRIES
    timeout: RetryTimeout = d.DEFAULT_RETRY_TIMEOUT_SECONDS


class BatchDeploymentSettings(Schema):
    max_concurrency_per_instance: Concurrency = d.DEFAULT_MAX_CONCURRENCY_PER_INSTANCE
    mini_batch_size: MiniBatchSize = d.DEFAULT_MINI_BATCH_SIZE
    output_action: Literal["append_row", "summary_only"] = d.DEFAULT_OUTPUT_ACTION
    output_file_name: FileName = d.DEFAULT_OUTPUT_FILE_NAME
    retry_settings: RetrySettings = Field(default_factory=RetrySettings)
    error_threshold: ErrorThreshold = d.DEFAULT_ERROR_THRESHOLD
    logging_level: Literal["debug", "info", "warning"] = d.DEFAULT_LOGGING_LEVEL
    environment_variables: dict[str, str] = Field(default_factory=dict)

    @field_validator("logging_level", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class ResourceConfiguration(Schema):
    instance_count: InstanceCount = d.DEFAULT_INSTANCE_COUNT
    instance_type: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)


class CodeConfiguration(Schema):
    code: str = Field(min_length=1, description="a code asset id returned by POST /api/codes")
    scoring_script: str = Field(min_length=1)

    @field_validator("scoring_script")
    @classmethod
    def _relative(cls, value: str) -> str:
        if value.startswith("/") or ".." in value.replace("\\", "/").split("/"):
            raise ValueError("must be a path inside the code folder")
        return value


class EndpointDefaults(Schema):
    deployment_name: str | None = None


class InboxSettings(Schema):
    """Blob-drop scoring: files dropped under `path` of `datastore` become jobs on the endpoint, one job per
    burst (a burst ends after `debounce_seconds` without a new file)."""

    enabled: bool = True
    datastore: str = d.DEFAULT_DATASTORE
    path: str | None = Field(None, description=f"a folder in the datastore; default {d.DEFAULT_INBOX_PREFIX}<endpoint>/")
    debounce_seconds: int = Field(d.DEFAULT_INBOX_DEBOUNCE_SECONDS, ge=1, le=d.MAX_INBOX_DEBOUNCE_SECONDS,
                                  strict=True)
    deployment_name: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict, description="overrides of deployment settings")

    @field_validator("path")
    @classmethod
    def _folder(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip("/")
        if not value or ".." in value.split("/"):
            raise ValueError("must be a folder path inside the datastore")
        return value + "/"


class BatchEndpointSpec(Schema):
    """What a user sends to create or replace a batch endpoint."""

    name: str | None = None
    description: Description = ""
    tags: Tags = Field(default_factory=dict)
    auth_mode: Literal["key", "aad_token"] = d.DEFAULT_AUTH_MODE
    defaults: EndpointDefaults = Field(default_factory=EndpointDefaults)
    inbox: InboxSettings | None = None
    properties: dict[str, Any] = Field(default_factory=dict)


class BatchDeploymentSpec(Schema):
    """What a user sends to create or replace a batch deployment (`type: model`)."""

    name: str | None = None
    endpoint_name: str | None = None
    description: Description = ""
    tags: Tags = Field(default_factory=dict)
    type: Literal["model"] = "model"
    model: str = Field(min_length=1, description="azureml:<name>:<version> or <name>@latest")
    code_configuration: CodeConfiguration | None = None
    environment: str | dict[str, Any] | None = None
    compute: str = d.DEFAULT_COMPUTE
    resources: ResourceConfiguration = Field(default_factory=ResourceConfiguration)
    settings: BatchDeploymentSettings = Field(default_factory=BatchDeploymentSettings)
    properties: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _legacy_layout(cls, data: Any) -> Any:
        """Without `type`, Azure ML's older layout keeps the settings at the root: move them under it. Other
        deployment types are refused in one sentence, not with the fields they would need."""
        if isinstance(data, dict) and data.get("type") not in (None, "model"):
            raise ValidationFailed(f"Deployments of type '{data['type']}' are not supported: only model "
                                   "deployments (type: model) score here.", target="type")
        if isinstance(data, dict) and "type" not in data:
            moved = {k: data[k] for k in BatchDeploymentSettings.model_fields if k in data}
            if moved:
                data = {k: v for k, v in data.items() if k not in moved}
                data["settings"] = {**moved, **(data.get("settings") or {})}
        return data


class AccountKeyCredentials(Schema):
    account_key: str = Field(min_length=1)


class SasCredentials(Schema):
    sas_token: str = Field(min_length=1)


class ConnectionStringCredentials(Schema):
    connection_string: str = Field(min_length=1)


class DatastoreSpec(Schema):
    name: str | None = None
    type: Literal["azure_blob"] = "azure_blob"
    description: Description = ""
    tags: Tags = Field(default_factory=dict)
    account_name: str | None = None
    container_name: str = Field(min_length=3, max_length=63)
    endpoint: str = "core.windows.net"
    protocol: Literal["https", "http"] = "https"
    account_url: str | None = Field(None, description="overrides account_name/endpoint/protocol, e.g. for Azurite")
    credentials: AccountKeyCredentials | SasCredentials | ConnectionStringCredentials | None = None

    @model_validator(mode="after")
    def _locatable(self) -> "DatastoreSpec":
        if not (self.account_name or self.account_url or isinstance(self.credentials, ConnectionStringCredentials)):
            raise ValueError("give account_name, account_url, or credentials.connection_string")
        return self


class ModelSpec(Schema):
    name: str | None = None
    version: int | str | None = None
    type: Literal["mlflow_model", "custom_model"] | None = None
    description: Description = ""
    tags: Tags = Field(default_factory=dict)
    path: str | None = Field(None, description="azureml://datastores/<ds>/paths/<p> when not uploading")
    properties: dict[str, Any] = Field(default_factory=dict)


class DataAssetSpec(Schema):
    name: str | None = None
    version: int | str | None = None
    type: Literal["uri_file", "uri_folder"] = "uri_folder"
    description: Description = ""
    tags: Tags = Field(default_factory=dict)
    path: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)


def parse(schema: type[BaseModel], data: Any, prefix: str = ""):
    """Validate input into a schema; errors name the field (`settings.mini_batch_size`)."""
    if not isinstance(data, dict):
        raise ValidationFailed("The request body must be a JSON object.", target=prefix or "body")
    try:
        return schema.model_validate(data)
    except ValidationError as error:
        details = []
        for item in error.errors():
            location = ".".join(str(part) for part in _sent_path(data, item["loc"]))
            location = ".".join(filter(None, [prefix, location])) or "body"
            message = "unknown field" if item["type"] == "extra_forbidden" else item["msg"]
            details.append({"target": location, "message": message})
        first = details[0]
        summary = f"Invalid {first['target']}: {first['message']}"
        if len(details) > 1:
            summary += f" (and {len(details) - 1} more)"
        raise ValidationFailed(summary, target=first["target"], details=details) from None


def _sent_path(data: Any, location: tuple) -> list:
    """The error's location as the user wrote it: pydantic puts the name of a union's member (`cron`,
    `AccountKeyCredentials`) between a field and its own fields, which the body never held."""
    path, current = [], data
    for number, part in enumerate(location):
        last = number == len(location) - 1
        if isinstance(current, dict) and part not in current and not last:
            continue
        path.append(part)
        current = current.get(part) if isinstance(current, dict) else (
            current[part] if isinstance(current, list) and isinstance(part, int) and part < len(current) else None)
    return path
