"""`mlbatch endpoint create|update|show|list|delete`."""
from __future__ import annotations

from ..client import ApiClient, UsageError
from ..specs import load_spec
from .arguments import add_file, add_name, add_yes, command, confirm
from .jobs import register_invoke
from .schedules import register_inbox

COLUMNS = ("name", "defaults.deployment_name", "provisioning_state", "scoring_uri", "created_at")


def register(groups) -> None:
    group = groups.add_parser("endpoint", help="batch endpoints").add_subparsers(dest="verb", required=True)
    create = command(group, "create", create_endpoint, "Create a batch endpoint (batchEndpoint YAML)", COLUMNS)
    add_file(create, "batch endpoint")
    add_name(create, False, "endpoint")
    update = command(group, "update", update_endpoint, "Update a batch endpoint, e.g. --set "
                     "defaults.deployment_name=blue to change its default deployment", COLUMNS)
    add_file(update, "batch endpoint")
    add_name(update, False, "endpoint")
    command(group, "list", list_endpoints, "List batch endpoints", COLUMNS)
    show = command(group, "show", show_endpoint, "Show a batch endpoint", COLUMNS)
    add_name(show, True, "endpoint")
    delete = command(group, "delete", delete_endpoint, "Delete a batch endpoint and all its deployments",
                     COLUMNS)
    add_name(delete, True, "endpoint")
    add_yes(delete)
    register_invoke(group)
    register_inbox(group)


def _named(args) -> tuple[str, dict]:
    spec = load_spec(args.file, args.set, name=args.name)
    name = spec.body.get("name")
    if not name:
        raise UsageError("give the endpoint's name (in the YAML file or with --name).")
    return name, spec.body


def create_endpoint(args, client: ApiClient) -> dict:
    name, body = _named(args)
    return client.call("PUT", f"batchEndpoints/{name}", json=body, headers={"If-None-Match": "*"}).body


def update_endpoint(args, client: ApiClient) -> dict:
    name, body = _named(args)
    if set(body) <= {"name"}:
        raise UsageError("nothing to update: give --file or --set.")
    return client.call("PATCH", f"batchEndpoints/{name}", json=body).body


def list_endpoints(args, client: ApiClient) -> list:
    return client.get("batchEndpoints")["value"]


def show_endpoint(args, client: ApiClient) -> dict:
    return client.get(f"batchEndpoints/{args.name}")


def delete_endpoint(args, client: ApiClient) -> None:
    deployments = client.get(f"batchEndpoints/{args.name}/deployments")["value"]
    if not args.yes:
        names = ", ".join(d["name"] for d in deployments) or "none"
        confirm(f"Delete endpoint '{args.name}' and its deployments ({names})?")
    client.call("DELETE", f"batchEndpoints/{args.name}")
