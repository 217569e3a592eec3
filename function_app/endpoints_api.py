"""Batch endpoints and their deployments over HTTP."""
from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from registry.endpoints import deployment_view, endpoint_view
from registry.resources import BatchDeploymentSpec, BatchEndpointSpec
from registry.service import current_registry

from .build_starter import ensure_build
from .http_api import api, base_url, json_body, listing, no_content, preconditions, respond

bp = df.Blueprint()
CLIENT = (bp.durable_client_input(client_name="client"),)
APP_ENVIRONMENT = "The deployment scores in the app's own environment: nothing to build."


@api(bp, "batchEndpoints", ["GET"], "List batch endpoints", tag="batchEndpoints")
def list_endpoints(req: func.HttpRequest) -> func.HttpResponse:
    origin = base_url(req)
    return listing([endpoint_view(r, origin) for r in current_registry().endpoints.list_endpoints()])


@api(bp, "batchEndpoints/{name}", ["GET"], "Show a batch endpoint", tag="batchEndpoints")
def show_endpoint(req: func.HttpRequest) -> func.HttpResponse:
    record = current_registry().endpoints.get_endpoint(req.route_params["name"])
    return respond(endpoint_view(record, base_url(req)), record=record)


@api(bp, "batchEndpoints/{name}", ["PUT"], "Create a batch endpoint, or replace it (If-Match: ETag guards the "
     "replace; If-None-Match: * refuses an existing one)", request_schema=BatchEndpointSpec, tag="batchEndpoints")
def put_endpoint(req: func.HttpRequest) -> func.HttpResponse:
    endpoints, conditions = current_registry().endpoints, preconditions(req)
    name, body = req.route_params["name"], json_body(req)
    record, created = conditions.put(lambda: endpoints.create_endpoint(name, body),
                                     lambda: endpoints.replace_endpoint(name, body, conditions.if_match))
    return respond(endpoint_view(record, base_url(req)), 201 if created else 200, record)


@api(bp, "batchEndpoints/{name}", ["PATCH"], "Update fields of a batch endpoint (JSON merge patch), e.g. "
     "{\"defaults\": {\"deployment_name\": \"blue\"}} to change the default deployment", tag="batchEndpoints")
def patch_endpoint(req: func.HttpRequest) -> func.HttpResponse:
    endpoints, conditions, body = current_registry().endpoints, preconditions(req), json_body(req)
    record = conditions.on_existing(lambda: endpoints.patch_endpoint(req.route_params["name"], body,
                                                                     conditions.if_match))
    return respond(endpoint_view(record, base_url(req)), record=record)


@api(bp, "batchEndpoints/{name}", ["DELETE"], "Delete a batch endpoint and all its deployments (its jobs stay)",
     success_status=204, tag="batchEndpoints")
def delete_endpoint(req: func.HttpRequest) -> func.HttpResponse:
    endpoints, conditions = current_registry().endpoints, preconditions(req)
    conditions.on_existing(lambda: endpoints.delete_endpoint(req.route_params["name"], conditions.if_match))
    return no_content()


@api(bp, "batchEndpoints/{name}/deployments", ["GET"], "List an endpoint's deployments", tag="deployments")
def list_deployments(req: func.HttpRequest) -> func.HttpResponse:
    registry = current_registry()
    records = registry.endpoints.list_deployments(req.route_params["name"])
    return listing([deployment_view(r, registry.builds) for r in records])


@api(bp, "batchEndpoints/{name}/deployments/{deployment}", ["GET"], "Show a deployment", tag="deployments")
def show_deployment(req: func.HttpRequest) -> func.HttpResponse:
    registry = current_registry()
    record = registry.endpoints.get_deployment(req.route_params["name"], req.route_params["deployment"])
    return respond(deployment_view(record, registry.builds), record=record)


@api(bp, "batchEndpoints/{name}/deployments/{deployment}/environment", ["GET"], "What a deployment scores in: "
     "its environment's spec, build state, interpreter and build log", tag="deployments")
def show_deployment_environment(req: func.HttpRequest) -> func.HttpResponse:
    registry = current_registry()
    deployment = registry.endpoints.get_deployment(req.route_params["name"], req.route_params["deployment"]).body
    key = deployment.get("environment_key")  # deployments made before environments were built have none
    if not key:
        return respond({"key": None, "state": "Succeeded", "spec": None, "python": None, "log": APP_ENVIRONMENT})
    build = registry.builds.get(key).body
    return respond({"key": key, "state": build["state"], "spec": build["spec"], "python": build["python"],
                    "log": build["log"], "requested_at": build["requested_at"], "ended_at": build["ended_at"]})


@api(bp, "batchEndpoints/{name}/deployments/{deployment}", ["PUT"], "Create a deployment (the endpoint's first "
     "becomes its default), or replace it; its environment builds meanwhile (provisioning_state Creating)",
     request_schema=BatchDeploymentSpec, tag="deployments", extra_bindings=CLIENT)
async def put_deployment(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    registry = current_registry()
    endpoints, conditions = registry.endpoints, preconditions(req)
    endpoint, name, body = req.route_params["name"], req.route_params["deployment"], json_body(req)
    record, created = conditions.put(lambda: endpoints.create_deployment(endpoint, name, body),
                                     lambda: endpoints.replace_deployment(endpoint, name, body, conditions.if_match))
    await ensure_build(client, registry, record.body)
    return respond(deployment_view(record, registry.builds), 201 if created else 200, record)


@api(bp, "batchEndpoints/{name}/deployments/{deployment}", ["PATCH"], "Update fields of a deployment (JSON "
     "merge patch), e.g. {\"settings\": {\"mini_batch_size\": 5}}", tag="deployments", extra_bindings=CLIENT)
async def patch_deployment(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    registry = current_registry()
    conditions, body = preconditions(req), json_body(req)
    record = conditions.on_existing(lambda: registry.endpoints.patch_deployment(
        req.route_params["name"], req.route_params["deployment"], body, conditions.if_match))
    await ensure_build(client, registry, record.body)
    return respond(deployment_view(record, registry.builds), record=record)


@api(bp, "batchEndpoints/{name}/deployments/{deployment}", ["DELETE"], "Delete a deployment (not the default "
     "while others exist)", success_status=204, tag="deployments")
def delete_deployment(req: func.HttpRequest) -> func.HttpResponse:
    endpoints, conditions = current_registry().endpoints, preconditions(req)
    conditions.on_existing(lambda: endpoints.delete_deployment(req.route_params["name"],
                                                               req.route_params["deployment"], conditions.if_match))
    return no_content()
