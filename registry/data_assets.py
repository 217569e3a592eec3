"""Data assets: versioned `uri_file` / `uri_folder` pointers at datastore paths or web URLs, or at files
uploaded into the default datastore."""
from __future__ import annotations

import tempfile
import uuid
from pathlib import Path, PurePosixPath

from .blob_folders import delete_prefix, upload_folder
from .clock import now_iso
from .datastores import DatastoreService
from .defaults import DEFAULT_DATASTORE
from .errors import ValidationFailed, WorkspaceError
from .outbound import check_url
from .refs import DatastorePath, parse_datastore_uri
from .resources import DataAssetSpec
from .storage import Record, WorkspaceStorage
from .uploads import is_zip, unpack_zip
from .versions import AssetVersions


class DataAssetService(AssetVersions):
    def __init__(self, storage: WorkspaceStorage, datastores: DatastoreService):
        super().__init__(storage.table("DataAssets"), "Data asset")
        self.datastores = datastores

    def create(self, name: str, fields: dict) -> Record:
        spec = self._spec(name, fields)
        if not spec.path:
            raise ValidationFailed("Give path: azureml://datastores/<datastore>/paths/<path> or an http(s) URL, "
                                   "or upload the files.", target="path")
        if spec.path.startswith(("http://", "https://")):
            check_url(spec.path, "path")
            return self._store(name, spec, spec.path, uploaded=False)
        location = parse_datastore_uri(spec.path, "path")
        self.datastores.container(location.datastore, field="path")
        return self._store(name, spec, str(location), uploaded=False)

    def create_from_upload(self, name: str, data: bytes, filename: str, fields: dict) -> Record:
        spec = self._spec(name, fields)
        safe_name = PurePosixPath(filename.replace("\\", "/")).name
        if not safe_name:
            raise ValidationFailed("The uploaded file needs a name (filename).", target="filename")
        with tempfile.TemporaryDirectory() as temp:
            folder = Path(temp) / "data"
            if spec.type == "uri_folder" and is_zip(data):
                unpack_zip(data, folder)
            elif spec.type == "uri_folder":
                raise ValidationFailed("Upload a uri_folder as a .zip of the folder.", target="file")
            else:
                folder.mkdir()
                (folder / safe_name).write_bytes(data)
            return self._store(name, spec, None, uploaded=True, folder=folder, file_name=safe_name)

    def _spec(self, name: str, fields: dict) -> DataAssetSpec:
        return self.named_spec(DataAssetSpec, name, fields)

    def _store(self, name: str, spec: DataAssetSpec, path: str | None, *, uploaded: bool,
               folder: Path | None = None, file_name: str | None = None) -> Record:
        self.check_free(name, spec.version)
        container = self.datastores.container(DEFAULT_DATASTORE)
        prefix = f"data/{name}/{uuid.uuid4().hex}/"
        if uploaded:
            upload_folder(container, folder, prefix)
            path = str(DatastorePath(DEFAULT_DATASTORE, prefix + (file_name if spec.type == "uri_file" else "")))
        try:
            return self.create_version(name, spec.version, lambda version: {
                "name": name, "version": version, "id": f"azureml:{name}:{version}", "type": spec.type,
                "path": path, "description": spec.description, "tags": spec.tags, "properties": spec.properties,
                "uploaded": uploaded, "upload_prefix": prefix if uploaded else None, "created_at": now_iso()})
        except WorkspaceError:
            if uploaded:
                delete_prefix(container, prefix)
            raise

    def delete(self, name: str, version: str | int) -> None:
        record = self.get(name, version)
        self.delete_record(record)
        if record.body.get("uploaded"):
            delete_prefix(self.datastores.container(DEFAULT_DATASTORE), record.body["upload_prefix"])
