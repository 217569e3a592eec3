"""The three scorers behind one interface: MLflow pyfunc and ONNX score a table per input file, a custom
script's run() takes the mini-batch's file paths (Azure ML's contract, unchanged)."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa

from .contracts import PREDICTION_COLUMN as PREDICTION
from .contracts import ScorerSpec
from .errors import ScoringUserError
from .readers import ValueNotOfItsType, read_batches, read_table

MLFLOW_TO_PANDAS = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32",
                    "boolean": "bool", "string": "string"}
ONNX_TO_NUMPY = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
                 "tensor(int32)": np.int32, "tensor(bool)": np.bool_, "tensor(string)": np.object_}


def predictions_frame(result: Any, rows: int, source: str) -> pd.DataFrame:
    """A model's output as prediction columns, one row per input row."""
    if isinstance(result, pd.DataFrame):
        frame = result.reset_index(drop=True)
    elif isinstance(result, pd.Series):
        frame = pd.DataFrame({PREDICTION: result.to_numpy()})
    else:
        array = np.asarray(result)
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim == 1:
            frame = pd.DataFrame({PREDICTION: array})
        elif array.ndim == 2:
            frame = pd.DataFrame(array, columns=[f"{PREDICTION}_{i}" for i in range(array.shape[1])])
        else:
            frame = pd.DataFrame({PREDICTION: [a.tolist() for a in array]})
    if len(frame) != rows:
        raise ScoringUserError(f"The model returned {len(frame)} predictions for {rows} rows of '{source}'.")
    return frame


class MlflowScorer:
    def __init__(self, spec: ScorerSpec):
        import mlflow.pyfunc

        self.model = mlflow.pyfunc.load_model(spec.model_dir)
        self.threads = spec.threads
        schema = self.model.metadata.get_input_schema()
        self.dtypes = {}
        if schema is not None and schema.has_input_names():
            for column in schema.inputs:
                kind = getattr(getattr(column, "type", None), "name", None)
                if kind in MLFLOW_TO_PANDAS:
                    self.dtypes[column.name] = MLFLOW_TO_PANDAS[kind]

    def score_file(self, path: Path, name: str) -> pa.Table:
        frame = read_table(path, name, self.dtypes, self.threads)
        try:
            result = self.model.predict(frame)
        except Exception as error:  # MLflow raises many types for schema mismatches
            raise ScoringUserError(f"The model could not score '{name}': {error}") from None
        return pa.Table.from_pandas(predictions_frame(result, len(frame), name), preserve_index=False)


