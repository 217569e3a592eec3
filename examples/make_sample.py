"""Builds what the example YAML files point at: a small heart-disease classifier (scikit-learn, exported to
ONNX, so it scores in the app's own environment with no build) in model/, and four CSV files of patients
to score in data/. Synthetic data, nothing downloaded; run it again and the same files come out."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).resolve().parent
FEATURES = ["age", "blood_pressure", "cholesterol", "max_heart_rate"]
FILES, ROWS_PER_FILE = 4, 25


def main() -> None:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.normal(size=(FILES * ROWS_PER_FILE, len(FEATURES))), columns=FEATURES)
    labels = (frame["age"] + frame["cholesterol"] - frame["max_heart_rate"] > 0).astype(int)
    model = LogisticRegression().fit(frame, labels)
    (HERE / "model").mkdir(exist_ok=True)
    onnx = to_onnx(model, frame.to_numpy(dtype=np.float32)[:1], options={"zipmap": False})
    (HERE / "model" / "heart-classifier.onnx").write_bytes(onnx.SerializeToString())
    (HERE / "data").mkdir(exist_ok=True)
    for number in range(FILES):
        part = frame.iloc[number * ROWS_PER_FILE:(number + 1) * ROWS_PER_FILE]
        part.to_csv(HERE / "data" / f"patients-{number}.csv", index=False)
    print(f"wrote {HERE / 'model' / 'heart-classifier.onnx'} and {FILES} files in {HERE / 'data'}")


if __name__ == "__main__":
    main()
