"""Load a Python v2 Functions app and index its functions by trigger, as the Functions worker does."""
from __future__ import annotations

import collections.abc
import importlib.util
import inspect
import json
import sys
import typing
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


def _is_generic(annotation) -> bool:
    """A typing generic (`List[int]`, `Mapping`), as the worker tells them apart: not Union, Tuple, ClassVar or
    Callable, and not a builtin's `list[int]`, which the worker takes for no type at all."""
    if isinstance(annotation, type):
        return issubclass(annotation, typing.Generic)
    return (isinstance(annotation, (typing._GenericAlias, typing._SpecialGenericAlias))
            and annotation.__origin__ not in (typing.Union, tuple, typing.ClassVar, collections.abc.Callable))


def _converter(binding_type: str):
    """The SDK's converter for a binding type; the worker asks the same registry."""
    return func.get_binding_registry().get(binding_type)


def _accepts(binding_type: str, annotation) -> bool:
    """Whether the worker lets a parameter so annotated take this binding: str and bytes take any binding
    without an implicit output (the worker's generic binding), anything else must suit the type's converter."""
    converter = _converter(binding_type)
    if converter is None:
        implicit_output = binding_type != "durableClient"
    else:
        implicit_output = getattr(converter, "has_implicit_output", lambda: False)()
    if annotation in (str, bytes) and not implicit_output:
        return True
    try:
        if converter is None:
            return issubclass(annotation, (str, bytes))
        return bool(converter.check_input_type_annotation(annotation))
    except TypeError:  # a generic alias where the converter wants a class: the worker fails on it too
        return False


def _gives(binding_type: str, annotation) -> bool:
    """Whether the worker lets a function so annotated return to its `$return` binding of this type."""
    if not isinstance(annotation, type):
        return False
    converter = _converter(binding_type)
    if converter is None:
        return issubclass(annotation, (str, bytes, bytearray))
    return bool(converter.check_output_type_annotation(annotation))


def check_signature(name: str, user_function: Callable[..., Any], bindings: list[dict]) -> None:
    """Refuse what the Python worker refuses when it indexes the app (it then runs none of the app's functions),
    so that an app that starts here starts in Azure: every parameter but `context` names a binding and every
    binding but `$return` a parameter, and annotations suit their bindings by the SDK converters' own checks,
    which the worker asks too."""
    parameters = list(inspect.signature(user_function).parameters)
    try:
        hints = typing.get_type_hints(user_function)
    except Exception as error:
        raise AppLoadError(f"function '{name}': its annotations cannot be resolved: {error}") from error
    bound = {binding["name"]: binding for binding in bindings if binding["name"] != "$return"}
    if "context" in parameters and "context" not in bound:
        parameters.remove("context")
        annotation = hints.get("context", func.Context)
        if not isinstance(annotation, type) or annotation.__name__ != "Context":
            raise AppLoadError(f"function '{name}': a 'context' parameter must be an azure.functions.Context")
    unbound = [parameter for parameter in parameters if parameter not in bound]
    if unbound:
        raise AppLoadError(f"function '{name}': parameters with no binding of that name: {', '.join(unbound)}")
    absent = [binding for binding in bound if binding not in parameters]
    if absent:
        raise AppLoadError(f"function '{name}': bindings with no parameter of that name: {', '.join(absent)}")
    for parameter in (parameter for parameter in parameters if parameter in hints):
        annotation, binding_type = hints[parameter], bound[parameter]["type"]
        if not (isinstance(annotation, type) or _is_generic(annotation)):
            raise AppLoadError(f"function '{name}': parameter '{parameter}' is annotated {annotation!r}, not a type")
        if not _accepts(binding_type, annotation):
            raise AppLoadError(f"function '{name}': parameter '{parameter}' is annotated {_type_name(annotation)}, "
                               f"which its {binding_type} binding does not give")
    returned = next((binding for binding in bindings if binding["name"] == "$return"), None)
    if returned is not None and "return" in hints and not _gives(returned["type"], hints["return"]):
        raise AppLoadError(f"function '{name}': return annotation {_type_name(hints['return'])} does not suit its "
                           f"{returned['type']} output")


def _type_name(annotation) -> str:
    return annotation.__name__ if isinstance(annotation, type) else repr(annotation)


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
        check_signature(name, user_function, bindings)
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
