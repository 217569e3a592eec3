"""One job's blobs behind one object: its internal files (the plan, the mini-batches' Parquet parts), the
predictions file it writes, its logs and summary outputs, and the listing and reading of its outputs. The
engine and the HTTP adapters go through it instead of making blob clients of their own."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
from azure.storage.blob import BlobBlock, BlobClient, ContainerClient

from registry.blob_folders import delete_prefix, upload_folder
from registry.blob_wire import put_block, read_url
from registry.datastores import DatastoreService
from registry.defaults import DEFAULT_DATASTORE
from registry.refs import DatastorePath, parse_datastore_uri
from registry.storage import WorkspaceStorage, blob_properties

INTERNAL_CONTAINER = "batch-jobs-internal"  # the engine's own files; never a user's output
JOB_OUTPUTS_ROOT = "jobs"
WRITTEN_BY = "batch_job"  # metadata on a predictions file: the job that committed it


def job_folder(name: str) -> str:
    """The job's own folder in the default datastore: logs, and its outputs unless it names another place."""
    return f"{JOB_OUTPUTS_ROOT}/{name}/"


@dataclass(frozen=True)
class OutputFile:
    path: str  # as the job's outputs name it: the predictions file's name, or relative to the job's folder
    uri: str
    size: int

    def to_json(self) -> dict:
        return asdict(self)


class JobStorage:
    def __init__(self, storage: WorkspaceStorage, datastores: DatastoreService, job: dict):
        self.name = job["name"]
        self.output = job["output"]
        self.appends_rows = job["settings"]["output_action"] == "append_row"
        self._storage = storage
        self._datastores = datastores

    # -- internal files ---------------------------------------------------------------------------------
    @property
    def internal_prefix(self) -> str:
        return f"{self.name}/"

    @property
    def _internal(self) -> ContainerClient:
        return self._storage.container(INTERNAL_CONTAINER)

    def _part(self, index: int) -> str:
        return f"{self.internal_prefix}parts/{index:08d}.parquet"

    def write_plan(self, plan: list) -> None:
        self._internal.upload_blob(f"{self.internal_prefix}plan.json", json.dumps(plan), overwrite=True)

    def read_plan(self) -> list:
        return json.loads(self._internal.download_blob(f"{self.internal_prefix}plan.json").readall())

    def upload_part(self, index: int, path: Path) -> None:
        with open(path, "rb") as stream:
            self._internal.upload_blob(self._part(index), stream, overwrite=True)

    def read_part(self, index: int) -> bytes:
        return self._internal.download_blob(self._part(index)).readall()

    def download_part(self, index: int, destination: Path) -> None:
        with open(destination, "wb") as sink:
            self._internal.download_blob(self._part(index)).readinto(sink)

    def delete_internal(self) -> int:
        return delete_prefix(self._internal, self.internal_prefix)

    # -- the predictions file ---------------------------------------------------------------------------
    @property
    def predictions_uri(self) -> str:
        return self.output["uri"]

    @cached_property
    def _predictions_container(self) -> ContainerClient:
        return self._datastores.container(self.output["datastore"])

    @property
    def _predictions_path(self) -> str:
        return self.output["folder"] + self.output["file_name"]

    @cached_property
    def _predictions(self) -> BlobClient:
        return self._predictions_container.get_blob_client(self._predictions_path)

    def predictions_exist(self) -> bool:
        return self._predictions.exists()

    def stage_block(self, block_id: str, data: bytes) -> None:
        """With its MD5 (transactional Content-MD5), so the service refuses a block damaged on the way."""
        if not put_block(self._predictions_container, self._predictions_path, block_id, data):
            self._predictions.stage_block(block_id, data, length=len(data), validate_content=True)

    def commit_predictions(self, block_ids: list[str]) -> bool:
        """The file appears at once, and only if nothing is there yet (uncommitted blocks of other ids go);
        False where a file appeared first."""
        try:
            self._predictions.commit_block_list([BlobBlock(block) for block in block_ids],
                                                metadata={WRITTEN_BY: self.name},
                                                match_condition=MatchConditions.IfMissing)
        except (ResourceExistsError, ResourceModifiedError):
            return False
        return True

    # -- logs and summary outputs -----------------------------------------------------------------------
    def write_log(self, relative: str, text: str) -> None:
        self._datastores.container(DEFAULT_DATASTORE).upload_blob(
            job_folder(self.name) + relative, text.encode("utf-8"), overwrite=True)

    def upload_summary(self, folder: Path) -> None:
        """The files a summary_only script wrote, into the job's output folder."""
        upload_folder(self._datastores.container(self.output["datastore"]), folder, self.output["folder"])

    # -- the job's outputs, as listed and downloaded ----------------------------------------------------
    def output_files(self) -> list[OutputFile]:
        """The predictions file (once this job committed it: a file someone else wrote there is not this job's
        output), then everything in the job's folder: logs, summaries."""
        files = []
        if self.appends_rows:
            properties = blob_properties(self._datastores.container(self.output["datastore"]),
                                         self.output["folder"] + self.output["file_name"])
            if properties is not None and properties.metadata.get(WRITTEN_BY) == self.name:
                files.append(OutputFile(self.output["file_name"], self.predictions_uri, properties.size))
        folder = job_folder(self.name)
        for blob in self._datastores.container(DEFAULT_DATASTORE).list_blobs(name_starts_with=folder):
            relative = blob.name[len(folder):]
            if relative != self.output["file_name"] or self.output["folder"] != folder:
                files.append(OutputFile(relative, str(DatastorePath(DEFAULT_DATASTORE, blob.name)), blob.size))
        return files

    def read_output(self, output: OutputFile, offset: int = 0, length: int | None = None) -> bytes:
        """The file's bytes, or length of them from offset (a download in ranges holds one range at a time)."""
        location = parse_datastore_uri(output.uri, "path")
        container = self._datastores.container(location.datastore)
        return container.download_blob(location.path, offset=offset, length=length).readall()

    def output_read_url(self, output: OutputFile) -> str | None:
        """A short-lived read-only URL for this one file, where its datastore's credential can sign one."""
        location = parse_datastore_uri(output.uri, "path")
        return read_url(self._datastores.container(location.datastore), location.path)
