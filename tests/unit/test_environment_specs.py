"""What a deployment scores in, resolved from conda files and MLflow's own environment files: the python pin,
pip entries as written, conda pins mapped to PyPI, conda-only packages refused by name, the scoring runtime's
needs added, and equal specs sharing one key."""
from __future__ import annotations

import pytest

from registry.environment_specs import (EnvironmentSpecError, from_conda, from_mlflow_files, python_minor,
                                        requirement_lines, with_runtime)

CONDA = """
channels: [conda-forge]
dependencies:
  - python=3.8.10
  - pip<=23.0
  - conda-forge::numpy=1.23.5=py38h_0
  - scipy>=1.9
  - pytorch=2.1
  - pip:
      - mlflow==2.3.1
      - -r requirements.txt
      - --extra-index-url https://example.org/simple
"""


def test_a_conda_file_gives_its_python_and_pip_requirements():
    python, requirements = from_conda(CONDA, "conda.yaml", {"requirements.txt": "cloudpickle==2.2.1\n# a note\n"})
    assert python == "3.8"
    assert requirements == ["numpy==1.23.5", "scipy>=1.9", "torch==2.1.*", "mlflow==2.3.1", "cloudpickle==2.2.1"]


def test_a_conda_only_package_is_refused_by_name():
    with pytest.raises(EnvironmentSpecError, match="'cudatoolkit'"):
        from_conda({"dependencies": ["python=3.11", "cudatoolkit=11.8"]}, "conda_file")
    with pytest.raises(EnvironmentSpecError, match="dependencies list"):
        from_conda({"dependencies": "numpy"}, "conda_file")
    with pytest.raises(EnvironmentSpecError, match="not valid YAML"):
        from_conda("dependencies: [", "conda_file")


def test_mlflow_files_are_read_in_mlflows_order_of_preference():
    files = {"python_env.yaml": "python: 3.10.4\nbuild_dependencies: [pip]\ndependencies: [-r requirements.txt]\n",
             "requirements.txt": "mlflow==2.9.0\nscikit-learn==1.1.3\n",
             "conda.yaml": CONDA}
    assert from_mlflow_files(files) == ("3.10", ["mlflow==2.9.0", "scikit-learn==1.1.3"],
                                        "the model's python_env.yaml")
    del files["python_env.yaml"]
    assert from_mlflow_files(files) == ("3.8", ["mlflow==2.9.0", "scikit-learn==1.1.3"], "the model's requirements.txt")
    del files["requirements.txt"]
    assert from_mlflow_files(files)[2] == "the model's conda.yaml"
    assert from_mlflow_files({}) is None


def test_the_scoring_runtimes_needs_are_added_unpinned_and_equal_specs_share_a_key():
    mlflow = with_runtime("3.11", ["scikit-learn==1.5.2", "pandas==2.2.3"], "x", "mlflow")
    assert mlflow.requirements == ("scikit-learn==1.5.2", "pandas==2.2.3", "numpy", "pyarrow", "mlflow-skinny")
    assert "mlflow-skinny" not in with_runtime(None, ["mlflow==2.9.0"], "x", "mlflow").requirements
    assert with_runtime(None, [], "x", "onnx").requirements == ("numpy", "pandas", "pyarrow", "onnxruntime")
    same = with_runtime("3.11", ["pandas==2.2.3", "scikit-learn==1.5.2"], "another file", "mlflow")
    assert same.key == mlflow.key and with_runtime("3.12", list(mlflow.requirements), "x", "mlflow").key != mlflow.key


def test_versions_and_requirement_files_are_read_as_pip_reads_them():
    assert [python_minor(v) for v in ("3.8.10", "3.11", ">=3.9", None, "x")] == ["3.8", "3.11", "3.9", None, None]
    assert requirement_lines("a==1  # pinned\n\n-r other.txt\n--index-url x\nb\n") == ["a==1", "b"]
