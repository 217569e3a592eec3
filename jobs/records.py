"""Batch scoring job records: submission (everything the job needs resolved and pinned up front), status
changes through `status.transition`, live progress, per-mini-batch results, cancel requests, listing.

A job is one row in `Jobs` (partition `job`, row = the job name); each mini-batch's result is one row in
`JobMiniBatches` (partition = the job name, row = the mini-batch number), written idempotently, so the job's
final counts are exact even when a mini-batch ran twice."""
from __future__ import annotations

import functools
import uuid
from typing import Any, Callable

from registry.clock import now_iso
from registry.data_assets import DataAssetService
from registry.datastores import DatastoreService
from registry.defaults import DEFAULT_DATASTORE
from registry.endpoints import EndpointService, merge_patch
from registry.errors import AlreadyExists, Conflict, NotFound, ReferenceNotFound, ValidationFailed
from registry.job_specs import InvokeRequest, OutputSpec
from registry.models import ModelRegistry
from registry.names import check_asset_name
from registry.optimistic import update_with_retries
from registry.outbound import check_url
from registry.refs import DatastorePath, parse_asset_ref, parse_datastore_uri
from registry.resources import BatchDeploymentSettings, ResourceConfiguration, parse
from registry.storage import Record, RowsExist, WorkspaceStorage

from .contracts import JobError, MiniBatchResult
from .job_storage import job_folder
from .status import ACTIVE, JobStatus, transition
from .verdict import add_moves, counts_moved

PARTITION = "job"


