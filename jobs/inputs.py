"""A job's input: where its files are (a datastore path or an http(s) URL), listing them recursively, and
reading whole files or byte ranges of them."""
from __future__ import annotations

import io
import shutil
import urllib.error
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.storage.blob import ContainerClient

from registry.blob_wire import copy_blob, list_blobs
from registry.datastores import DatastoreService
from registry.errors import ReferenceNotFound, UserError, ValidationFailed
from registry.outbound import open_url
from registry.refs import DatastorePath, parse_datastore_uri
from registry.storage import blob_properties

from .settings import DEFAULT_LINE_PROBE_BYTES, DEFAULT_URL_TIMEOUT_SECONDS


class DatastoreUnreachable(UserError):
    """The input's datastore refused or dropped the connection, after the client's bounded retries."""

    code = "DatastoreUnreachable"


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]


@dataclass(frozen=True)
class InputFile:
    name: str  # relative to the input (a file input: its own name)
    uri: str  # azureml://datastores/<ds>/paths/<blob> or an http(s) URL
    size: int


def is_url(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


class InputReader:
    def __init__(self, datastores: DatastoreService):
        self.datastores = datastores

    def _blob(self, uri: str) -> tuple[ContainerClient, str]:
        location = parse_datastore_uri(uri, "input")
        return self.datastores.container(location.datastore, field="input"), location.path

    def list_files(self, uri: str, input_type: str | None) -> list[InputFile]:
        """Every file of the input, sorted by name; a folder is listed recursively."""
        if is_url(uri):
            if input_type == "uri_folder":
                raise ValidationFailed("An http(s) input is one file: use input_type uri_file.", target="input_type")
            name = PurePosixPath(uri.split("?", 1)[0]).name or "input"
            return [InputFile(name, uri, -1)]
        location = parse_datastore_uri(uri, "input")
        container = self.datastores.container(location.datastore, field="input")
        try:
            return self._list_blobs(container, location, uri, input_type)
        except (ServiceRequestError, ServiceResponseError) as error:
            raise DatastoreUnreachable(
                f"Datastore '{location.datastore}' did not answer at {container.primary_endpoint.split('?')[0]} "
                f"({_first_line(error)}). Check its account_url and that the storage account can be reached "
                "from the app.") from None

    @staticmethod
    def _list_blobs(container: ContainerClient, location: DatastorePath, uri: str,
                    input_type: str | None) -> list[InputFile]:
        path = location.path
        if input_type != "uri_folder" and path and not path.endswith("/"):
            properties = blob_properties(container, path)
            if properties is not None:
                return [InputFile(PurePosixPath(path).name, uri, properties.size)]
            if input_type == "uri_file":
                raise ReferenceNotFound(f"The input file {uri} does not exist.", target="input")
        prefix = path.rstrip("/") + "/" if path.strip("/") else ""
        files = [InputFile(name[len(prefix):], str(DatastorePath(location.datastore, name)), size)
                 for name, size in list_blobs(container, prefix)]
        if not files:
            raise ReferenceNotFound(f"The input {uri} holds no files.", target="input")
        return sorted(files, key=lambda f: f.name)

    def download(self, file: InputFile, destination: Path, byte_range: tuple[int, int] | None = None,
                 header_bytes: int = 0) -> Path:
        """The file, or its header line(s) followed by one byte range of it, into destination."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        with open(destination, "wb") as sink:
            if header_bytes and byte_range and byte_range[0] > 0:
                self._copy_range(file, sink, 0, header_bytes)
            if byte_range is None:
                self._copy_whole(file, sink)
            else:
                self._copy_range(file, sink, byte_range[0], byte_range[1] - byte_range[0])
        return destination

    def _copy_whole(self, file: InputFile, sink) -> None:
        if is_url(file.uri):
            try:
                with open_url(file.uri, "input", DEFAULT_URL_TIMEOUT_SECONDS) as response:
                    shutil.copyfileobj(response, sink, 1024 * 1024)
            except (urllib.error.URLError, OSError) as error:
                raise ReferenceNotFound(f"The input {file.uri} cannot be read: {error}", target="input") from None
            return
        copy_blob(*self._blob(file.uri), sink)

    def _copy_range(self, file: InputFile, sink, offset: int, length: int) -> None:
        """length bytes of the file from offset, written straight into sink (no copy of a piece in memory)."""
        if length > 0:
            copy_blob(*self._blob(file.uri), sink, offset, length)

    def read_range(self, file: InputFile, offset: int, length: int) -> bytes:
        sink = io.BytesIO()
        self._copy_range(file, sink, offset, length)
        return sink.getvalue()

    def next_line_start(self, file: InputFile, offset: int) -> int:
        """The offset just after the first newline at or after offset (the file's size if none)."""
        while offset < file.size:
            chunk = self.read_range(file, offset, min(DEFAULT_LINE_PROBE_BYTES, file.size - offset))
            found = chunk.find(b"\n")
            if found >= 0:
                return offset + found + 1
            offset += len(chunk)
        return file.size
