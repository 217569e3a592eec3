"""`mlbatch data create|list|show|delete`."""
from __future__ import annotations

from ..archives import zip_file, zip_folder
from ..client import ApiClient, UsageError
from ..specs import is_local, load_spec, local_path
from .arguments import add_asset_create, add_name, add_version_or_label, command

COLUMNS = ("name", "version", "type", "path", "created_at")
UPLOAD_FIELDS = ("type", "version", "description")


def register(groups) -> None:
    group = groups.add_parser("data", help="versioned data assets (uri_file, uri_folder)").add_subparsers(
        dest="verb", required=True)
    create = command(group, "create", create_data, "Create a data asset version from local files (uploaded) or "
                     "a datastore path or URL", COLUMNS)
    add_asset_create(create, "data asset", "a local file or folder, azureml://datastores/<ds>/paths/<p>, or a URL",
                     ("uri_file", "uri_folder"))
    listing = command(group, "list", list_data, "List data assets (latest versions), or one asset's versions",
                      COLUMNS)
    add_name(listing, False, "data asset")
    show = command(group, "show", show_data, "Show a data asset version", COLUMNS)
    add_name(show, True, "data asset")
    add_version_or_label(show)
    delete = command(group, "delete", delete_data, "Delete a data asset version", COLUMNS)
    add_name(delete, True, "data asset")
    delete.add_argument("-v", "--version", required=True)


def create_data(args, client: ApiClient) -> dict:
    spec = load_spec(args.file, args.set, name=args.name, version=args.version, path=args.path, type=args.type,
                     description=args.description)
    body = spec.body
    name, path = body.get("name"), body.get("path")
    if not name or not path:
        raise UsageError("give the data asset's name and path (in the YAML file or with --name/--path).")
    if not is_local(str(path)):
        return client.call("POST", f"data/{name}/versions", json=body).body
    files = local_path(spec, str(path), "path")
    kind = body.get("type") or ("uri_folder" if files.is_dir() else "uri_file")
    if files.is_dir() and kind != "uri_folder":
        raise UsageError(f"path '{path}' is a folder: use type uri_folder.")
    if files.is_dir():
        data, filename = zip_folder(files), f"{files.name}.zip"
    elif kind == "uri_folder":
        data, filename = zip_file(files), f"{files.stem}.zip"
    else:
        data, filename = files.read_bytes(), files.name
    return client.upload_version("data", body, UPLOAD_FIELDS, data, filename, type=kind)


def list_data(args, client: ApiClient) -> list:
    return client.get(f"data/{args.name}/versions" if args.name else "data")["value"]


def show_data(args, client: ApiClient) -> dict:
    return client.get(f"data/{args.name}/versions/{args.version or args.label}")


def delete_data(args, client: ApiClient) -> None:
    client.call("DELETE", f"data/{args.name}/versions/{args.version}")
