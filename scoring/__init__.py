"""Model loading and scoring of mini-batches; plain Python with no Azure Functions imports.

Nothing the scorers use may send telemetry off the machine. Each switch is set here, before any of these
libraries is imported, so it holds in every process that loads the app (the host, its workers) and in the
scoring processes, which inherit it (a user may still set a switch otherwise):
- ONNX Runtime's Linux builds (1.29 on) send usage events to Microsoft's collector
  (mobile.events.data.microsoft.com) from each process that loads a model with it (here the host registering
  an ONNX model, and the scoring processes), unless ORT_DISABLE_TELEMETRY is set before it is imported: its
  disable_telemetry_events() comes too late for the first events.
- MLflow (3.x) sends usage events from some of its APIs unless MLFLOW_DISABLE_TELEMETRY is set.
"""
import os

TELEMETRY_OFF = {"ORT_DISABLE_TELEMETRY": "1", "MLFLOW_DISABLE_TELEMETRY": "1"}

for _name, _value in TELEMETRY_OFF.items():
    os.environ.setdefault(_name, _value)
