"""`mlbatch endpoint invoke` and `mlbatch job list|show|stream|cancel|download`."""
from __future__ import annotations

import sys
from pathlib import Path

from ..archives import zip_folder
from ..client import ApiClient, CliError, UsageError
from ..follow import follow, summary
from ..output import console
from ..specs import apply_set, is_local
from .arguments import command

COLUMNS = ("name", "status", "deployment", "created_at", "duration_seconds", "counts.rows_scored", "progress")


def register_invoke(group) -> None:
    invoke = command(group, "invoke", invoke_endpoint, "Start a batch scoring job on an endpoint", COLUMNS, summary)
    invoke.add_argument("-n", "--name", required=True, help="the endpoint's name")
    invoke.add_argument("-d", "--deployment-name", help="a deployment (default: the endpoint's default)")
    invoke.add_argument("-i", "--input", required=True, help="a data asset (name:version, name@latest), "
                        "azureml://datastores/<ds>/paths/<p>, an http(s) URL, or a local file or folder (uploaded)")
    invoke.add_argument("--input-type", choices=("uri_file", "uri_folder"))
    invoke.add_argument("--output-path", help="azureml://datastores/<ds>/paths/<folder> for the predictions")
    invoke.add_argument("--output-file-name")
    invoke.add_argument("--mini-batch-size", type=int)
    invoke.add_argument("--instance-count", type=int)
    invoke.add_argument("--max-concurrency-per-instance", type=int)
    invoke.add_argument("--max-retries", type=int)
    invoke.add_argument("--timeout", type=int, help="seconds a mini-batch may run")
    invoke.add_argument("--error-threshold", type=int)
    invoke.add_argument("--logging-level", choices=("debug", "info", "warning"))
    invoke.add_argument("--output-action", choices=("append_row", "summary_only"))
    invoke.add_argument("--job-name")
    invoke.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="any field of the request, e.g. settings.environment_variables.MODE=fast")
    invoke.add_argument("--stream", action="store_true",
                        help="show progress and log lines until the job ends; exit 1 unless it completed")


def register(groups) -> None:
    group = groups.add_parser("job", help="batch scoring jobs").add_subparsers(dest="verb", required=True)
    listing = command(group, "list", list_jobs, "List an endpoint's jobs, newest first", COLUMNS)
    listing.add_argument("-e", "--endpoint-name", required=True)
    show = command(group, "show", show_job, "Show a job", COLUMNS)
    show.add_argument("-n", "--name", required=True)
    cancel = command(group, "cancel", cancel_job, "Cancel a running job", COLUMNS)
    cancel.add_argument("-n", "--name", required=True)
    stream = command(group, "stream", stream_job, "Follow a job's progress and log lines until it ends; exit 1 "
                     "unless it completed", COLUMNS, summary)
    stream.add_argument("-n", "--name", required=True)
    download = command(group, "download", download_job, "Download a job's outputs and logs",
                       ("path", "size", "saved_to"))
    download.add_argument("-n", "--name", required=True)
    download.add_argument("--output-name", choices=("score", "logs", "all"), default="all",
                          help="score: the predictions file; logs: the logs; all (default)")
    download.add_argument("-p", "--download-path", default=".", help="a folder (default: the current one)")


def invoke_endpoint(args, client: ApiClient) -> dict:
    body: dict = {"input": _input(args, client)}
    settings = {k: v for k, v in {
        "mini_batch_size": args.mini_batch_size, "max_concurrency_per_instance": args.max_concurrency_per_instance,
        "error_threshold": args.error_threshold, "logging_level": args.logging_level,
        "output_action": args.output_action, "output_file_name": args.output_file_name}.items() if v is not None}
    retry = {k: v for k, v in {"max_retries": args.max_retries, "timeout": args.timeout}.items() if v is not None}
    if retry:
        settings["retry_settings"] = retry
    if settings:
        body["settings"] = settings
    if args.instance_count is not None:
        body["resources"] = {"instance_count": args.instance_count}
    for key, value in (("input_type", args.input_type), ("deployment_name", args.deployment_name),
                       ("job_name", args.job_name)):
        if value:
            body[key] = value
    if args.output_path:
        body["output"] = {"path": args.output_path}
    for assignment in args.set:
        apply_set(body, assignment)
    job = client.call("POST", f"batchEndpoints/{args.name}/jobs", json=body).body
    return follow(client, job["name"], console(stderr=True)) if args.stream else job


def _input(args, client: ApiClient) -> str:
    """A local file or folder is uploaded first, as a data asset version named after the endpoint."""
    given = args.input
    local = Path(given)
    if not is_local(given) or not local.exists():
        if is_local(given) and (given.startswith((".", "/", "~")) or "\\" in given):
            raise UsageError(f"--input: local path '{given}' does not exist.")
        return given
    name = f"{args.name}-inputs"
    if local.is_dir():
        data, params = zip_folder(local), {"filename": f"{local.name}.zip", "type": "uri_folder"}
        args.input_type = args.input_type or "uri_folder"
    else:
        data, params = local.read_bytes(), {"filename": local.name, "type": "uri_file"}
        args.input_type = args.input_type or "uri_file"
    asset = client.call("POST", f"data/{name}/versions", data=data, params=params,
                        headers={"Content-Type": "application/octet-stream"}).body
    print(f"uploaded {given} as data asset {asset['id']}", file=sys.stderr)
    return asset["id"]


def list_jobs(args, client: ApiClient) -> list:
    return client.get(f"batchEndpoints/{args.endpoint_name}/jobs")["value"]


def show_job(args, client: ApiClient) -> dict:
    return client.get(f"jobs/{args.name}")


def stream_job(args, client: ApiClient) -> dict:
    return follow(client, args.name, console(stderr=True))


def cancel_job(args, client: ApiClient) -> dict:
    return client.call("POST", f"jobs/{args.name}/cancel").body


def download_job(args, client: ApiClient) -> list:
    job = client.get(f"jobs/{args.name}")
    files = client.get(f"jobs/{args.name}/outputs")["value"]
    predictions = job["output"]["file_name"]
    wanted = [f for f in files if args.output_name == "all"
              or (args.output_name == "score") == (f["path"] == predictions)]
    if args.output_name == "score" and not wanted:
        raise CliError(f"job {args.name} has no predictions file (status {job['status']}).")
    root = Path(args.download_path) / args.name
    saved = []
    for file in wanted:
        target = root / file["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        client.download(f"jobs/{args.name}/outputs/{file['path']}", target)
        saved.append({**file, "saved_to": str(target)})
    return saved

