"""Load a Python v2 Functions app and index its functions by trigger, as the Functions worker does."""
from __future__ import annotations

import importlib.util
import inspect
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import azure.functions as func

SUPPORTED_TRIGGERS = {
    "httpTrigger",
    "orchestrationTrigger",
    "activityTrigger",
    "blobTrigger",
    "timerTrigger",
    "queueTrigger",
}
SUPPORTED_BINDINGS = SUPPORTED_TRIGGERS | {"http", "durableClient"}


class AppLoadError(Exception):
    """The app folder cannot be run: a clear message says why."""


@dataclass
class FunctionSpec:
    """One function of the app: its name, trigger binding, other bindings and the callable."""

    name: str
    trigger: dict
    bindings: list[dict]
    user_function: Callable[..., Any]
    is_async: bool = False
    parameters: list[str] = field(default_factory=list)

    @property
    def trigger_type(self) -> str:
        return self.trigger["type"]

    def binding_of_type(self, binding_type: str) -> dict | None:
        return next((b for b in self.bindings if b["type"] == binding_type), None)

    @property
    def durable_name(self) -> str:
        """The name orchestrations and activities are called by (the trigger may rename them)."""
        return self.trigger.get("orchestration") or self.trigger.get("activity") or self.name


@dataclass
class AppIndex:
    functions: dict[str, FunctionSpec]

    def by_trigger(self, trigger_type: str) -> list[FunctionSpec]:
        return [f for f in self.functions.values() if f.trigger_type == trigger_type]

    def orchestrators(self) -> dict[str, FunctionSpec]:
        return {f.durable_name: f for f in self.by_trigger("orchestrationTrigger")}

    def activities(self) -> dict[str, FunctionSpec]:
        return {f.durable_name: f for f in self.by_trigger("activityTrigger")}


def import_entry_script(app_dir: Path, script_file: str):
    """Import the entry script the way the worker does: the app folder first on sys.path."""
    script = app_dir / script_file
    if not script.exists():
        raise AppLoadError(f"entry script {script} not found (PYTHON_SCRIPT_FILE_NAME={script_file})")
    app_path = str(app_dir.resolve())
    if app_path not in sys.path:
        sys.path.insert(0, app_path)
    module_name = script.stem
    spec = importlib.util.spec_from_file_location(module_name, script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def find_app_object(module) -> func.FunctionRegister:
    apps = [value for value in vars(module).values() if isinstance(value, func.FunctionRegister)]
    if len(apps) != 1:
        raise AppLoadError(
            f"{module.__file__} must define exactly one FunctionApp/DFApp object, found {len(apps)}"
        )
    return apps[0]


def index_app(app: func.FunctionRegister) -> AppIndex:
    functions: dict[str, FunctionSpec] = {}
    for function in app.get_functions():
        name = function.get_function_name()
        bindings = json.loads(function.get_function_json())["bindings"]
        for binding in bindings:
            if binding["type"] not in SUPPORTED_BINDINGS:
                raise AppLoadError(
                    f"function '{name}': binding type '{binding['type']}' is not supported by the local "
                    f"runtime (supported: {', '.join(sorted(SUPPORTED_BINDINGS))})"
                )
        triggers = [b for b in bindings if b["type"] in SUPPORTED_TRIGGERS]
        if len(triggers) != 1:
            raise AppLoadError(f"function '{name}' must have exactly one trigger")
        user_function = function.get_user_function()
        parameters = list(inspect.signature(user_function).parameters)
        functions[name] = FunctionSpec(
            name=name,
            trigger=triggers[0],
            bindings=[b for b in bindings if b is not triggers[0]],
            user_function=user_function,
            is_async=inspect.iscoroutinefunction(user_function),
            parameters=parameters,
        )
    return AppIndex(functions)


def load_app(app_dir: Path, script_file: str) -> AppIndex:
    module = import_entry_script(app_dir, script_file)
    return index_app(find_app_object(module))
