"""`mlbatch demo`: a sample MLflow model, an endpoint `demo` with a default deployment, and a sample data asset,
so a first `mlbatch endpoint invoke -n demo --input azureml:demo-inputs@latest --stream` works at once.
Idempotent: what exists is left as it is. The model is trained here, on synthetic data (no downloads)."""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from ..archives import zip_folder
from ..client import ApiClient, ApiError, ConnectionFailed, UsageError

ENDPOINT = "demo"
DEPLOYMENT = "classifier"
MODEL = "demo-classifier"
DATA = "demo-inputs"
FEATURES = ["age", "blood_pressure", "cholesterol", "max_heart_rate"]


def register(groups) -> None:
    group = groups.add_parser("demo", help="register a sample model, endpoint and data (for a first try)")
    group.add_argument("--url")
    group.add_argument("--key")
    group.add_argument("-o", "--output", choices=("json", "table"), default="table")
    group.add_argument("--wait", type=float, default=0, help="seconds to wait for the app to answer first")
    group.set_defaults(handler=seed, columns=("kind", "name", "state"))


def seed(args, client: ApiClient) -> list:
    client = _wait(args, args.wait)
    done = []
    with tempfile.TemporaryDirectory() as temp:
        frame, model = _train()
        if not _exists(client, f"models/{MODEL}/versions/latest"):
            folder = _mlflow_folder(model, frame, Path(temp) / "model")
            client.call("POST", f"models/{MODEL}/versions", data=zip_folder(folder),
                        params={"filename": "model.zip", "description": "A sample classifier (synthetic data)"},
                        headers={"Content-Type": "application/zip"})
            done.append({"kind": "model", "name": MODEL, "state": "registered"})
        if not _exists(client, f"batchEndpoints/{ENDPOINT}"):
            client.call("PUT", f"batchEndpoints/{ENDPOINT}", json={"description": "The sample batch endpoint"})
            done.append({"kind": "endpoint", "name": ENDPOINT, "state": "created"})
        if not _exists(client, f"batchEndpoints/{ENDPOINT}/deployments/{DEPLOYMENT}"):
            client.call("PUT", f"batchEndpoints/{ENDPOINT}/deployments/{DEPLOYMENT}", json={
                "type": "model", "model": f"azureml:{MODEL}@latest", "settings": {"mini_batch_size": 2}})
            done.append({"kind": "deployment", "name": DEPLOYMENT, "state": "created (default)"})
        if not _exists(client, f"data/{DATA}/versions/latest"):
            inputs = Path(temp) / "inputs"
            inputs.mkdir()
            for number in range(4):
                frame.iloc[number * 250:(number + 1) * 250].to_csv(inputs / f"patients-{number}.csv", index=False)
            client.call("POST", f"data/{DATA}/versions", data=zip_folder(inputs),
                        params={"filename": "inputs.zip", "type": "uri_folder"},
                        headers={"Content-Type": "application/zip"})
            done.append({"kind": "data", "name": DATA, "state": "uploaded"})
    print(f"Try: mlbatch endpoint invoke -n {ENDPOINT} --input azureml:{DATA}@latest --stream", file=sys.stderr)
    print(f"Or open the studio: {client.url}/api/studio/ (it asks for the function key once)", file=sys.stderr)
    return done or [{"kind": "demo", "name": ENDPOINT, "state": "already there"}]


def _wait(args, seconds: float) -> ApiClient:
    """Until the app answers with the key (a starting app writes its connection file only once it is up)."""
    deadline = time.monotonic() + seconds
    while True:
        client = ApiClient(args.url, args.key)
        try:
            client.get("batchEndpoints")
            return client
        except (ConnectionFailed, ApiError) as error:
            if time.monotonic() >= deadline or (isinstance(error, ApiError) and error.status != 401):
                raise
            time.sleep(0.5)


def _exists(client: ApiClient, path: str) -> bool:
    try:
        client.get(path)
        return True
    except ApiError as error:
        if error.status == 404:
            return False
        raise


def _train():
    try:
        import numpy as np
        import pandas as pd
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise UsageError("the demo needs scikit-learn and pandas (installed by `make start`).") from None
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.normal(size=(1000, len(FEATURES))), columns=FEATURES)
    labels = (frame["age"] + frame["cholesterol"] - frame["max_heart_rate"] > 0).astype(int)
    return frame, LogisticRegression().fit(frame, labels)


def _mlflow_folder(model, frame, destination: Path) -> Path:
    import mlflow.sklearn
    from mlflow.models import infer_signature

    mlflow.sklearn.save_model(model, str(destination), serialization_format="cloudpickle",
                              signature=infer_signature(frame, model.predict(frame)))
    return destination
