"""The README's example block runs as it is written, against a fresh runtime of the product: a reader who
pastes it gets a model, an endpoint, its deployments, data, an environment, a schedule and a completed job."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.harness import ROOT

MARKER = "<!-- tests/runtime/test_readme.py runs the next block as it is written -->"


def example_block() -> str:
    text = (ROOT / "README.md").read_text()
    block = re.search(re.escape(MARKER) + r"\n```bash\n(.*?)\n```", text, re.S)
    assert block, "README.md lost its tested example block"
    return block.group(1)


def commands_on_path(folder: Path) -> Path:
    """`python` and `mlbatch` as the README's PATH gives them: this checkout's, with its packages."""
    folder.mkdir()
    for name, command in (("python", f'exec "{sys.executable}" "$@"'),
                          ("mlbatch", f'exec "{sys.executable}" -m mlbatch "$@"')):
        script = folder / name
        script.write_text(f"#!/bin/sh\n{command}\n")
        script.chmod(0o755)
    return folder


def test_the_readme_example_block_runs_as_written(start_product, tmp_path):
    app = start_product()
    block = example_block()
    assert "examples/" in block and "mlbatch" in block
    project = tmp_path / "project"  # the example files without anything made from them before
    shutil.copytree(ROOT / "examples", project / "examples", ignore=shutil.ignore_patterns("model", "data"))
    (project / ".devhost").mkdir()
    (project / ".devhost" / "connection.json").write_text(json.dumps(
        {"url": app.base_url, "function_key": app.function_key}))  # what `make start` leaves
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLBATCH_")}
    env.update(PATH=f"{commands_on_path(tmp_path / 'bin')}{os.pathsep}{env['PATH']}", PYTHONPATH=str(ROOT),
               HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    done = subprocess.run(["bash", "-euxo", "pipefail", "-c", block], cwd=project, env=env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=400)
    assert done.returncode == 0, f"{done.stderr[-6000:]}\n{done.stdout[-2000:]}"

    [predictions] = list(project.glob("*/predictions.csv"))
    job = predictions.parent.name
    scores = pd.read_csv(predictions)
    assert len(scores) == 100 and list(scores.columns[:2]) == ["file_name", "row"]
    assert f"Job {job} completed: 2/2 mini-batches succeeded, 100 rows scored" in done.stderr
    assert app.get(f"api/jobs/{job}").json()["status"] == "Completed"
    assert app.get("api/schedules/heart-nightly").json()["is_enabled"] is True
    assert app.get("api/environments/heart-env/versions/latest").status_code == 200
    table = done.stdout[done.stdout.rindex("\nName "):].strip().splitlines()  # the last command's
    assert re.split(r"\s{2,}", table[0])[:2] == ["Name", "Is Default"]
    assert sorted(re.split(r"\s{2,}", line)[:2] for line in table[1:]) == [["classifier", "False"], ["green", "True"]]
