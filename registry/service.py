"""The registry's services wired together over one storage account."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .codes import CodeService
from .data_assets import DataAssetService
from .datastores import DatastoreService
from .endpoints import EndpointService
from .environment_builds import EnvironmentBuilds
from .environments import EnvironmentService
from .inboxes import InboxService
from .models import ModelRegistry
from .schedules import ScheduleService
from .storage import WorkspaceStorage, connection_string


@dataclass(eq=False)  # one per account, cached by identity
class Registry:
    storage: WorkspaceStorage
    datastores: DatastoreService
    models: ModelRegistry
    data: DataAssetService
    codes: CodeService
    endpoints: EndpointService
    inboxes: InboxService
    schedules: ScheduleService
    environments: EnvironmentService
    builds: EnvironmentBuilds

    @classmethod
    def open(cls, conn: str) -> "Registry":
        storage = WorkspaceStorage(conn)
        datastores = DatastoreService(storage)
        datastores.ensure_default()
        models = ModelRegistry(storage, datastores)
        codes = CodeService(storage, datastores)
        data = DataAssetService(storage, datastores)
        environments = EnvironmentService(storage)
        endpoints = EndpointService(storage, models, codes, environments)
        return cls(storage, datastores, models, data, codes, endpoints, InboxService(storage, datastores, endpoints),
                   ScheduleService(storage, endpoints), environments, EnvironmentBuilds(storage))


@lru_cache(maxsize=4)
def _open(conn: str) -> Registry:
    return Registry.open(conn)


def current_registry() -> Registry:
    """The registry of this app's storage account, opened once per process."""
    return _open(connection_string())
