"""What a user sends to start a batch scoring job: the input, the deployment, per-job overrides of the
deployment's settings and the output location; Azure ML's REST shape (`properties.InputData`) is accepted too."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from .resources import (
    Concurrency, Description, ErrorThreshold, FileName, InstanceCount, MaxRetries, MiniBatchSize, RetryTimeout, Schema,
    Tags,
)


class RetryOverride(Schema):
    max_retries: MaxRetries | None = None
    timeout: RetryTimeout | None = None


class SettingsOverride(Schema):
    """The deployment's settings a job may change, under the same bounds."""

    max_concurrency_per_instance: Concurrency | None = None
    mini_batch_size: MiniBatchSize | None = None
    output_action: Literal["append_row", "summary_only"] | None = None
    output_file_name: FileName | None = None
    retry_settings: RetryOverride | None = None
    error_threshold: ErrorThreshold | None = None
    logging_level: str | None = None
    environment_variables: dict[str, str] | None = None


class ResourcesOverride(Schema):
    instance_count: InstanceCount | None = None


class InputSpec(Schema):
    type: Literal["uri_file", "uri_folder"] | None = None
    path: str = Field(min_length=1)


class OutputSpec(Schema):
    path: str | None = Field(None, description="azureml://datastores/<ds>/paths/<folder>")
    file_name: FileName | None = None


class InvokeRequest(Schema):
    input: str | InputSpec
    input_type: Literal["uri_file", "uri_folder"] | None = None
    deployment_name: str | None = None
    job_name: str | None = None
    output: OutputSpec | None = None
    settings: SettingsOverride = Field(default_factory=SettingsOverride)
    resources: ResourcesOverride = Field(default_factory=ResourcesOverride)
    tags: Tags = Field(default_factory=dict)
    description: Description = ""

    @model_validator(mode="before")
    @classmethod
    def _azure_rest_shape(cls, data: Any) -> Any:
        """`{"properties": {"InputData": {"x": {"JobInputType": "UriFolder", "Uri": ...}}, "OutputData": ...}}`."""
        if not isinstance(data, dict) or "properties" not in data:
            return data
        properties = data.get("properties") or {}
        rest = {k: v for k, v in data.items() if k != "properties"}
        inputs = list((properties.get("InputData") or {}).values())
        if inputs and isinstance(inputs[0], dict):
            kind = str(inputs[0].get("JobInputType", "")).lower()
            rest["input"] = {"path": inputs[0].get("Uri"),
                             "type": {"urifile": "uri_file", "urifolder": "uri_folder"}.get(kind)}
        outputs = list((properties.get("OutputData") or {}).values())
        if outputs and isinstance(outputs[0], dict) and outputs[0].get("Uri"):
            uri = outputs[0]["Uri"]
            folder, _, file_name = uri.rpartition("/")
            rest["output"] = {"path": folder + "/", "file_name": file_name} if "." in file_name else {"path": uri}
        return rest

    def overrides(self) -> dict:
        """The settings this job changes, as a merge patch over the deployment's."""
        patch = self.settings.model_dump(exclude_none=True)
        if self.output and self.output.file_name:
            patch["output_file_name"] = self.output.file_name
        return patch
