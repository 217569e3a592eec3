"""Code assets: the uploaded folders of scoring scripts, content-addressed, removed when no deployment
uses them any more."""
from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path, PurePosixPath

from .blob_folders import delete_prefix, upload_folder
from .clock import now_iso
from .datastores import DatastoreService
from .defaults import DEFAULT_DATASTORE
from .errors import AlreadyExists, NotFound, ReferenceNotFound, ValidationFailed
from .storage import Record, WorkspaceStorage
from .uploads import unpack_zip

PARTITION = "code"
ID_PREFIX = "azureml:code:"


class CodeService:
    def __init__(self, storage: WorkspaceStorage, datastores: DatastoreService):
        self.table = storage.table("Codes")
        self.datastores = datastores

    def upload(self, data: bytes, filename: str) -> Record:
        base_name = PurePosixPath(filename).name
        if not base_name.lower().endswith((".zip", ".py")):
            raise ValidationFailed("Upload the code folder as a .zip file, or one scoring script as a .py file.",
                                   target="file")
        digest = hashlib.sha256(base_name.encode() + b"\0" + data if base_name.lower().endswith(".py") else data) \
            .hexdigest()[:32]
        existing = self.table.find(PARTITION, digest)
        if existing:
            return existing
        with tempfile.TemporaryDirectory() as temp:
            folder = Path(temp) / "code"
            if base_name.lower().endswith(".py"):
                folder.mkdir()
                (folder / base_name).write_bytes(data)
            else:
                folder = unpack_zip(data, folder)
            container = self.datastores.container(DEFAULT_DATASTORE)
            files = upload_folder(container, folder, f"codes/{digest}/")
        body = {"id": f"{ID_PREFIX}{digest}", "name": digest, "files": files,
                "path": f"azureml://datastores/{DEFAULT_DATASTORE}/paths/codes/{digest}/", "created_at": now_iso()}
        try:
            return self.table.create(PARTITION, digest, body, "Code asset", digest)
        except AlreadyExists:  # the same content uploaded concurrently
            found = self.table.find(PARTITION, digest)
            if found:
                return found
            raise

    def get(self, code_id: str, field: str = "code") -> dict:
        digest = code_id[len(ID_PREFIX):] if code_id.startswith(ID_PREFIX) else code_id
        record = self.table.find(PARTITION, digest)
        if record is None:
            raise ReferenceNotFound(f"Code asset '{code_id}' does not exist; upload the code folder first "
                                    "(POST /api/codes).", target=field)
        return record.body

    def show(self, name: str) -> dict:
        record = self.table.find(PARTITION, name[len(ID_PREFIX):] if name.startswith(ID_PREFIX) else name)
        if record is None:
            raise NotFound(f"Code asset '{name}' was not found.", target="name")
        return record.body

    def delete_if_unused(self, code_id: str, deployments: list[dict]) -> bool:
        if any((b.get("code_configuration") or {}).get("code") == code_id for b in deployments):
            return False
        digest = code_id[len(ID_PREFIX):]
        delete_prefix(self.datastores.container(DEFAULT_DATASTORE), f"codes/{digest}/")
        self.table.delete(PARTITION, digest)
        return True
