"""`mlbatch deployment create|update|show|list|delete`: modelBatchDeployment YAML, with a local model or code
folder uploaded first and `azureml:` refs resolved by the registry."""
from __future__ import annotations

from ..archives import zip_folder
from ..client import ApiClient, UsageError
from ..specs import Spec, is_local, load_spec, local_path
from .arguments import add_file, add_name, add_yes, command, confirm
from .environments import inline_conda_file
from .models import register_model

COLUMNS = ("name", "endpoint_name", "model", "resources.instance_count", "settings.mini_batch_size",
           "provisioning_state")
LIST_COLUMNS = ("name", "is_default", *COLUMNS[1:])


def register(groups) -> None:
    group = groups.add_parser("deployment", help="deployments of a batch endpoint").add_subparsers(
        dest="verb", required=True)
    create = command(group, "create", create_deployment, "Create a deployment (modelBatchDeployment YAML)",
                     COLUMNS)
    _target(create, required=False)
    add_file(create, "batch deployment")
    create.add_argument("--set-default", action="store_true", help="make it the endpoint's default deployment")
    update = command(group, "update", update_deployment, "Update a deployment", COLUMNS)
    _target(update, required=False)
    add_file(update, "batch deployment")
    listing = command(group, "list", list_deployments, "List an endpoint's deployments, the default marked",
                      LIST_COLUMNS)
    listing.add_argument("-e", "--endpoint-name", required=True)
    show = command(group, "show", show_deployment, "Show a deployment", COLUMNS)
    _target(show, required=True)
    delete = command(group, "delete", delete_deployment, "Delete a deployment (not the default while others "
                     "exist)", COLUMNS)
    _target(delete, required=True)
    add_yes(delete)
    build_log = command(group, "build-log", deployment_build_log, "Show what a deployment scores in: its "
                        "environment's build state and log", ("key", "state", "python"))
    _target(build_log, required=True)


def _target(parser, required: bool) -> None:
    add_name(parser, required, "deployment")
    parser.add_argument("-e", "--endpoint-name", required=required, help="the batch endpoint's name")


def _prepared(args, client: ApiClient) -> tuple[str, str, dict]:
    spec = load_spec(args.file, args.set, name=args.name, endpoint_name=args.endpoint_name)
    name, endpoint = spec.body.get("name"), spec.body.get("endpoint_name")
    if not name or not endpoint:
        raise UsageError("give the deployment's name and endpoint_name (in the YAML file or with "
                         "--name/--endpoint-name).")
    return endpoint, name, resolve_local_files(spec, client)


def resolve_local_files(spec: Spec, client: ApiClient) -> dict:
    """An inline model is registered and a local code folder uploaded, as `az ml` does, so the API only sees
    references."""
    body = dict(spec.body)
    model = body.get("model")
    if isinstance(model, dict):
        registered = register_model(client, Spec(dict(model), spec.base), "model")
        body["model"] = registered["id"]
    code_configuration = body.get("code_configuration")
    if isinstance(code_configuration, dict) and isinstance(code_configuration.get("code"), str) \
            and is_local(code_configuration["code"]):
        folder = local_path(spec, code_configuration["code"], "code_configuration.code")
        if not folder.is_dir():
            raise UsageError("code_configuration.code must be a folder.")
        uploaded = client.call("POST", "codes", data=zip_folder(folder), params={"filename": f"{folder.name}.zip"},
                               headers={"Content-Type": "application/zip"}).body
        body["code_configuration"] = {**code_configuration, "code": uploaded["id"]}
    if isinstance(body.get("environment"), dict):
        body["environment"] = inline_conda_file(spec, body["environment"], "environment")
    return body


def create_deployment(args, client: ApiClient) -> dict:
    endpoint, name, body = _prepared(args, client)
    created = client.call("PUT", f"batchEndpoints/{endpoint}/deployments/{name}", json=body,
                          headers={"If-None-Match": "*"}).body
    if args.set_default:
        client.call("PATCH", f"batchEndpoints/{endpoint}", json={"defaults": {"deployment_name": name}})
        created = client.get(f"batchEndpoints/{endpoint}/deployments/{name}")
    return created


def update_deployment(args, client: ApiClient) -> dict:
    endpoint, name, body = _prepared(args, client)
    if set(body) <= {"name", "endpoint_name"}:
        raise UsageError("nothing to update: give --file or --set.")
    return client.call("PATCH", f"batchEndpoints/{endpoint}/deployments/{name}", json=body).body


def list_deployments(args, client: ApiClient) -> list:
    """Each deployment with `is_default`, which the endpoint's `defaults.deployment_name` says."""
    default = (client.get(f"batchEndpoints/{args.endpoint_name}").get("defaults") or {}).get("deployment_name")
    return [{**deployment, "is_default": deployment["name"] == default}
            for deployment in client.get(f"batchEndpoints/{args.endpoint_name}/deployments")["value"]]


def show_deployment(args, client: ApiClient) -> dict:
    return client.get(f"batchEndpoints/{args.endpoint_name}/deployments/{args.name}")


def deployment_build_log(args, client: ApiClient) -> dict:
    return client.get(f"batchEndpoints/{args.endpoint_name}/deployments/{args.name}/environment")


def delete_deployment(args, client: ApiClient) -> None:
    if not args.yes:
        confirm(f"Delete deployment '{args.name}' of endpoint '{args.endpoint_name}'?")
    client.call("DELETE", f"batchEndpoints/{args.endpoint_name}/deployments/{args.name}")
