"""Models, datastores, data assets and code assets over HTTP."""
from __future__ import annotations

import azure.functions as func

from registry.datastores import datastore_view
from registry.environments import EnvironmentSpec
from registry.resources import DataAssetSpec, DatastoreSpec, ModelSpec
from registry.service import current_registry

from .http_api import (
    api, is_json, json_body, listing, no_content, preconditions, respond, upload, upload_fields,
)

bp = func.Blueprint()
UPLOAD_FIELDS = ("type", "version", "description", "tags")


# -- models ----------------------------------------------------------------------------------------
@api(bp, "models", ["GET"], "List registered models (latest version of each)", tag="models")
def list_models(req: func.HttpRequest) -> func.HttpResponse:
    return listing([r.body for r in current_registry().models.list_latest()])


@api(bp, "models/{name}/versions", ["GET"], "List a model's versions, newest first", tag="models")
def list_model_versions(req: func.HttpRequest) -> func.HttpResponse:
    return listing([r.body for r in current_registry().models.list_versions(req.route_params["name"])])


@api(bp, "models/{name}/versions", ["POST"], "Register a new model version from an upload (MLflow folder as "
     ".zip, or one .onnx file; ?filename=) or from a datastore path (JSON body)", request_schema=ModelSpec,
     upload=True, success_status=201, tag="models")
def register_model(req: func.HttpRequest) -> func.HttpResponse:
    models = current_registry().models
    name = req.route_params["name"]
    if is_json(req):
        record = models.register_from_path(name, json_body(req))
    else:
        record = models.register_upload(name, *upload(req),
                                        upload_fields(req, UPLOAD_FIELDS))
    return respond(record.body, 201, record)


@api(bp, "models/{name}/versions/{version}", ["GET"], "Show a model version ('latest' for the newest)",
     tag="models")
def show_model(req: func.HttpRequest) -> func.HttpResponse:
    record = current_registry().models.get(req.route_params["name"], req.route_params["version"])
    return respond(record.body, record=record)


@api(bp, "models/{name}/versions/{version}", ["DELETE"], "Delete a model version no deployment uses",
     success_status=204, tag="models")
def delete_model(req: func.HttpRequest) -> func.HttpResponse:
    registry = current_registry()
    registry.models.delete(req.route_params["name"], req.route_params["version"],
                            registry.endpoints.deployments_using_model)
    return no_content()


# -- datastores ------------------------------------------------------------------------------------
@api(bp, "datastores", ["GET"], "List datastores (credentials are never shown)", tag="datastores")
def list_datastores(req: func.HttpRequest) -> func.HttpResponse:
    return listing([datastore_view(r) for r in current_registry().datastores.list()])


@api(bp, "datastores/{name}", ["GET"], "Show a datastore", tag="datastores")
def show_datastore(req: func.HttpRequest) -> func.HttpResponse:
    record = current_registry().datastores.get(req.route_params["name"])
    return respond(datastore_view(record), record=record)


@api(bp, "datastores/{name}/paths", ["GET"], "Browse a datastore: the folders and files right under ?prefix= "
     "(a folder path ending in '/'; ?next= continues a long folder), each with its azureml:// URI", tag="datastores")
def browse_datastore(req: func.HttpRequest) -> func.HttpResponse:
    return respond(current_registry().datastores.browse(req.route_params["name"], req.params.get("prefix") or "",
                                                        req.params.get("next")))


@api(bp, "datastores/{name}", ["PUT"], "Create or replace an Azure Blob datastore (If-Match: ETag guards the replace)", request_schema=DatastoreSpec,
     tag="datastores")
def put_datastore(req: func.HttpRequest) -> func.HttpResponse:
    record = current_registry().datastores.create_or_update(req.route_params["name"], json_body(req),
                                                            preconditions(req))
    return respond(datastore_view(record), record=record)


@api(bp, "datastores/{name}", ["DELETE"], "Delete a datastore", success_status=204, tag="datastores")
def delete_datastore(req: func.HttpRequest) -> func.HttpResponse:
    datastores, conditions = current_registry().datastores, preconditions(req)
    conditions.on_existing(lambda: datastores.delete(req.route_params["name"], conditions.if_match))
    return no_content()


