"""`mlbatch environment create|list|show|delete`: Azure ML environment YAML, its `conda_file` read from the
path it names (relative to the YAML file) and sent inline."""
from __future__ import annotations

from pathlib import Path

import yaml

from ..client import ApiClient, UsageError
from ..specs import Spec, load_spec, local_path
from .arguments import add_file, add_name, add_version_or_label, command

COLUMNS = ("name", "version", "image", "created_at")


def register(groups) -> None:
    group = groups.add_parser("environment", help="versioned environments (conda file, image)").add_subparsers(
        dest="verb", required=True)
    create = command(group, "create", create_environment, "Create an environment version (Azure ML environment "
                     "YAML: name, version, conda_file, image)", COLUMNS)
    add_file(create, "environment")
    create.add_argument("-n", "--name", help="the environment's name (overrides the file's)")
    create.add_argument("-v", "--version", help="the version (default: the next one)")
    listing = command(group, "list", list_environments, "List environments (latest versions), or one's versions",
                      COLUMNS)
    add_name(listing, False, "environment")
    show = command(group, "show", show_environment, "Show an environment version", COLUMNS)
    add_name(show, True, "environment")
    add_version_or_label(show)
    delete = command(group, "delete", delete_environment, "Delete an environment version", COLUMNS)
    add_name(delete, True, "environment")
    delete.add_argument("-v", "--version", required=True)


def inline_conda_file(spec: Spec, environment: dict, field: str) -> dict:
    """An environment whose conda_file is a local path, with the file's contents in its place."""
    conda_file = environment.get("conda_file")
    if not isinstance(conda_file, str) or "\n" in conda_file:
        return environment
    path: Path = local_path(spec, conda_file, f"{field}.conda_file")
    try:
        return {**environment, "conda_file": yaml.safe_load(path.read_text(encoding="utf-8"))}
    except yaml.YAMLError as error:
        raise UsageError(f"{field}.conda_file: {conda_file} is not valid YAML: {error}") from None


def create_environment(args, client: ApiClient) -> dict:
    spec = load_spec(args.file, args.set, name=args.name, version=args.version)
    body = inline_conda_file(spec, spec.body, "environment")
    name = body.get("name")
    if not name:
        raise UsageError("give the environment's name (in the YAML file or with --name).")
    return client.call("POST", f"environments/{name}/versions", json=body).body


def list_environments(args, client: ApiClient) -> list:
    return client.get(f"environments/{args.name}/versions" if args.name else "environments")["value"]


def show_environment(args, client: ApiClient) -> dict:
    return client.get(f"environments/{args.name}/versions/{args.version or args.label}")


def delete_environment(args, client: ApiClient) -> None:
    client.call("DELETE", f"environments/{args.name}/versions/{args.version}")
