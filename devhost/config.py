"""Host configuration read from an app folder: host.json and local.settings.json, with the documented defaults."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from pydantic import BaseModel, Field, field_validator

from .leases import check_lease_seconds

DEFAULT_SCRIPT_FILE = "function_app.py"
DEFAULT_ROUTE_PREFIX = "api"
DEFAULT_HUB_NAME = "TestHubName"
DEFAULT_PARTITION_COUNT = 4
DEFAULT_MAX_DEQUEUE_COUNT = 5
DEFAULT_PORT = 7071
DEFAULT_PARTITION_LEASE_SECONDS = 30  # the Durable Task Azure Storage provider's LeaseInterval
DEFAULT_LISTENER_LOCK_SECONDS = 60.0  # the Functions host's singleton.listenerLockPeriod
DEFAULT_LISTENER_LOCK_RECOVERY_SECONDS = 60.0  # ... and singleton.listenerLockRecoveryPollingInterval
PARTITION_LEASE_SETTING = "DEVHOST_PARTITION_LEASE_SECONDS"

_HUB_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,44}$")


class DurableSettings(BaseModel):
    """`extensions.durableTask` of host.json, the part the local runtime honours."""

    hub_name: str = DEFAULT_HUB_NAME
    partition_count: int = Field(DEFAULT_PARTITION_COUNT, ge=1, le=16)
    max_concurrent_activities: int | None = None

    @field_validator("hub_name")
    @classmethod
    def _valid_hub_name(cls, value: str) -> str:
        if not _HUB_NAME.fullmatch(value):
            raise ValueError(
                "extensions.durableTask.hubName must be 3-45 letters and digits, starting with a letter"
            )
        return value


class HostSettings(BaseModel):
    """What host.json says, with the Functions host's defaults where it is silent."""

    route_prefix: str = DEFAULT_ROUTE_PREFIX
    durable: DurableSettings = DurableSettings()
    queue_max_dequeue_count: int = DEFAULT_MAX_DEQUEUE_COUNT
    queue_visibility_timeout_seconds: float = 0.0
    listener_lock_seconds: float = DEFAULT_LISTENER_LOCK_SECONDS
    listener_lock_recovery_seconds: float = DEFAULT_LISTENER_LOCK_RECOVERY_SECONDS

    @field_validator("listener_lock_seconds")
    @classmethod
    def _valid_lock_period(cls, value: float) -> float:
        return check_lease_seconds(value, "singleton.listenerLockPeriod")

    @classmethod
    def from_host_json(cls, data: dict) -> "HostSettings":
        extensions = data.get("extensions") or {}
        http = extensions.get("http") or {}
        durable = extensions.get("durableTask") or {}
        provider = durable.get("storageProvider") or {}
        queues = extensions.get("queues") or {}
        singleton = data.get("singleton") or {}
        durable_kwargs = {"hub_name": durable.get("hubName", DEFAULT_HUB_NAME)}
        if "partitionCount" in provider:
            durable_kwargs["partition_count"] = provider["partitionCount"]
        if "maxConcurrentActivityFunctions" in durable:
            durable_kwargs["max_concurrent_activities"] = durable["maxConcurrentActivityFunctions"]
        return cls(
            route_prefix=str(http.get("routePrefix", DEFAULT_ROUTE_PREFIX)).strip("/"),
            durable=DurableSettings(**durable_kwargs),
            queue_max_dequeue_count=int(queues.get("maxDequeueCount", DEFAULT_MAX_DEQUEUE_COUNT)),
            queue_visibility_timeout_seconds=_timespan_seconds(queues.get("visibilityTimeout", "00:00:00")),
            listener_lock_seconds=_timespan_seconds(singleton.get("listenerLockPeriod", "00:01:00")),
            listener_lock_recovery_seconds=_timespan_seconds(
                singleton.get("listenerLockRecoveryPollingInterval", "00:01:00")),
        )


def _timespan_seconds(text: str) -> float:
    """A .NET TimeSpan, `[d.]hh:mm:ss[.fff]`."""
    hours_part, minutes, seconds = str(text).split(":")
    days, _, hours = hours_part.rpartition(".")
    return float(days or 0) * 86400 + float(hours) * 3600 + float(minutes) * 60 + float(seconds)


HOST_OVERRIDE_PREFIX = "AzureFunctionsJobHost__"


def apply_host_overrides(data: dict, environ: dict[str, str]) -> dict:
    """Environment variables `AzureFunctionsJobHost__a__b` override host.json's `a.b`, as in the real host."""
    for key, value in environ.items():
        if not key.startswith(HOST_OVERRIDE_PREFIX):
            continue
        path = key[len(HOST_OVERRIDE_PREFIX):].split("__")
        node = data
        for part in path[:-1]:
            match = next((k for k in node if k.lower() == part.lower()), part)
            node = node.setdefault(match, {})
        last = next((k for k in node if k.lower() == path[-1].lower()), path[-1])
        node[last] = value
    return data


def read_host_settings(app_dir: Path) -> HostSettings:
    path = app_dir / "host.json"
    data = json.loads(path.read_text()) if path.exists() else {"version": "2.0"}
    if str(data.get("version")) != "2.0":
        raise ValueError(f"{path}: 'version' must be \"2.0\"")
    return HostSettings.from_host_json(apply_host_overrides(data, dict(os.environ)))


def read_local_settings(app_dir: Path) -> dict[str, str]:
    """The `Values` of local.settings.json; absent file means no values."""
    path = app_dir / "local.settings.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {key: str(value) for key, value in (data.get("Values") or {}).items()}


def apply_local_settings(app_dir: Path) -> None:
    """Export local.settings.json values as the host does; real environment variables win."""
    for key, value in read_local_settings(app_dir).items():
        os.environ.setdefault(key, value)


def partition_lease_seconds(environ: dict[str, str] | None = None) -> int:
    """How long a host's lease on a task hub partition lasts (renewed every third of it); the real provider
    does not let host.json change it, so the local runtime takes it from an environment setting."""
    value = (os.environ if environ is None else environ).get(PARTITION_LEASE_SETTING)
    if not value:
        return DEFAULT_PARTITION_LEASE_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"{PARTITION_LEASE_SETTING} must be a number of seconds, not {value!r}") from None
    return check_lease_seconds(seconds, PARTITION_LEASE_SETTING)


def script_file_name() -> str:
    return os.environ.get("PYTHON_SCRIPT_FILE_NAME") or DEFAULT_SCRIPT_FILE