# -- data assets -----------------------------------------------------------------------------------
@api(bp, "data", ["GET"], "List data assets (latest version of each)", tag="data")
def list_data(req: func.HttpRequest) -> func.HttpResponse:
    return listing([r.body for r in current_registry().data.list_latest()])


@api(bp, "data/{name}/versions", ["GET"], "List a data asset's versions, newest first", tag="data")
def list_data_versions(req: func.HttpRequest) -> func.HttpResponse:
    return listing([r.body for r in current_registry().data.list_versions(req.route_params["name"])])


@api(bp, "data/{name}/versions", ["POST"], "Create a data asset version: a path (JSON body) or uploaded files "
     "(one file for uri_file, a .zip for uri_folder; ?filename=&type=)", request_schema=DataAssetSpec,
     upload=True, success_status=201, tag="data")
def create_data(req: func.HttpRequest) -> func.HttpResponse:
    data = current_registry().data
    name = req.route_params["name"]
    if is_json(req):
        record = data.create(name, json_body(req))
    else:
        record = data.create_from_upload(name, *upload(req),
                                         upload_fields(req, UPLOAD_FIELDS))
    return respond(record.body, 201, record)


@api(bp, "data/{name}/versions/{version}", ["GET"], "Show a data asset version ('latest' for the newest)",
     tag="data")
def show_data(req: func.HttpRequest) -> func.HttpResponse:
    record = current_registry().data.get(req.route_params["name"], req.route_params["version"])
    return respond(record.body, record=record)


@api(bp, "data/{name}/versions/{version}", ["DELETE"], "Delete a data asset version", success_status=204,
     tag="data")
def delete_data(req: func.HttpRequest) -> func.HttpResponse:
    current_registry().data.delete(req.route_params["name"], req.route_params["version"])
    return no_content()


# -- environments ----------------------------------------------------------------------------------
@api(bp, "environments", ["GET"], "List environments (latest version of each)", tag="environments")
def list_environments(req: func.HttpRequest) -> func.HttpResponse:
    return listing([r.body for r in current_registry().environments.list_latest()])


@api(bp, "environments/{name}/versions", ["GET"], "List an environment's versions, newest first",
     tag="environments")
def list_environment_versions(req: func.HttpRequest) -> func.HttpResponse:
    return listing([r.body for r in current_registry().environments.list_versions(req.route_params["name"])])


@api(bp, "environments/{name}/versions", ["POST"], "Create an environment version: conda_file (a conda "
     "environment) and image (kept, not run)", request_schema=EnvironmentSpec, success_status=201,
     tag="environments")
def create_environment(req: func.HttpRequest) -> func.HttpResponse:
    record = current_registry().environments.create(req.route_params["name"], json_body(req))
    return respond(record.body, 201, record)


@api(bp, "environments/{name}/versions/{version}", ["GET"], "Show an environment version ('latest' for the "
     "newest)", tag="environments")
def show_environment(req: func.HttpRequest) -> func.HttpResponse:
    record = current_registry().environments.get(req.route_params["name"], req.route_params["version"])
    return respond(record.body, record=record)


@api(bp, "environments/{name}/versions/{version}", ["DELETE"], "Delete an environment version",
     success_status=204, tag="environments")
def delete_environment(req: func.HttpRequest) -> func.HttpResponse:
    current_registry().environments.delete(req.route_params["name"], req.route_params["version"])
    return no_content()


# -- code assets -----------------------------------------------------------------------------------
@api(bp, "codes", ["POST"], "Upload a code folder (.zip) or one scoring script (.py), named by ?filename=, for "
     "deployments' code_configuration.code",
     upload=True, success_status=201, tag="codes")
def upload_code(req: func.HttpRequest) -> func.HttpResponse:
    record = current_registry().codes.upload(*upload(req))
    return respond(record.body, 201, record)


@api(bp, "codes/{name}", ["GET"], "Show a code asset and its files", tag="codes")
def show_code(req: func.HttpRequest) -> func.HttpResponse:
    return respond(current_registry().codes.show(req.route_params["name"]))
