"""The model registry: versioned models kept as files in the default datastore, described on registration
(MLflow flavors and signature, or the ONNX graph's inputs and outputs)."""
from __future__ import annotations

import tempfile
import uuid
from pathlib import Path, PurePosixPath
from typing import Callable

from .blob_folders import delete_prefix, download_prefix, upload_folder
from .clock import now_iso
from .datastores import DatastoreService
from .defaults import DEFAULT_DATASTORE
from .environment_specs import MLFLOW_FILES
from .errors import Conflict, NotFound, ReferenceNotFound, ValidationFailed, WorkspaceError
from .model_files import RegisteredRoot, describe_model_folder, unpack_registered
from .refs import DatastorePath, parse_asset_ref, parse_datastore_uri
from .resources import ModelSpec
from .storage import Record, WorkspaceStorage
from .versions import AssetVersions

class ModelRegistry(AssetVersions):
    def __init__(self, storage: WorkspaceStorage, datastores: DatastoreService):
        super().__init__(storage.table("Models"), "Model")
        self.datastores = datastores

    # -- registration -------------------------------------------------------------------------------
    def register_upload(self, name: str, data: bytes, filename: str, fields: dict) -> Record:
        spec = self._spec(name, fields)
        with tempfile.TemporaryDirectory() as temp:
            folder = Path(temp) / "model"
            root = unpack_registered(data, filename, folder)
            return self._register(name, spec, folder, root)

    def register_from_path(self, name: str, fields: dict) -> Record:
        spec = self._spec(name, fields)
        if not spec.path:
            raise ValidationFailed("Give the model files: upload them, or set path to "
                                   "azureml://datastores/<datastore>/paths/<path>.", target="path")
        location = parse_datastore_uri(spec.path, "path")
        container = self.datastores.container(location.datastore, field="path")
        with tempfile.TemporaryDirectory() as temp:
            folder = Path(temp) / "model"
            files = download_prefix(container, location.path, folder)
            if not files:
                raise ReferenceNotFound(f"Nothing found at {spec.path}.", target="path")
            own_name = PurePosixPath(location.path.rstrip("/")).name or "model"
            single = len(files) == 1 and files[0] == folder / own_name
            return self._register(name, spec, folder, RegisteredRoot(name=own_name, single_file=single))

    def _spec(self, name: str, fields: dict) -> ModelSpec:
        return self.named_spec(ModelSpec, name, fields)

    def _register(self, name: str, spec: ModelSpec, folder: Path, root: RegisteredRoot) -> Record:
        description = describe_model_folder(folder).model_dump(mode="json")
        if spec.type == "mlflow_model" and description["format"] != "mlflow":
            raise ValidationFailed("type is mlflow_model but the files have no MLmodel file.", target="type")
        self.check_free(name, spec.version)
        container = self.datastores.container(DEFAULT_DATASTORE)
        prefix = f"models/{name}/{uuid.uuid4().hex}/"
        files = upload_folder(container, folder, prefix)
        try:
            return self.create_version(name, spec.version, lambda version: {
                "name": name,
                "version": version,
                "id": f"azureml:{name}:{version}",
                "type": spec.type or ("mlflow_model" if description["format"] == "mlflow" else "custom_model"),
                "description": spec.description,
                "tags": spec.tags,
                "properties": spec.properties,
                "path": str(DatastorePath(DEFAULT_DATASTORE, prefix)),
                "files": files,
                "root": root.model_dump(),
                "created_at": now_iso(),
                **description,
            })
        except WorkspaceError:
            delete_prefix(container, prefix)
            raise

    # -- reading ------------------------------------------------------------------------------------
    def resolve(self, ref: str, field: str) -> dict:
        """`name:version`, `name@latest` or `azureml:` forms to the model's record; a missing one is the
        caller's input error, named by field."""
        parsed = parse_asset_ref(ref, field)
        try:
            return self.get(parsed.name, parsed.version if parsed.version is not None else "latest").body
        except NotFound:
            raise ReferenceNotFound(f"Model '{ref}' does not exist in the registry.", target=field) from None

    @staticmethod
    def root_of(model: dict) -> RegisteredRoot:
        """The registered file or folder; a record from before roots were kept counts as a folder `model`,
        or as its one file."""
        if "root" in model:
            return RegisteredRoot.model_validate(model["root"])
        files = model["files"]
        return RegisteredRoot(name=files[0], single_file=True) if len(files) == 1 and "/" not in files[0] else \
            RegisteredRoot(name="model", single_file=False)

    def environment_files(self, model: dict) -> dict[str, str]:
        """The MLflow environment files the model holds (python_env.yaml, requirements.txt, conda.yaml)."""
        location = parse_datastore_uri(model["path"], "path")
        container = self.datastores.container(location.datastore)
        return {name: container.download_blob(location.path + name).readall().decode("utf-8", errors="replace")
                for name in MLFLOW_FILES if name in model["files"]}

    def download(self, name: str, version: int, destination: Path) -> Path:
        files = parse_datastore_uri(self.get(name, version).body["path"], "path")
        download_prefix(self.datastores.container(files.datastore), files.path, destination)
        return destination

    # -- deletion -----------------------------------------------------------------------------------
    def delete(self, name: str, version: str | int, users: Callable[[str], list[str]]) -> None:
        record = self.get(name, version)
        body = record.body
        using = users(body["id"])
        if using:
            raise Conflict(f"Model '{body['id']}' is used by deployment(s) {', '.join(using)}; delete or change "
                           "them first.", target="name")
        self.delete_record(record)
        files = parse_datastore_uri(body["path"], "path")
        delete_prefix(self.datastores.container(files.datastore), files.path)
