"""What a model's files are: an MLflow model (flavors and signature from `MLmodel`), an ONNX graph (its
inputs and outputs), or a custom folder that needs a scoring script."""
from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Literal

import yaml
from pydantic import BaseModel, Field

from .errors import ValidationFailed
from .uploads import is_zip, unpack_zip

MLMODEL = "MLmodel"
ONNX_SUFFIX = ".onnx"


class TensorInfo(BaseModel):
    name: str
    type: str
    shape: list[int | str | None]


class RegisteredRoot(BaseModel):
    """What was registered, by its own name: Azure ML keeps it under that name inside AZUREML_MODEL_DIR
    (`<dir>/model/MLmodel` for a folder `model/`, `<dir>/model.onnx` for one file)."""

    name: str
    single_file: bool


class ModelDescription(BaseModel):
    format: Literal["mlflow", "onnx", "custom"]
    flavors: list[str] = Field(default_factory=list)
    signature: dict | None = None
    mlflow_version: str | None = None
    model_uuid: str | None = None
    scorable_without_code: bool = False
    onnx_file: str | None = None
    onnx_inputs: list[TensorInfo] = Field(default_factory=list)
    onnx_outputs: list[TensorInfo] = Field(default_factory=list)


def unpack_model_upload(data: bytes, filename: str, destination: Path) -> Path:
    unpack_registered(data, filename, destination)
    return destination


def unpack_registered(data: bytes, filename: str, destination: Path) -> RegisteredRoot:
    """A zip of a model folder (MLmodel lifted to the top if the zip wraps it in one folder) or one .onnx
    file, into destination; what was registered, by its own name: one file (an .onnx, or a zip of one file)
    by its name, a folder by its name (the zip's own name when the zip held the folder's contents)."""
    name = PurePosixPath(filename.replace("\\", "/")).name
    if is_zip(data):
        unpack_zip(data, destination)
        lifted = _lift_single_mlflow_folder(destination)
        entries = list(destination.iterdir())
        if lifted:
            return RegisteredRoot(name=lifted, single_file=False)
        if len(entries) == 1 and entries[0].is_file():
            return RegisteredRoot(name=entries[0].name, single_file=True)
        return RegisteredRoot(name=PurePosixPath(name).stem or "model", single_file=False)
    if name.lower().endswith(ONNX_SUFFIX):
        destination.mkdir(parents=True, exist_ok=True)
        (destination / name).write_bytes(data)
        return RegisteredRoot(name=name, single_file=True)
    raise ValidationFailed("Upload a model folder as a .zip (an MLflow model or custom files) or one .onnx file.",
                           target="file")


def _lift_single_mlflow_folder(folder: Path) -> str | None:
    """The wrapping folder's name, when its contents were lifted."""
    entries = list(folder.iterdir())
    if (folder / MLMODEL).exists() or len(entries) != 1 or not entries[0].is_dir():
        return None
    inner = entries[0]
    if not (inner / MLMODEL).exists():
        return None
    for child in list(inner.iterdir()):
        child.rename(folder / child.name)
    inner.rmdir()
    return inner.name


def describe_model_folder(folder: Path) -> ModelDescription:
    if (folder / MLMODEL).is_file():
        return _describe_mlflow(folder / MLMODEL)
    onnx_files = sorted(p for p in folder.rglob(f"*{ONNX_SUFFIX}") if p.is_file())
    if len(onnx_files) == 1:
        return _describe_onnx(onnx_files[0], folder)
    return ModelDescription(format="custom")


def _describe_mlflow(path: Path) -> ModelDescription:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ValidationFailed(f"The MLmodel file cannot be read: {error}", target="file") from None
    if not isinstance(document, dict) or not isinstance(document.get("flavors"), dict):
        raise ValidationFailed("The MLmodel file has no flavors section.", target="file")
    flavors = sorted(document["flavors"])
    return ModelDescription(
        format="mlflow",
        flavors=flavors,
        signature=_signature(document.get("signature")),
        mlflow_version=document.get("mlflow_version"),
        model_uuid=document.get("model_uuid"),
        scorable_without_code="python_function" in flavors,
    )


def _signature(raw: object) -> dict | None:
    """MLmodel keeps each part of the signature as a JSON string; GET shows them as lists."""
    if not isinstance(raw, dict):
        return None
    parsed = {}
    for part in ("inputs", "outputs", "params"):
        value = raw.get(part)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise ValidationFailed(f"The MLmodel signature's {part} is not valid JSON.", target="file") from None
        if value is not None:
            parsed[part] = value
    return parsed


def _describe_onnx(path: Path, folder: Path) -> ModelDescription:
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types for malformed graphs
        raise ValidationFailed(f"'{path.name}' is not a loadable ONNX model: {error}", target="file") from None

    def tensors(items) -> list[TensorInfo]:
        return [TensorInfo(name=i.name, type=i.type, shape=list(i.shape)) for i in items]

    return ModelDescription(format="onnx", scorable_without_code=True, onnx_file=path.relative_to(folder).as_posix(),
                            onnx_inputs=tensors(session.get_inputs()), onnx_outputs=tensors(session.get_outputs()))
