"""Batch scoring jobs over HTTP: invoke an endpoint, list and show jobs, cancel, and read their outputs."""
from __future__ import annotations

import asyncio
import time
from pathlib import PurePosixPath

import azure.durable_functions as df
import azure.functions as func

from jobs.contracts import FinishTask
from jobs.engine import current_engine
from jobs.lifecycle import finish_job, request_cancel
from jobs.settings import DEFAULT_CANCEL_POLL_SECONDS, DEFAULT_CANCEL_WAIT_SECONDS, engine_settings
from jobs.status import JobStatus
from registry.errors import NotFound, PayloadTooLarge, ValidationFailed
from registry.job_specs import InvokeRequest

from .http_api import api, base_url, byte_range, json_body, listing, respond
from .job_starter import orchestration_running, start_job

bp = df.Blueprint()
DEPLOYMENT_HEADER = "azureml-model-deployment"
CLIENT_HEADER = "x-mlbatch-client"  # the studio and the CLI name themselves; a job records who started it
CLIENTS = ("studio", "cli")
CLIENT = (bp.durable_client_input(client_name="client"),)


def job_view(job: dict, origin: str) -> dict:
    counts = job["counts"]
    finished = counts["mini_batches_done"] + counts["mini_batches_failed"]
    return {**job, "progress": round(finished / counts["mini_batches"], 4) if counts["mini_batches"] else
            (1.0 if JobStatus(job["status"]).is_terminal else 0.0),
            "status_url": f"{origin}/api/jobs/{job['name']}", "outputs_url": f"{origin}/api/jobs/{job['name']}/outputs"}


@api(bp, "batchEndpoints/{name}/jobs", ["POST"], "Invoke the endpoint: start a batch scoring job (202 with the job "
     "name and status URL)", request_schema=InvokeRequest, success_status=202, tag="jobs", extra_bindings=CLIENT)
async def invoke_endpoint(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    caller = (req.headers.get(CLIENT_HEADER) or "").strip().lower()
    source = {"kind": "invoke", "client": caller} if caller in CLIENTS else None
    record = await start_job(client, current_engine(), req.route_params["name"], json_body(req),
                             deployment_header=req.headers.get(DEPLOYMENT_HEADER), source=source)
    view = job_view(record.body, base_url(req))
    answer = respond(view, 202, record)
    answer.headers["Location"] = view["status_url"]
    return answer


@api(bp, "batchEndpoints/{name}/jobs", ["GET"], "List an endpoint's jobs, newest first", tag="jobs")
def list_jobs(req: func.HttpRequest) -> func.HttpResponse:
    engine = current_engine()
    engine.registry.endpoints.get_endpoint(req.route_params["name"])
    origin = base_url(req)
    return listing([job_view(j, origin) for j in engine.records.list_for_endpoint(req.route_params["name"])])


@api(bp, "jobs/{name}", ["GET"], "Show a job: status, times, counts, progress, output location", tag="jobs")
def show_job(req: func.HttpRequest) -> func.HttpResponse:
    record = current_engine().records.get(req.route_params["name"])
    return respond(job_view(record.body, base_url(req)), record=record)


@api(bp, "jobs/{name}/mini-batches", ["GET"], "Each mini-batch's result: status, rows, failed files, attempts",
     tag="jobs")
def list_mini_batches(req: func.HttpRequest) -> func.HttpResponse:
    records = current_engine().records
    records.get(req.route_params["name"])
    return listing([result.to_json() for result in records.mini_batch_results(req.route_params["name"])])


@api(bp, "jobs/{name}/cancel", ["POST"], "Cancel a job that has not finished: the request is recorded "
     "(CancelRequested), its mini-batches stop, and the answer waits a little for the job's finish (Canceled)",
     tag="jobs", extra_bindings=CLIENT)
async def cancel(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    engine = current_engine()
    name = req.route_params["name"]
    job = request_cancel(engine, name)
    if not await orchestration_running(client, name):  # nothing left to reach the finish: run it here
        finish_job(engine, FinishTask(job=name))
    deadline = time.monotonic() + DEFAULT_CANCEL_WAIT_SECONDS
    while not JobStatus(job["status"]).is_terminal and time.monotonic() < deadline:
        await asyncio.sleep(DEFAULT_CANCEL_POLL_SECONDS)
        job = engine.records.get(name).body
    return respond(job_view(job, base_url(req)))


@api(bp, "jobs/{name}/outputs", ["GET"], "List a job's output files: predictions and logs", tag="jobs")
def list_outputs(req: func.HttpRequest) -> func.HttpResponse:
    engine = current_engine()
    job = engine.records.get(req.route_params["name"]).body
    origin = base_url(req)
    return listing([{**output.to_json(), "download_url": f"{origin}/api/jobs/{job['name']}/outputs/{output.path}"}
                    for output in engine.storage_for(job).output_files()])


@api(bp, "jobs/{name}/outputs/{*path}", ["GET"], "Download one of a job's output files (Range: bytes=... reads a "
     "part; a file over BATCH_DOWNLOAD_RANGE_BYTES (32 MiB) read whole is a redirect to a short-lived read-only URL of the file)", tag="jobs")
def download_output(req: func.HttpRequest) -> func.HttpResponse:
    engine = current_engine()
    job = engine.records.get(req.route_params["name"]).body
    path = req.route_params.get("path") or ""
    if ".." in PurePosixPath(path).parts:
        raise ValidationFailed("The path must stay inside the job's outputs.", target="path")
    storage = engine.storage_for(job)
    match = next((output for output in storage.output_files() if output.path == path), None)
    if match is None:
        raise NotFound(f"Job '{job['name']}' has no output file '{path}'.", target="path")
    headers = {"Content-Disposition": f'attachment; filename="{PurePosixPath(path).name}"', "Accept-Ranges": "bytes"}
    mimetype = "text/csv" if path.endswith(".csv") else "text/plain" if path.endswith(".txt") else \
        "application/octet-stream"
    most = engine_settings().download_range_bytes
    wanted = byte_range(req.headers.get("range"), match.size, most)
    if wanted is not None:
        start, end = wanted
        headers["Content-Range"] = f"bytes {start}-{end}/{match.size}"
        return func.HttpResponse(storage.read_output(match, start, end - start + 1), status_code=206,
                                 mimetype=mimetype, headers=headers)
    if match.size > most:
        location = storage.output_read_url(match)
        if location is None:
            raise PayloadTooLarge(f"'{path}' is {match.size:,} bytes: read it in ranges (Range: bytes=start-end, at "
                                  f"most {most:,} bytes each), as `mlbatch job download` does.",
                                  target="path")
        return func.HttpResponse(status_code=307, headers={**headers, "Location": location})
    return func.HttpResponse(storage.read_output(match), status_code=200, mimetype=mimetype, headers=headers)
