"""The job engine wired over the registry: the job records, the settings, and each job's storage gateway."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from registry.service import Registry, current_registry

from .job_storage import JobStorage
from .records import JobRecords
from .settings import EngineSettings, engine_settings


@dataclass
class JobEngine:
    registry: Registry
    records: JobRecords
    settings: EngineSettings

    @classmethod
    def open(cls, registry: Registry, settings: EngineSettings) -> "JobEngine":
        return cls(registry, JobRecords(registry.storage, registry.datastores, registry.models, registry.data,
                                        registry.endpoints), settings)

    def storage_for(self, job: dict) -> JobStorage:
        return JobStorage(self.registry.storage, self.registry.datastores, job)


@lru_cache(maxsize=4)
def _open(registry: Registry) -> JobEngine:
    return JobEngine.open(registry, engine_settings())


def current_engine() -> JobEngine:
    """The job engine of this app's storage account, opened once per process."""
    return _open(current_registry())
