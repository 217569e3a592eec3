"""`mlbatch schedule create|list|show|enable|disable|delete` (Azure ML schedule YAML, with `create_job` the
invoke to run, inline or as a path to a YAML file) and `mlbatch endpoint inbox`."""
from __future__ import annotations

import yaml

from ..client import ApiClient, UsageError
from ..specs import is_local, load_spec, local_path
from .arguments import add_file, add_name, add_yes, command, confirm

COLUMNS = ("name", "endpoint_name", "trigger.type", "is_enabled", "last_run.name", "next_run")
INBOX_COLUMNS = ("name", "status", "job", "arrived_at", "size")


def register(groups) -> None:
    group = groups.add_parser("schedule", help="scheduled jobs").add_subparsers(dest="verb", required=True)
    create = command(group, "create", create_schedule, "Create or update a schedule (schedule YAML)", COLUMNS)
    add_file(create, "schedule")
    add_name(create, False, "schedule")
    create.add_argument("-e", "--endpoint-name")
    listing = command(group, "list", list_schedules, "List schedules", COLUMNS)
    listing.add_argument("-e", "--endpoint-name")
    for verb, handler, text in (("show", show_schedule, "Show a schedule with its last and next run"),
                                ("enable", enable_schedule, "Enable a schedule"),
                                ("disable", disable_schedule, "Disable a schedule")):
        add_name(command(group, verb, handler, text, COLUMNS), True, "schedule")
    delete = command(group, "delete", delete_schedule, "Delete a schedule (its jobs stay)", COLUMNS)
    add_name(delete, True, "schedule")
    add_yes(delete)


def register_inbox(group) -> None:
    inbox = command(group, "inbox", endpoint_inbox, "Show an endpoint's inbox files; with options, set its inbox "
                    "(files dropped there are scored automatically)", INBOX_COLUMNS)
    add_name(inbox, True, "endpoint")
    switch = inbox.add_mutually_exclusive_group()
    switch.add_argument("--enable", action="store_true")
    switch.add_argument("--disable", action="store_true")
    inbox.add_argument("--datastore")
    inbox.add_argument("--path", help="the inbox folder in the datastore (default inbox/<endpoint>/)")
    inbox.add_argument("--debounce-seconds", type=int)
    inbox.add_argument("--deployment-name")


def create_schedule(args, client: ApiClient) -> dict:
    spec = load_spec(args.file, args.set, name=args.name, endpoint_name=args.endpoint_name)
    body = spec.body
    name = body.pop("name", None)
    if not name:
        raise UsageError("give the schedule's name (in the YAML file or with --name).")
    job = body.get("create_job")
    if isinstance(job, str) and is_local(job):
        loaded = yaml.safe_load(local_path(spec, job, "create_job").read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):
            raise UsageError("create_job must name a YAML file holding the invoke (input, deployment_name, ...).")
        loaded.pop("$schema", None)
        body["create_job"] = loaded
    return client.call("PUT", f"schedules/{name}", json=body).body


def list_schedules(args, client: ApiClient) -> list:
    params = {"endpoint": args.endpoint_name} if args.endpoint_name else None
    return client.get("schedules", params=params)["value"]


def show_schedule(args, client: ApiClient) -> dict:
    return client.get(f"schedules/{args.name}")


def enable_schedule(args, client: ApiClient) -> dict:
    return client.call("POST", f"schedules/{args.name}/enable").body


def disable_schedule(args, client: ApiClient) -> dict:
    return client.call("POST", f"schedules/{args.name}/disable").body


def delete_schedule(args, client: ApiClient) -> None:
    if not args.yes:
        confirm(f"Delete schedule '{args.name}'?")
    client.call("DELETE", f"schedules/{args.name}")


def endpoint_inbox(args, client: ApiClient) -> list:
    changes = {k: v for k, v in {"datastore": args.datastore, "path": args.path,
                                 "debounce_seconds": args.debounce_seconds,
                                 "deployment_name": args.deployment_name}.items() if v is not None}
    if args.enable or args.disable:
        changes["enabled"] = bool(args.enable)
    if changes:
        client.call("PATCH", f"batchEndpoints/{args.name}", json={"inbox": changes})
    return [{**a, "name": a["blob"]} for a in client.get(f"batchEndpoints/{args.name}/inbox")["value"]]
