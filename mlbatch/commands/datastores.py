"""`mlbatch datastore create|list|show|delete`."""
from __future__ import annotations

from ..client import ApiClient, UsageError
from ..specs import load_spec
from .arguments import add_file, add_name, command

COLUMNS = ("name", "type", "account_name", "container_name", "credentials.type", "description")


def register(groups) -> None:
    group = groups.add_parser("datastore", help="register Azure Blob containers as datastores").add_subparsers(
        dest="verb", required=True)
    create = command(group, "create", create_datastore, "Create or update a datastore (azureBlob YAML)", COLUMNS)
    add_file(create, "datastore")
    add_name(create, False, "datastore")
    command(group, "list", list_datastores, "List datastores (secrets are never shown)", COLUMNS)
    show = command(group, "show", show_datastore, "Show a datastore", COLUMNS)
    add_name(show, True, "datastore")
    delete = command(group, "delete", delete_datastore, "Delete a datastore (its data stays)", COLUMNS)
    add_name(delete, True, "datastore")


def create_datastore(args, client: ApiClient) -> dict:
    spec = load_spec(args.file, args.set, name=args.name)
    name = spec.body.get("name")
    if not name:
        raise UsageError("give the datastore's name (in the YAML file or with --name).")
    return client.call("PUT", f"datastores/{name}", json=spec.body).body


def list_datastores(args, client: ApiClient) -> list:
    return client.get("datastores")["value"]


def show_datastore(args, client: ApiClient) -> dict:
    return client.get(f"datastores/{args.name}")


def delete_datastore(args, client: ApiClient) -> None:
    client.call("DELETE", f"datastores/{args.name}")
