"""What the trigger listeners share: app-setting resolution and building a function's arguments."""
from __future__ import annotations

import inspect
import os
import re
import typing

from ..app_loader import FunctionSpec

HOSTS_CONTAINER = "azure-webjobs-hosts"
_SETTING = re.compile(r"%([^%]+)%")


def resolve_setting_references(text: str) -> str:
    """`%NAME%` in binding properties stands for the app setting NAME."""
    return _SETTING.sub(lambda m: os.environ.get(m.group(1), m.group(0)), text)


def connection_string_for(binding: dict, default: str) -> str:
    name = binding.get("connection") or "AzureWebJobsStorage"
    return os.environ.get(name) or os.environ.get(f"{name}__connectionString") or default


def annotation_of(spec: FunctionSpec, parameter: str):
    """The parameter's type, also when annotations are strings (`from __future__ import annotations`)."""
    try:
        hints = typing.get_type_hints(spec.user_function)
    except Exception:
        hints = {}
    if parameter in hints:
        return hints[parameter]
    return inspect.signature(spec.user_function).parameters[parameter].annotation


def extra_arguments(spec: FunctionSpec, client_binding_json: str) -> dict:
    """Input bindings besides the trigger; a durable client is the one the local runtime provides."""
    return {b["name"]: client_binding_json for b in spec.bindings if b["type"] == "durableClient"}


async def close_quietly(*clients) -> None:
    """Close storage clients when a listener ends; a failure to close is no reason to fail a shutdown."""
    for client in clients:
        try:
            await client.close()
        except Exception:
            pass
