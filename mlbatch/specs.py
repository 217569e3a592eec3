"""Azure ML CLI v2 YAML files read unchanged: loading, `--set` overrides, and telling local paths (to upload)
from references to this registry."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .client import UsageError

REMOTE_PREFIXES = ("azureml:", "azureml://", "http://", "https://", "wasbs://", "abfss://")


@dataclass
class Spec:
    """A resource document and the folder its relative paths start from."""

    body: dict
    base: Path


def load_spec(file: str | None, sets: list[str] | None = None, **fields: Any) -> Spec:
    body: dict = {}
    base = Path.cwd()
    if file:
        path = Path(file)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise UsageError(f"cannot read {file}: {error.strerror}") from None
        except yaml.YAMLError as error:
            raise UsageError(f"{file} is not valid YAML: {error}") from None
        if not isinstance(loaded, dict):
            raise UsageError(f"{file} must hold a YAML mapping of fields.")
        body, base = loaded, path.resolve().parent
    body.pop("$schema", None)
    for name, value in fields.items():
        if value is not None:
            body[name] = value
    for assignment in sets or []:
        apply_set(body, assignment)
    return Spec(body, base)


def apply_set(body: dict, assignment: str) -> None:
    """`a.b.c=value`, the value read as YAML (numbers, booleans, lists) like `az ml ... --set`."""
    path, sep, raw = assignment.partition("=")
    if not sep or not path.strip():
        raise UsageError(f"--set expects field.path=value, got '{assignment}'.")
    keys = path.strip().split(".")
    node = body
    for key in keys[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    try:
        node[keys[-1]] = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        node[keys[-1]] = raw


def is_local(path: str) -> bool:
    return not path.startswith(REMOTE_PREFIXES)


def local_path(spec: Spec, path: str, field: str) -> Path:
    resolved = (spec.base / path).resolve()
    if not resolved.exists():
        raise UsageError(f"{field}: local path '{path}' does not exist (looked in {spec.base}).")
    return resolved


def strip_azureml(ref: str) -> str:
    return ref[len("azureml:"):] if ref.startswith("azureml:") and not ref.startswith("azureml://") else ref
