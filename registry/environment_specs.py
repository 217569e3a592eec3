"""What a deployment scores in, as one resolved spec: a Python version and the pip requirements, from an
environment's conda file or an MLflow model's own files (`python_env.yaml`, `requirements.txt`, `conda.yaml`,
in MLflow's order of preference). The scoring runtime's own needs are added, so the resolver settles them
together with the model's pins. Plain functions: nothing here builds anything."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass

import yaml

from .errors import ValidationFailed

# What the scoring process itself imports, whatever the model: resolved with the model's pins, never pinned
# here, so an old model gets versions that fit its own.
RUNTIME_REQUIREMENTS = ("numpy", "pandas", "pyarrow")
MLFLOW_RUNTIME = "mlflow-skinny"  # loads an MLflow model where its own files name no mlflow package
ONNX_RUNTIME = "onnxruntime"
# conda packages with another name on PyPI
CONDA_TO_PYPI = {"pytorch": "torch", "py-xgboost": "xgboost", "pytorch-cpu": "torch", "tensorflow-cpu": "tensorflow",
                 "matplotlib-base": "matplotlib"}
# conda's tooling and system libraries: no PyPI package, and nothing a pip environment needs
CONDA_TOOLING = {"pip", "python", "setuptools", "wheel"}
CONDA_ONLY = {"cudatoolkit", "cudnn", "mkl", "mkl-service", "blas", "libblas", "openblas", "libgcc-ng", "libstdcxx-ng",
              "libgomp", "_libgcc_mutex", "_openmp_mutex", "ca-certificates", "openssl", "libffi", "ncurses",
              "readline", "sqlite", "tk", "xz", "zlib", "bzip2", "ld_impl_linux-64", "libuuid", "python_abi",
              "nccl", "libzlib", "intel-openmp", "tbb"}
MLFLOW_FILES = ("python_env.yaml", "requirements.txt", "conda.yaml")  # MLflow's order of preference


class EnvironmentSpecError(ValidationFailed):
    code = "EnvironmentSpecInvalid"


@dataclass(frozen=True)
class ResolvedEnvironment:
    """A pip environment: the Python minor version asked for (None: the app's) and the requirements, as the
    resolver gets them. `source` says where they came from."""

    python: str | None
    requirements: tuple[str, ...]
    source: str

    @property
    def key(self) -> str:
        """Equal specs share one build: the hash of what is installed, not of where it was written."""
        text = json.dumps({"python": self.python, "requirements": sorted(self.requirements)})
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def to_json(self) -> dict:
        return {**asdict(self), "requirements": list(self.requirements), "key": self.key}

    @classmethod
    def from_json(cls, data: dict) -> "ResolvedEnvironment":
        return cls(data["python"], tuple(data["requirements"]), data["source"])


def python_minor(version: str | None) -> str | None:
    """'3.8.10' or '3.8' or '>=3.8' -> '3.8'."""
    if not version:
        return None
    found = re.search(r"(\d+)\.(\d+)", str(version))
    return f"{found[1]}.{found[2]}" if found else None


def requirement_lines(text: str) -> list[str]:
    """A requirements file's requirements: comments, blank lines and pip options (`-r`, `--index-url`) dropped."""
    lines = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#") and not line.startswith("-"):
            lines.append(line)
    return lines


def pip_entries(lines: list, files: dict[str, str]) -> list[str]:
    """pip requirement lines as written; a `-r file` line reads that file from files, other options are dropped."""
    requirements = []
    for line in lines:
        line = str(line).strip()
        if line.startswith("-r"):
            requirements += requirement_lines(files.get(line[2:].strip(), ""))
        elif line and not line.startswith("-"):
            requirements.append(line)
    return requirements


def from_conda(document: dict | str, source: str, requirements_files: dict[str, str] | None = None
               ) -> tuple[str | None, list[str]]:
    """A conda environment file as (python, pip requirements): the python pin picks the interpreter, `pip:`
    entries are taken as written (a `-r file` entry reads that file from requirements_files), and conda
    package pins become PyPI pins of the same name; a conda-only package is refused, named."""
    if isinstance(document, str):
        try:
            document = yaml.safe_load(document)
        except yaml.YAMLError as error:
            raise EnvironmentSpecError(f"{source} is not valid YAML: {error}", target="conda_file") from None
    if not isinstance(document, dict) or not isinstance(document.get("dependencies", []), list):
        raise EnvironmentSpecError(f"{source} must be a conda environment: a mapping with a dependencies list.",
                                   target="conda_file")
    python, requirements = None, []
    for entry in document.get("dependencies") or []:
        if isinstance(entry, dict):
            requirements += pip_entries(entry.get("pip") or [], requirements_files or {})
            continue
        name, pin = _conda_package(str(entry))
        if name == "python":
            python = python_minor(pin)
        elif name in CONDA_ONLY:
            raise EnvironmentSpecError(f"The conda package '{name}' in {source} has no PyPI package of that name; "
                                       "environments here are pip environments: remove it or give its PyPI "
                                       "equivalent under pip:.", target="conda_file")
        elif name not in CONDA_TOOLING:
            requirements.append(f"{CONDA_TO_PYPI.get(name, name)}{pin}")
    return python, requirements


def _conda_package(entry: str) -> tuple[str, str]:
    """'conda-forge::numpy=1.23.5=py38h_0' -> ('numpy', '==1.23.5'); 'scipy>=1.9' -> ('scipy', '>=1.9')."""
    entry = entry.split("::", 1)[-1].strip()
    found = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", entry)
    if not found:
        raise EnvironmentSpecError(f"Cannot read the conda dependency '{entry}'.", target="conda_file")
    name, rest = found[1].lower(), found[2].strip()
    if not rest:
        return name, ""
    if rest.startswith("=") and not rest.startswith("=="):
        version = rest[1:].split("=", 1)[0]
        exact = version.count(".") >= 2 or "*" in version
        return name, f"=={version}" if exact else f"=={version}.*"  # conda's `=1.2` means 1.2.*
    return name, rest.replace(" ", "")


def from_mlflow_files(files: dict[str, str]) -> tuple[str | None, list[str], str] | None:
    """An MLflow model's own environment, in MLflow's order: python_env.yaml (with its -r requirements.txt),
    else requirements.txt (the python of conda.yaml or python_env.yaml if any), else conda.yaml. None when
    the model names none."""
    python_env = _yaml(files.get("python_env.yaml"), "python_env.yaml")
    conda = files.get("conda.yaml")
    if isinstance(python_env, dict):
        requirements = pip_entries(python_env.get("dependencies") or [], files)
        return python_minor(python_env.get("python")), requirements, "the model's python_env.yaml"
    if files.get("requirements.txt") is not None:
        python = from_conda(conda, "the model's conda.yaml")[0] if conda else None
        return python, requirement_lines(files["requirements.txt"]), "the model's requirements.txt"
    if conda is not None:
        python, requirements = from_conda(conda, "the model's conda.yaml", files)
        return python, requirements, "the model's conda.yaml"
    return None


def _yaml(text: str | None, source: str):
    if text is None:
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise EnvironmentSpecError(f"The model's {source} is not valid YAML: {error}", target="model") from None


def with_runtime(python: str | None, requirements: list[str], source: str, scorer: str) -> ResolvedEnvironment:
    """The spec with what the scoring process needs for this kind of scorer ("mlflow", "onnx", "custom")."""
    names = {requirement_name(line) for line in requirements}
    needed = [name for name in RUNTIME_REQUIREMENTS if name not in names]
    if scorer == "mlflow" and not names & {"mlflow", "mlflow-skinny"}:
        needed.append(MLFLOW_RUNTIME)
    if scorer == "onnx" and ONNX_RUNTIME not in names:
        needed.append(ONNX_RUNTIME)
    return ResolvedEnvironment(python, tuple(dict.fromkeys([*requirements, *needed])), source)


def requirement_name(requirement: str) -> str:
    found = re.match(r"^\s*([A-Za-z0-9_.\-]+)", requirement)
    return found[1].lower().replace("_", "-") if found else requirement.lower()