class OnnxScorer:
    """Inputs mapped by the graph's names: one input takes all columns as a matrix, several inputs take the
    columns of the same names."""

    def __init__(self, spec: ScorerSpec):
        import onnxruntime

        self.threads = spec.threads
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, spec.threads)
        options.inter_op_num_threads = 1
        path = Path(spec.model_dir) / (spec.onnx_file or "model.onnx")
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = self.session.get_inputs()
        self.outputs = [o.name for o in self.session.get_outputs()]

    def column_types(self, names: list[str], name: str) -> dict[str, pa.DataType]:
        """The columns the graph takes and the types it takes them in: every column, by position, for a graph
        of one input (a matrix of its width); the columns named after the inputs for a graph of several."""
        if len(self.inputs) == 1:
            graph_input = self.inputs[0]
            width = graph_input.shape[1] if len(graph_input.shape) > 1 else None
            if isinstance(width, int) and width != len(names):
                raise ScoringUserError(f"'{name}' has {len(names)} columns; the ONNX input "
                                       f"'{graph_input.name}' takes {width}.")
            return {column: _arrow_type(graph_input.type) for column in names}
        missing = [i.name for i in self.inputs if i.name not in names]
        if missing:
            raise ScoringUserError(f"'{name}' lacks the columns the ONNX graph needs: {', '.join(missing)}.")
        return {i.name: _arrow_type(i.type) for i in self.inputs}

    def feeds(self, table: pa.Table) -> dict[str, np.ndarray]:
        """The columns as the graph's inputs, straight from Arrow (no DataFrame in between), already of the
        graph's types."""
        if len(self.inputs) == 1:
            graph_input = self.inputs[0]
            matrix = np.empty((table.num_rows, table.num_columns), dtype=ONNX_TO_NUMPY.get(graph_input.type,
                                                                                             np.float32))
            for number, column in enumerate(table.columns):
                matrix[:, number] = column.to_numpy()
            return {graph_input.name: matrix}
        return {i.name: table.column(i.name).to_numpy(zero_copy_only=False).reshape(-1, 1) for i in self.inputs}

    def score_batches(self, path: Path, name: str) -> Iterator[pa.Table]:
        """The file's predictions a piece of its rows at a time (ONNX scores rows independently), so memory
        holds one piece whatever the file's size."""
        batches = read_batches(path, name, lambda names: self.column_types(names, name), self.threads)
        while True:
            try:
                table = next(batches)
            except StopIteration:
                return
            except ValueNotOfItsType as error:
                raise ScoringUserError(f"The ONNX model could not score '{name}': {error}") from None
            yield self.score_table(table, name)

    def score_file(self, path: Path, name: str) -> pa.Table:
        return pa.concat_tables(list(self.score_batches(path, name)))

    def score_table(self, table: pa.Table, name: str) -> pa.Table:
        rows = table.num_rows
        try:
            results = self.session.run(None, self.feeds(table))
        except Exception as error:  # onnxruntime's own exception types
            raise ScoringUserError(f"The ONNX model could not score '{name}': {error}") from None
        columns: dict[str, object] = {}
        for output, values in zip(self.outputs, results):
            columns.update(output_columns(PREDICTION if not columns else output, values, rows))
        if any(len(values) != rows for values in columns.values()):
            raise ScoringUserError(f"The model returned {min(map(len, columns.values()))} predictions for {rows} "
                                   f"rows of '{name}'.")
        return pa.table(columns)


def _arrow_type(onnx_type: str) -> pa.DataType:
    return pa.from_numpy_dtype(ONNX_TO_NUMPY.get(onnx_type, np.float32)) if onnx_type != "tensor(string)" \
        else pa.string()


def output_columns(key: str, values, rows: int) -> dict[str, object]:
    """One ONNX output as prediction columns: a sequence of maps (a classifier's ZipMap) as one column per
    class, named `<key>_<class>`; a tensor of one value per row as `<key>`, of several as `<key>_<n>`, and of
    higher rank as a list per row. Element types are kept (string labels too)."""
    if isinstance(values, list) and values and isinstance(values[0], dict):
        return {f"{key}_{label}": np.array([row[label] for row in values]) for label in values[0]}
    array = np.asarray(values)
    if array.ndim == 0:
        return {key: np.repeat(array, rows)}
    if array.ndim == 1 or (array.ndim == 2 and array.shape[1] == 1):
        return {key: array.reshape(len(array))}
    if array.ndim == 2:
        return {f"{key}_{number}": array[:, number] for number in range(array.shape[1])}
    return {key: pa.array([item.tolist() for item in array])}


class CustomScriptScorer:
    """Azure ML's scoring-script contract: init() once with AZUREML_MODEL_DIR set; run(mini_batch)."""

    def __init__(self, spec: ScorerSpec):
        os.environ["AZUREML_MODEL_DIR"] = spec.azureml_model_dir or spec.model_dir
        script = Path(spec.code_dir) / spec.scoring_script
        sys.path.insert(0, str(Path(spec.code_dir)))
        sys.path.insert(0, str(script.parent))
        module_spec = importlib.util.spec_from_file_location("azureml_scoring_script", script)
        self.module = importlib.util.module_from_spec(module_spec)
        try:
            module_spec.loader.exec_module(self.module)
            if hasattr(self.module, "init"):
                self.module.init()
        except Exception as error:
            raise ScoringUserError(f"The scoring script failed to load or in init(): {error!r}") from error
        if not hasattr(self.module, "run"):
            raise ScoringUserError(f"The scoring script '{spec.scoring_script}' has no run(mini_batch) function.")

    def run(self, paths: list[str]) -> Any:
        return self.module.run(paths)


def load_scorer(spec: ScorerSpec):
    os.environ.update(spec.environment)
    if spec.kind == "custom":
        return CustomScriptScorer(spec)
    if spec.kind == "onnx":
        return OnnxScorer(spec)
    return MlflowScorer(spec)
