"""Small models the tests build themselves: scikit-learn -> MLflow folder / zip, and -> ONNX."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

FEATURES = ["f0", "f1", "f2", "f3"]


def training_data(rows: int = 200, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))), columns=FEATURES)
    labels = (frame["f0"] + frame["f1"] > 0).astype(int).to_numpy()
    return frame, labels


def sklearn_classifier():
    from sklearn.linear_model import LogisticRegression

    frame, labels = training_data()
    return LogisticRegression().fit(frame, labels)


def mlflow_model_folder(destination: Path) -> Path:
    import mlflow.sklearn
    from mlflow.models import infer_signature

    model = sklearn_classifier()
    frame, _ = training_data()
    mlflow.sklearn.save_model(model, str(destination), serialization_format="cloudpickle",
                              signature=infer_signature(frame, model.predict(frame)))
    return destination


def zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def zip_entries(files: dict[str, bytes | str]) -> bytes:
    """A zip holding exactly these entry names (which may be ones no zip tool would write)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def onnx_model_bytes() -> bytes:
    from skl2onnx import to_onnx

    model = sklearn_classifier()
    frame, _ = training_data()
    return to_onnx(model, frame.to_numpy(dtype=np.float32)[:1], options={"zipmap": False}).SerializeToString()


def onnx_two_input_bytes() -> bytes:
    """A graph of two named inputs, `a` (float) and `b` (int64), predicting a + b: inputs mapped by name."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Cast", ["b"], ["b_float"], to=TensorProto.FLOAT),
         helper.make_node("Add", ["a", "b_float"], ["sum"])],
        "two_inputs",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [None, 1]),
         helper.make_tensor_value_info("b", TensorProto.INT64, [None, 1])],
        [helper.make_tensor_value_info("sum", TensorProto.FLOAT, [None, 1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()
