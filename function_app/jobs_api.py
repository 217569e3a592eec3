"""Batch scoring jobs over HTTP: invoke an endpoint, list and show jobs, cancel, and read their outputs."""
from __future__ import annotations

import logging
from pathlib import PurePosixPath

import azure.durable_functions as df
import azure.functions as func

from workspace.defaults import DEFAULT_DATASTORE
from workspace.errors import NotFound, ValidationFailed
from workspace.job_specs import InvokeRequest
from workspace.job_steps import cancel_job
from workspace.jobs import TERMINAL, job_folder
from workspace.service import current_workspace

from .http_api import api, base_url, json_body, listing, respond
from .job_starter import start_job

bp = df.Blueprint()
log = logging.getLogger("batch_endpoints.jobs")
DEPLOYMENT_HEADER = "azureml-model-deployment"
CLIENT = (bp.durable_client_input(client_name="client"),)


def job_view(job: dict, origin: str) -> dict:
    counts = job["counts"]
    finished = counts["mini_batches_done"] + counts["mini_batches_failed"]
    return {**job, "progress": round(finished / counts["mini_batches"], 4) if counts["mini_batches"] else
            (1.0 if job["status"] in TERMINAL else 0.0),
            "status_url": f"{origin}/api/jobs/{job['name']}", "outputs_url": f"{origin}/api/jobs/{job['name']}/outputs"}


@api(bp, "batchEndpoints/{name}/jobs", ["POST"], "Invoke the endpoint: start a batch scoring job (202 with the job "
     "name and status URL)", request_schema=InvokeRequest, success_status=202, tag="jobs", extra_bindings=CLIENT)
async def invoke_endpoint(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    record = await start_job(client, current_workspace(), req.route_params["name"], json_body(req),
                             deployment_header=req.headers.get(DEPLOYMENT_HEADER))
    view = job_view(record.body, base_url(req))
    answer = respond(view, 202, record)
    answer.headers["Location"] = view["status_url"]
    return answer


@api(bp, "batchEndpoints/{name}/jobs", ["GET"], "List an endpoint's jobs, newest first", tag="jobs")
def list_jobs(req: func.HttpRequest) -> func.HttpResponse:
    workspace = current_workspace()
    workspace.endpoints.get_endpoint(req.route_params["name"])
    origin = base_url(req)
    return listing([job_view(j, origin) for j in workspace.jobs.list_for_endpoint(req.route_params["name"])])


@api(bp, "jobs/{name}", ["GET"], "Show a job: status, times, counts, progress, output location", tag="jobs")
def show_job(req: func.HttpRequest) -> func.HttpResponse:
    record = current_workspace().jobs.get(req.route_params["name"])
    return respond(job_view(record.body, base_url(req)), record=record)


@api(bp, "jobs/{name}/mini-batches", ["GET"], "Each mini-batch's result: status, rows, failed files, attempts",
     tag="jobs")
def list_mini_batches(req: func.HttpRequest) -> func.HttpResponse:
    jobs = current_workspace().jobs
    jobs.get(req.route_params["name"])
    return listing(jobs.mini_batch_results(req.route_params["name"]))


@api(bp, "jobs/{name}/cancel", ["POST"], "Cancel a job that has not finished", tag="jobs", extra_bindings=CLIENT)
async def cancel(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    workspace = current_workspace()
    name = req.route_params["name"]
    workspace.jobs.request_cancel(name)
    try:
        await client.terminate(name, "canceled by the user")
    except Exception as error:  # already finished orchestration: the record below still says Canceled
        log.info("terminate %s: %s", name, error)
    job = cancel_job(workspace, name)
    return respond(job_view(job, base_url(req)))


def _output_files(workspace, job: dict) -> list[dict]:
    files = []
    output = job["output"]
    predictions = workspace.datastores.container(output["datastore"]).get_blob_client(
        output["folder"] + output["file_name"])
    if job["settings"]["output_action"] == "append_row" and predictions.exists():
        files.append({"path": output["file_name"], "uri": output["uri"],
                      "size": predictions.get_blob_properties().size})
    folder = job_folder(job["name"])
    container = workspace.datastores.container(DEFAULT_DATASTORE)
    for blob in container.list_blobs(name_starts_with=folder):
        relative = blob.name[len(folder):]
        if relative != output["file_name"] or output["folder"] != folder:
            files.append({"path": relative, "uri": f"azureml://datastores/{DEFAULT_DATASTORE}/paths/{blob.name}",
                          "size": blob.size})
    return files


@api(bp, "jobs/{name}/outputs", ["GET"], "List a job's output files: predictions and logs", tag="jobs")
def list_outputs(req: func.HttpRequest) -> func.HttpResponse:
    workspace = current_workspace()
    job = workspace.jobs.get(req.route_params["name"]).body
    origin = base_url(req)
    return listing([{**f, "download_url": f"{origin}/api/jobs/{job['name']}/outputs/{f['path']}"}
                    for f in _output_files(workspace, job)])


@api(bp, "jobs/{name}/outputs/{*path}", ["GET"], "Download one of a job's output files", tag="jobs")
def download_output(req: func.HttpRequest) -> func.HttpResponse:
    workspace = current_workspace()
    job = workspace.jobs.get(req.route_params["name"]).body
    path = req.route_params.get("path") or ""
    if ".." in PurePosixPath(path).parts:
        raise ValidationFailed("The path must stay inside the job's outputs.", target="path")
    match = next((f for f in _output_files(workspace, job) if f["path"] == path), None)
    if match is None:
        raise NotFound(f"Job '{job['name']}' has no output file '{path}'.", target="path")
    datastore, _, blob = match["uri"][len("azureml://datastores/"):].partition("/paths/")
    data = workspace.datastores.container(datastore).download_blob(blob).readall()
    mimetype = "text/csv" if path.endswith(".csv") else "text/plain" if path.endswith(".txt") else \
        "application/octet-stream"
    return func.HttpResponse(data, status_code=200, mimetype=mimetype,
                             headers={"Content-Disposition": f'attachment; filename="{PurePosixPath(path).name}"'})
