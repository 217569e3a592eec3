"""Batch endpoints and their deployments: create, update, default deployment, delete (with cascade).

Records live in two tables: `BatchEndpoints` (one partition) and `BatchDeployments` (partitioned by
endpoint). Every read-modify-write goes through the record's ETag, so two racing updates never silently
lose one: the loser either retries on fresh data (server-side merges) or gets 412 (client If-Match).
"""
from __future__ import annotations

from typing import Any, Callable

from . import defaults as d
from .clock import now_iso
from .environment_specs import ResolvedEnvironment, from_conda, from_mlflow_files, with_runtime
from .errors import AlreadyExists, Conflict, ReferenceNotFound, ValidationFailed
from .names import check_endpoint_name
from .optimistic import check_if_match, update_with_retries
from .resources import BatchDeploymentSpec, BatchEndpointSpec, parse
from .storage import Record, WorkspaceStorage

ENDPOINTS_PARTITION = "endpoint"


def merge_patch(target: dict, patch: dict) -> dict:
    """JSON merge patch (RFC 7396): objects merge, null deletes, everything else replaces."""
    result = dict(target)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge_patch(result[key], value)
        else:
            result[key] = value
    return result


class EndpointService:
    def __init__(self, storage: WorkspaceStorage, models, codes, environments):
        self.endpoints = storage.table("BatchEndpoints")
        self.deployments = storage.table("BatchDeployments")
        self.models = models
        self.codes = codes
        self.environments = environments

    # -- endpoints ----------------------------------------------------------------------------------
    def create_endpoint(self, name: str, body: dict) -> Record:
        check_endpoint_name(name)
        if self.endpoints.find(ENDPOINTS_PARTITION, name) is not None:
            raise AlreadyExists(f"Batch endpoint '{name}' already exists.", target="name")
        spec = self._endpoint_spec(name, body)
        if spec.defaults.deployment_name:
            raise ValidationFailed(
                f"Endpoint '{name}' has no deployments yet, so defaults.deployment_name cannot be set; the first "
                "deployment becomes the default.", target="defaults.deployment_name")
        now = now_iso()
        stored = {**spec.model_dump(), "name": name, "provisioning_state": "Succeeded",
                  "created_at": now, "modified_at": now}
        return self.endpoints.create(ENDPOINTS_PARTITION, name, stored, "Batch endpoint", name)

    def get_endpoint(self, name: str) -> Record:
        return self.endpoints.get(ENDPOINTS_PARTITION, name, "Batch endpoint", name)

    def list_endpoints(self) -> list[Record]:
        return sorted(self.endpoints.list(ENDPOINTS_PARTITION), key=lambda r: r.body["name"])

    def replace_endpoint(self, name: str, body: dict, if_match: str | None) -> Record:
        spec = self._endpoint_spec(name, body)
        return self._update_endpoint(name, lambda current: {**current, **spec.model_dump(), "name": name},
                                     if_match)

    def patch_endpoint(self, name: str, patch: dict, if_match: str | None) -> Record:
        if not isinstance(patch, dict):
            raise ValidationFailed("The request body must be a JSON object.", target="body")

        def apply(current: dict) -> dict:
            editable = {k: v for k, v in current.items() if k in BatchEndpointSpec.model_fields}
            merged = merge_patch(editable, patch)
            spec = self._endpoint_spec(name, merged)
            return {**current, **spec.model_dump(), "name": name}

        return self._update_endpoint(name, apply, if_match)

    def delete_endpoint(self, name: str, if_match: str | None = None) -> None:
        record = self.get_endpoint(name)
        check_if_match(record.etag, if_match, f"Batch endpoint '{name}'")
        for deployment in list(self.deployments.list(name)):
            self._remove_deployment(name, deployment)
        self.endpoints.delete(ENDPOINTS_PARTITION, name, record.etag)

    def _update_endpoint(self, name: str, change: Callable[[dict], dict], if_match: str | None) -> Record:
        what = f"Batch endpoint '{name}'"

        def attempt() -> Record:
            record = self.get_endpoint(name)
            check_if_match(record.etag, if_match, what)
            updated = change(record.body)
            self._check_default(name, updated.get("defaults", {}).get("deployment_name"),
                                record.body.get("defaults", {}).get("deployment_name"))
            updated["modified_at"] = now_iso()
            return self.endpoints.replace(ENDPOINTS_PARTITION, name, updated, record.etag, "Batch endpoint", name)

        return update_with_retries(attempt, if_match, what)

    def _check_default(self, endpoint: str, wanted: str | None, current: str | None) -> None:
        if wanted == current:
            return
        if wanted is None:
            if self.deployments.find(endpoint, current or "") is not None:
                raise ValidationFailed(
                    f"Endpoint '{endpoint}' has deployments, so it needs a default: set defaults.deployment_name "
                    "to one of them.", target="defaults.deployment_name")
            return
        if self.deployments.find(endpoint, wanted) is None:
            raise ValidationFailed(
                f"Deployment '{wanted}' does not exist in endpoint '{endpoint}'; create it first, or name one of: "
                f"{', '.join(r.body['name'] for r in self.deployments.list(endpoint)) or 'none'}.",
                target="defaults.deployment_name")

    @staticmethod
    def _endpoint_spec(name: str, body: dict) -> BatchEndpointSpec:
        check_endpoint_name(name)
        spec = parse(BatchEndpointSpec, body)
        if spec.name not in (None, name):
            raise ValidationFailed(f"The body names endpoint '{spec.name}' but the URL names '{name}'.",
                                   target="name")
        return spec

    # -- deployments --------------------------------------------------------------------------------
    def create_deployment(self, endpoint: str, name: str, body: dict) -> Record:
        endpoint_record = self.get_endpoint(endpoint)
        check_endpoint_name(name)
        if self.deployments.find(endpoint, name) is not None:
            raise AlreadyExists(f"Deployment '{name}' already exists in endpoint '{endpoint}'.", target="name")
        stored = self._deployment_body(endpoint, name, body)
        existing = list(self.deployments.list(endpoint))
        if len(existing) >= d.MAX_DEPLOYMENTS_PER_ENDPOINT:
            raise Conflict(f"Endpoint '{endpoint}' already has {d.MAX_DEPLOYMENTS_PER_ENDPOINT} deployments, "
                           "the most an endpoint may have.", target="name")
        now = now_iso()
        stored.update(created_at=now, modified_at=now)
        record = self.deployments.create(endpoint, name, stored, "Deployment", name, Model=stored["model"])
        if not endpoint_record.body.get("defaults", {}).get("deployment_name"):
            self._make_first_default(endpoint, name)
        return record

    def _make_first_default(self, endpoint: str, name: str) -> None:
        """The first deployment of an endpoint becomes its default; a racing first deployment loses quietly."""
        def change(current: dict) -> dict:
            if current.get("defaults", {}).get("deployment_name"):
                return current
            return {**current, "defaults": {**current.get("defaults", {}), "deployment_name": name}}

        self._update_endpoint(endpoint, change, None)

    def get_deployment(self, endpoint: str, name: str) -> Record:
        self.get_endpoint(endpoint)
        return self.deployments.get(endpoint, name, "Deployment", f"{endpoint}/{name}")

    def list_deployments(self, endpoint: str) -> list[Record]:
        self.get_endpoint(endpoint)
        return sorted(self.deployments.list(endpoint), key=lambda r: r.body["name"])

    def replace_deployment(self, endpoint: str, name: str, body: dict, if_match: str | None) -> Record:
        return self._update_deployment(endpoint, name, lambda current: body, if_match)

    def patch_deployment(self, endpoint: str, name: str, patch: dict, if_match: str | None) -> Record:
        if not isinstance(patch, dict):
            raise ValidationFailed("The request body must be a JSON object.", target="body")

        def apply(current: dict) -> dict:
            editable = {k: v for k, v in current.items() if k in BatchDeploymentSpec.model_fields}
            return merge_patch(editable, patch)

        return self._update_deployment(endpoint, name, apply, if_match)

    def _update_deployment(self, endpoint: str, name: str, change: Callable[[dict], dict],
                           if_match: str | None) -> Record:
        what = f"Deployment '{name}'"

        def attempt() -> tuple[Record, Record]:
            record = self.get_deployment(endpoint, name)
            check_if_match(record.etag, if_match, what)
            stored = self._deployment_body(endpoint, name, change(record.body))
            stored.update(created_at=record.body["created_at"], modified_at=now_iso())
            return record, self.deployments.replace(endpoint, name, stored, record.etag, "Deployment", name,
                                                    Model=stored["model"])

        previous, updated = update_with_retries(attempt, if_match, what)
        old_code = (previous.body.get("code_configuration") or {}).get("code")
        if old_code and old_code != (updated.body.get("code_configuration") or {}).get("code"):
            self.codes.delete_if_unused(old_code, self.all_deployments())
        return updated

    def delete_deployment(self, endpoint: str, name: str, if_match: str | None = None) -> None:
        record = self.get_deployment(endpoint, name)
        check_if_match(record.etag, if_match, f"Deployment '{name}'")
        endpoint_record = self.get_endpoint(endpoint)
        default = endpoint_record.body.get("defaults", {}).get("deployment_name")
        others = [r for r in self.deployments.list(endpoint) if r.body["name"] != name]
        if default == name and others:
            raise Conflict(
                f"Deployment '{name}' is the default of endpoint '{endpoint}' and cannot be deleted while the "
                f"endpoint has other deployments ({', '.join(r.body['name'] for r in others)}). Make another one "
                "the default first (defaults.deployment_name).", target="name")
        self._remove_deployment(endpoint, record)
        if default == name:
            self._update_endpoint(endpoint, lambda current: {**current, "defaults": {"deployment_name": None}}, None)

    def _remove_deployment(self, endpoint: str, record: Record) -> None:
        self.deployments.delete(endpoint, record.body["name"])
        code = (record.body.get("code_configuration") or {}).get("code")
        if code:
            self.codes.delete_if_unused(code, self.all_deployments())

    def all_deployments(self) -> list[dict]:
        return [r.body for r in self.deployments.list()]

    def _deployment_body(self, endpoint: str, name: str, body: dict) -> dict:
        check_endpoint_name(name)
        if not isinstance(body, dict):
            raise ValidationFailed("The request body must be a JSON object.", target="body")
        spec = parse(BatchDeploymentSpec, body)
        if spec.name not in (None, name):
            raise ValidationFailed(f"The body names deployment '{spec.name}' but the URL names '{name}'.",
                                   target="name")
        if spec.endpoint_name not in (None, endpoint):
            raise ValidationFailed(f"The body names endpoint '{spec.endpoint_name}' but the URL names '{endpoint}'.",
                                   target="endpoint_name")
        model = self.models.resolve(spec.model, field="model")
        if spec.code_configuration is None and not model["scorable_without_code"]:
            raise ValidationFailed(
                f"Model '{model['name']}:{model['version']}' is a {model['format']} model without a python_function "
                "flavor or ONNX graph: a deployment of it needs code_configuration (code + scoring_script).",
                target="code_configuration")
        stored = spec.model_dump()
        stored.update(name=name, endpoint_name=endpoint, model=f"azureml:{model['name']}:{model['version']}",
                      provisioning_state="Succeeded")
        if spec.code_configuration is not None:
            code = self.codes.get(spec.code_configuration.code, field="code_configuration.code")
            if spec.code_configuration.scoring_script not in code["files"]:
                raise ReferenceNotFound(
                    f"The scoring script '{spec.code_configuration.scoring_script}' is not in code asset "
                    f"'{code['id']}' (files: {', '.join(code['files'][:20])}).",
                    target="code_configuration.scoring_script")
            stored["code_configuration"]["code"] = code["id"]
        environment = self._environment(spec, model)
        stored["environment_spec"] = environment.to_json() if environment else None
        stored["environment_key"] = environment.key if environment else None
        return stored

    def _environment(self, spec: BatchDeploymentSpec, model: dict) -> ResolvedEnvironment | None:
        """What the deployment scores in: its environment's conda file; else an MLflow model's own files
        (scored without code); else None, the app's own environment."""
        scorer = "custom" if spec.code_configuration else ("onnx" if model["format"] == "onnx" else "mlflow")
        if spec.environment is not None:
            given = self.environments.resolve(spec.environment)
            if given["conda_file"] is None:
                return None  # an image alone: kept and shown, and the app's environment scores
            source = f"environment {given['id']}" if given["id"] else "the deployment's inline environment"
            python, requirements = from_conda(given["conda_file"], source)
            return with_runtime(python, requirements, source, scorer)
        if scorer != "mlflow":
            return None
        found = from_mlflow_files(self.models.environment_files(model))
        return with_runtime(*found, scorer) if found else None

    def deployments_using_model(self, model_id: str) -> list[str]:
        return [f"{b['endpoint_name']}/{b['name']}" for b in self.all_deployments() if b.get("model") == model_id]


def endpoint_view(record: Record, base_url: str) -> dict[str, Any]:
    body = dict(record.body)
    body["scoring_uri"] = f"{base_url}/api/batchEndpoints/{body['name']}/jobs"
    body["openapi_uri"] = f"{base_url}/api/openapi.json"
    return body


def deployment_view(record: Record, builds) -> dict[str, Any]:
    """The deployment with its provisioning state: Creating while its environment builds, then Succeeded or
    Failed as the build ended."""
    body = dict(record.body)
    key = body.get("environment_key")  # deployments made before environments were built have none
    if key:
        state = builds.state_of(key)
        body["provisioning_state"] = {"Building": "Creating"}.get(state.value, state.value)
    return body
