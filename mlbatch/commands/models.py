"""`mlbatch model create|list|show|delete`."""
from __future__ import annotations

from ..archives import zip_file, zip_folder
from ..client import ApiClient, UsageError
from ..specs import Spec, is_local, load_spec, local_path
from .arguments import add_asset_create, add_name, add_version_or_label, command

COLUMNS = ("name", "version", "format", "type", "flavors", "created_at")
UPLOAD_FIELDS = ("type", "version", "description")


def register(groups) -> None:
    group = groups.add_parser("model", help="register and inspect models").add_subparsers(dest="verb",
                                                                                          required=True)
    create = command(group, "create", create_model, "Register a model version from local files or a datastore "
                     "path (model YAML or flags)", COLUMNS)
    add_asset_create(create, "model", "a local folder or .onnx file, or azureml://datastores/<ds>/paths/<p>",
                     ("mlflow_model", "custom_model"))

    listing = command(group, "list", list_models, "List models (latest versions), or one model's versions",
                      COLUMNS)
    add_name(listing, False, "model")

    show = command(group, "show", show_model, "Show a model version", COLUMNS)
    add_name(show, True, "model")
    add_version_or_label(show)

    delete = command(group, "delete", delete_model, "Delete a model version no deployment uses", COLUMNS)
    add_name(delete, True, "model")
    delete.add_argument("-v", "--version", required=True)


def create_model(args, client: ApiClient) -> dict:
    spec = load_spec(args.file, args.set, name=args.name, version=args.version, path=args.path, type=args.type,
                     description=args.description)
    return register_model(client, spec, "model")


def register_model(client: ApiClient, spec: Spec, field: str) -> dict:
    """Upload local model files, or register a datastore path, as the next version of spec's model."""
    body = spec.body
    name, path = body.get("name"), body.get("path")
    if not name or not path:
        raise UsageError(f"{field}: give the model's name and path (in the YAML file or with --name/--path).")
    if not is_local(str(path)):
        return client.call("POST", f"models/{name}/versions", json=body).body
    files = local_path(spec, str(path), f"{field}.path")
    if files.is_dir():
        data, filename = zip_folder(files), f"{files.name}.zip"
    elif files.suffix.lower() in (".onnx", ".zip"):
        data, filename = files.read_bytes(), files.name
    else:
        data, filename = zip_file(files), f"{files.stem}.zip"
    return client.upload_version("models", body, UPLOAD_FIELDS, data, filename)


def list_models(args, client: ApiClient) -> list:
    path = f"models/{args.name}/versions" if args.name else "models"
    return client.get(path)["value"]


def show_model(args, client: ApiClient) -> dict:
    return client.get(f"models/{args.name}/versions/{args.version or args.label}")


def delete_model(args, client: ApiClient) -> None:
    client.call("DELETE", f"models/{args.name}/versions/{args.version}")
