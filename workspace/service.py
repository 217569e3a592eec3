"""The workspace's services wired together over one storage account."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .codes import CodeService
from .data_assets import DataAssetService
from .datastores import DatastoreService
from .endpoints import EndpointService
from .inboxes import InboxService
from .jobs import JobService
from .models import ModelRegistry
from .schedules import ScheduleService
from .storage import WorkspaceStorage, connection_string


@dataclass
class Workspace:
    storage: WorkspaceStorage
    datastores: DatastoreService
    models: ModelRegistry
    data: DataAssetService
    codes: CodeService
    endpoints: EndpointService
    jobs: JobService
    inboxes: InboxService
    schedules: ScheduleService

    @classmethod
    def open(cls, conn: str) -> "Workspace":
        storage = WorkspaceStorage(conn)
        datastores = DatastoreService(storage)
        datastores.ensure_default()
        models = ModelRegistry(storage, datastores)
        codes = CodeService(storage, datastores)
        data = DataAssetService(storage, datastores)
        endpoints = EndpointService(storage, models, codes)
        jobs = JobService(storage, datastores, models, data, endpoints)
        return cls(storage, datastores, models, data, codes, endpoints, jobs,
                   InboxService(storage, datastores, endpoints), ScheduleService(storage, endpoints, jobs))


@lru_cache(maxsize=4)
def _open(conn: str) -> Workspace:
    return Workspace.open(conn)


def current_workspace() -> Workspace:
    """The workspace of this app's storage account, opened once per process."""
    return _open(connection_string())