class JobRecords:
    def __init__(self, storage: WorkspaceStorage, datastores: DatastoreService, models: ModelRegistry,
                 data: DataAssetService, endpoints: EndpointService):
        self.table = storage.table("Jobs")
        self.mini_batches = storage.table("JobMiniBatches")
        self.datastores = datastores
        self.models = models
        self.data = data
        self.endpoints = endpoints

    # -- submission ---------------------------------------------------------------------------------
    def submit(self, endpoint: str, body: Any, deployment_header: str | None = None, *, job_name: str | None = None,
               source: dict | None = None, files: list[dict] | None = None) -> Record:
        """Validate and record a job. job_name, source and files come from the app itself (a schedule's
        occurrence, an inbox's burst of files), never from the request body."""
        request = parse(InvokeRequest, body)
        endpoint_body = self.endpoints.get_endpoint(endpoint).body
        deployment_name = request.deployment_name or deployment_header or \
            (endpoint_body.get("defaults") or {}).get("deployment_name")
        if not deployment_name:
            raise ValidationFailed(f"No valid deployments to route to: endpoint '{endpoint}' has no default "
                                   "deployment; create one or name deployment_name.", target="deployment_name")
        try:
            deployment = self.endpoints.get_deployment(endpoint, deployment_name).body
        except NotFound:
            raise ReferenceNotFound(f"Deployment '{deployment_name}' does not exist in endpoint '{endpoint}'.",
                                    target="deployment_name") from None
        settings = parse(BatchDeploymentSettings, merge_patch(deployment["settings"], request.overrides()),
                         prefix="settings")
        resources = parse(ResourceConfiguration, merge_patch(deployment["resources"],
                                                             request.resources.model_dump(exclude_none=True)),
                          prefix="resources")
        name = job_name or request.job_name or str(uuid.uuid4())
        check_asset_name(name, "job_name")
        model = self.models.resolve(deployment["model"], field="model")
        job = {
            "name": name,
            "endpoint": endpoint,
            "deployment": deployment_name,
            "description": request.description,
            "tags": request.tags,
            "model": model["id"],
            "model_path": model["path"],
            "model_format": model["format"],
            "onnx_file": model.get("onnx_file"),
            "model_root": self.models.root_of(model).model_dump(),
            "environment": deployment.get("environment_spec"),  # None: the app's own environment
            "code_configuration": deployment.get("code_configuration"),
            "settings": settings.model_dump(),
            "resources": resources.model_dump(),
            "input": self._resolve_input(request) if files is None else
            {"uri": None, "type": "uri_folder", "files": files, "given": f"{len(files)} file(s) from an inbox"},
            "source": source or {"kind": "invoke"},
            "output": self._resolve_output(request.output, name, settings.output_file_name),
            "status": JobStatus.NOT_STARTED.value,
            "created_at": now_iso(),
            "started_at": None,
            "ended_at": None,
            "duration_seconds": None,
            "counts": {"files": 0, "mini_batches": 0, "mini_batches_done": 0, "mini_batches_failed": 0,
                       "files_failed": 0, "rows_scored": 0},
            "error": None,
        }
        if self.table.find(PARTITION, name) is not None:
            raise Conflict(f"A job named '{name}' already exists; job names are unique.", target="job_name")
        return self.table.create(PARTITION, name, job, "Job", name, Endpoint=endpoint)

    def _resolve_input(self, request: InvokeRequest) -> dict:
        given = request.input if isinstance(request.input, str) else request.input.path
        kind = request.input_type or (None if isinstance(request.input, str) else request.input.type)
        text = given.strip()
        if text.startswith(("http://", "https://")):
            check_url(text, "input")
            return {"uri": text, "type": kind or "uri_file", "given": given}
        if text.startswith("azureml://"):
            location = parse_datastore_uri(text, "input")
            self.datastores.container(location.datastore, field="input")
            return {"uri": str(location), "type": kind, "given": given}
        if text.startswith(("/", "./", "file:")) or "\\" in text:
            raise ValidationFailed(f"The input '{given}' is a local path: upload it first (mlbatch does this) or "
                                   "give a data asset, a datastore path or an http(s) URL.", target="input")
        ref = parse_asset_ref(text, "input")
        try:
            asset = self.data.get(ref.name, ref.version if ref.version is not None else "latest").body
        except NotFound:
            raise ReferenceNotFound(f"Data asset '{given}' does not exist.", target="input") from None
        return {"uri": asset["path"], "type": kind or asset["type"], "given": given, "data_asset": asset["id"]}

    def _resolve_output(self, output: OutputSpec | None, name: str, file_name: str) -> dict:
        if output is None or not output.path:
            folder = DatastorePath(DEFAULT_DATASTORE, job_folder(name))
        else:
            location = parse_datastore_uri(output.path, "output.path")
            self.datastores.container(location.datastore, field="output.path")
            folder = DatastorePath(location.datastore, location.path.rstrip("/") + "/" if location.path else "")
        return {"datastore": folder.datastore, "folder": folder.path, "file_name": file_name,
                "uri": f"{folder}{file_name}"}

    # -- reading ------------------------------------------------------------------------------------
    def get(self, name: str) -> Record:
        return self.table.get(PARTITION, name, "Job", name)

    def find(self, name: str) -> Record | None:
        return self.table.find(PARTITION, name)

    def is_active(self, name: str) -> bool:
        """Whether the job exists and has not reached its verdict."""
        found = self.find(name)
        return found is not None and JobStatus(found.body["status"]) in ACTIVE

    def list_for_endpoint(self, endpoint: str) -> list[dict]:
        records = self.table.query("PartitionKey eq @pk and Endpoint eq @ep", pk=PARTITION, ep=endpoint)
        return sorted((r.body for r in records), key=lambda j: j["created_at"], reverse=True)

    def mini_batch_results(self, name: str) -> list[MiniBatchResult]:
        return sorted((MiniBatchResult.model_validate(r.body) for r in self.mini_batches.list(name)),
                      key=lambda result: result.index)

    # -- changes ------------------------------------------------------------------------------------
    def update(self, name: str, change: Callable[[dict], dict | None], known: Record | None = None) -> Record:
        """Apply change(body) -> body (None: leave it) with ETag retries. known: the record as its caller last
        read or wrote it, tried first to save a read (a stale one costs a retry)."""
        hint = [known]

        def attempt() -> Record:
            record = hint.pop() if hint and hint[0] is not None else self.get(name)
            hint.clear()
            changed = change(dict(record.body))
            if changed is None:
                return record
            return self.table.replace(PARTITION, name, changed, record.etag, "Job", name,
                                      Endpoint=record.body["endpoint"])

        return update_with_retries(attempt, None, f"Job '{name}'")

    def set_status(self, name: str, status: JobStatus, known: Record | None = None, *, counts: dict | None = None,
                   error: JobError | None = None) -> Record:
        """The job after the change, or as it is where the change is not allowed from its status."""
        payload = error.to_json() if error is not None else None
        return self.update(name, lambda body: transition(body, status, now_iso(), counts=counts, error=payload),
                           known)

    def record_mini_batch(self, name: str, result: MiniBatchResult) -> dict[str, int] | None:
        """Store one mini-batch's result. Gives how it moves the job's live counts (the first time a result of
        the mini-batch is stored, or when a later one changed its outcome), or None when they do not move; the
        caller adds the moves up and applies them with add_counts, so a job's mini-batches do not all race
        for its one record."""
        body = result.to_json()
        row = f"{result.index:08d}"
        try:  # the first result of a mini-batch: one write
            self.mini_batches.create(name, row, body, "Mini-batch", f"{name}/{result.index}")
            previous = None
        except AlreadyExists:  # a repeated delivery or a run after a crash
            found = self.mini_batches.find(name, row)
            previous = MiniBatchResult.model_validate(found.body) if found is not None else None
            if previous is not None and (previous.together or previous.rows_in is not None):
                return None  # stored with others whose rows share its block: theirs stand together
            self.mini_batches.upsert(name, row, body)
            if previous is not None and previous.status == result.status:
                return None
        return counts_moved(previous, result)

    def record_mini_batches(self, name: str, results: list[MiniBatchResult]) -> dict[str, int] | None:
        """Store several mini-batches' results in as few table transactions as the service allows; from the
        transaction that met a result stored already (a repeated delivery) on, one by one as record_mini_batch
        does. Gives their moves of the job's counts added up."""
        if not results:
            return None
        stored = len(results)
        try:
            self.mini_batches.create_all(name, [(f"{r.index:08d}", r.to_json()) for r in results])
        except RowsExist as exists:
            stored = exists.stored
        moves = [counts_moved(None, result) for result in results[:stored]]
        moves += [moved for result in results[stored:] if (moved := self.record_mini_batch(name, result)) is not None]
        return functools.reduce(add_moves, moves) if moves else None

    def record_together(self, name: str, results: list[MiniBatchResult],
                        before: Callable[[], None] = lambda: None) -> dict[str, int] | None:
        """Store results whose rows share one block in one transaction: all or none, so a repeated delivery
        never finds some of them stored (RowsExist, TooManyForOneTransaction: nothing was stored). before (the
        block's upload) is called once they are known to fit that transaction, before it is sent. Gives their
        moves of the job's counts added up."""
        self.mini_batches.create_all(name, [(f"{r.index:08d}", r.to_json()) for r in results], at_once=True,
                                     before=before)
        return functools.reduce(add_moves, [counts_moved(None, result) for result in results])

    def add_counts(self, name: str, moved: dict[str, int]) -> Record:
        """Move the job's live counts (those of a finished job stay as decided); the job as it is then."""
        def change(job: dict) -> dict | None:
            if JobStatus(job["status"]).is_terminal:
                return None
            return {**job, "counts": {key: value + moved.get(key, 0) for key, value in job["counts"].items()}}

        return self.update(name, change)

    def request_cancel(self, name: str) -> Record:
        """Record the user's cancel; the job's own finish turns it into Canceled."""
        record = self.get(name)
        if JobStatus(record.body["status"]).is_terminal:
            raise Conflict(f"Job '{name}' has already finished ({record.body['status']}).", target="name")
        return self.set_status(name, JobStatus.CANCEL_REQUESTED, known=record)
