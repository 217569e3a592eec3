"""Event-driven scoring on the local runtime: blob-drop inboxes (one job per burst, each file once across
restarts) and schedules (on time, disable, one catch-up after downtime, no overlapping jobs)."""
from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from tests.harness import Runtime, wait_for
from tests.model_builders import mlflow_model_folder, zip_folder
from tests.runtime.test_jobs import call, input_frames, register, wait_for_job

ROOT = Path(__file__).resolve().parents[2]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def app(azurite, artifacts_dir: Path):
    """One runtime the tests stop and start again (same host id and task hub, as a restart keeps them)."""
    runtime = Runtime(ROOT, azurite.connection_string, artifacts_dir, env={"PYTHON_SCRIPT_FILE_NAME": "batch_app.py"})
    runtime.start()
    yield runtime
    if runtime.process.poll() is not None:
        runtime.start()
    for schedule in call(runtime, "GET", "api/schedules").json()["value"]:
        call(runtime, "DELETE", f"api/schedules/{schedule['name']}")
    runtime.stop()


@pytest.fixture(scope="module")
def model(app, tmp_path_factory) -> dict:
    return register(app, unique("events"), zip_folder(mlflow_model_folder(tmp_path_factory.mktemp("m") / "m")),
                    "model.zip")


def endpoint(api, model: dict, **fields) -> str:
    name = unique("ev")
    assert call(api, "PUT", f"api/batchEndpoints/{name}", json=fields).status_code == 201
    answer = call(api, "PUT", f"api/batchEndpoints/{name}/deployments/main", json={"type": "model",
                                                                                    "model": model["id"]})
    assert answer.status_code == 201, answer.text
    return name


def jobs_of(api, name: str) -> list[dict]:
    return call(api, "GET", f"api/batchEndpoints/{name}/jobs").json()["value"]


def stored_jobs(storage: str, name: str) -> set[str]:
    """The names of an endpoint's jobs, read from storage, for when the app is down."""
    table = TableServiceClient.from_connection_string(storage).get_table_client("Jobs")
    return {e["RowKey"] for e in table.query_entities("Endpoint eq @ep", parameters={"ep": name}, select=["RowKey"])}


def drop(storage: str, prefix: str, count: int, start: int = 0, suffix: str = ".csv") -> None:
    client = BlobServiceClient.from_connection_string(storage).get_container_client("workspaceblobstore")
    for number, frame in enumerate(input_frames(count, rows=3, seed=start)):
        client.upload_blob(f"{prefix}file-{start + number:03d}{suffix}", frame.to_csv(index=False), overwrite=True)


def test_a_burst_of_dropped_files_becomes_one_job_and_a_restart_starts_no_second(app, model, storage):
    name = endpoint(app, model, inbox={"debounce_seconds": 3})
    prefix = f"inbox/{name}/"
    drop(storage, prefix, 12)
    drop(storage, prefix, 1, start=50, suffix=".txt")
    wait_for(lambda: jobs_of(app, name), timeout=60, what="the inbox job")
    job = wait_for_job(app, jobs_of(app, name)[0]["name"])
    assert job["status"] == "Completed", job
    assert job["source"]["kind"] == "inbox" and len(job["source"]["blobs"]) == 12
    assert job["counts"]["files"] == 12 and job["counts"]["rows_scored"] == sum(3 + i for i in range(12))
    assert "skipped inbox/" in app.log_text() and "file-050.txt" in app.log_text()

    app.stop()
    app.start()
    # The later file's job proves the restarted runtime has listed the inbox: the burst must not come back.
    drop(storage, prefix, 1, start=20)
    wait_for(lambda: len(jobs_of(app, name)) >= 2, timeout=60, what="a job for the later file")
    later = wait_for_job(app, jobs_of(app, name)[0]["name"])
    assert later["status"] == "Completed" and len(later["source"]["blobs"]) == 1
    assert later["source"]["blobs"][0].endswith("file-020.csv")
    assert [j["name"] for j in jobs_of(app, name)] == [later["name"], job["name"]]
    arrivals = call(app, "GET", f"api/batchEndpoints/{name}/inbox").json()["value"]
    assert sorted(a["status"] for a in arrivals) == ["skipped"] + ["submitted"] * 13
    assert next(a for a in arrivals if a["status"] == "skipped")["name"] == "file-050.txt"


def test_a_disabled_inbox_skips_files(app, model, storage):
    name = endpoint(app, model, inbox={"debounce_seconds": 1, "enabled": False})
    drop(storage, f"inbox/{name}/", 2)

    def arrivals() -> list[str]:
        return [a["status"] for a in call(app, "GET", f"api/batchEndpoints/{name}/inbox").json()["value"]]

    wait_for(lambda: len(arrivals()) == 2, timeout=30, what="both files recorded")
    assert arrivals() == ["skipped", "skipped"] and "(the inbox is disabled)" in app.log_text()
    assert jobs_of(app, name) == []


def schedule_body(name: str, source: str, **fields) -> dict:
    return {"endpoint_name": name, "trigger": {"type": "cron", "expression": "*/5 * * * * *"},
            "create_job": {"input": source}, **fields}


def upload_input(storage: str) -> str:
    prefix = unique("scheduled")
    drop(storage, f"{prefix}/", 1)
    return f"azureml://datastores/workspaceblobstore/paths/{prefix}/"


def test_a_schedule_runs_on_time_stops_when_disabled_and_catches_up_once(app, model, storage):
    name = endpoint(app, model)
    created = call(app, "PUT", f"api/schedules/{name}-every-5s",
                   json=schedule_body(name, upload_input(storage), allow_concurrent_jobs=True))
    assert created.status_code == 201, created.text
    assert created.json()["next_run"]
    wait_for(lambda: len(jobs_of(app, name)) >= 3, timeout=40, what="three scheduled jobs")
    jobs = jobs_of(app, name)
    for job in jobs:
        occurrence = job["source"]["occurrence"]
        assert job["source"]["schedule"] == f"{name}-every-5s" and int(occurrence[17:19]) % 5 == 0
        assert abs(_seconds(job["created_at"]) - _seconds(occurrence)) < 4, job
    shown = call(app, "GET", f"api/schedules/{name}-every-5s").json()
    assert shown["last_run"]["name"] in [j["name"] for j in jobs] and shown["next_run"] > shown["last_run"]["occurrence"]

    assert call(app, "POST", f"api/schedules/{name}-every-5s/disable").json()["is_enabled"] is False
    time.sleep(1)
    count = len(jobs_of(app, name))
    time.sleep(8)
    assert len(jobs_of(app, name)) == count

    call(app, "POST", f"api/schedules/{name}-every-5s/enable")
    wait_for(lambda: len(jobs_of(app, name)) > count, timeout=20, what="the schedule to run again")
    app.stop()
    stopped_at = time.time()
    before = stored_jobs(storage, name)
    time.sleep(16)
    assert stored_jobs(storage, name) == before
    app.start()
    started_at = time.time()
    wait_for(lambda: len(jobs_of(app, name)) > len(before), timeout=15, what="the catch-up job")
    wait_for(lambda: _seconds(call(app, "GET", f"api/schedules/{name}-every-5s").json()["evaluated_at"])
             > started_at + 5, timeout=20, what="an evaluation after the catch-up")
    missed = [j for j in jobs_of(app, name)
              if j["name"] not in before and _seconds(j["source"]["occurrence"]) < started_at]
    assert len(missed) == 1, [j["source"] for j in jobs_of(app, name)[:5]]
    assert stopped_at - 3 < _seconds(missed[0]["source"]["occurrence"])
    call(app, "DELETE", f"api/schedules/{name}-every-5s")


def test_a_schedule_starts_no_second_job_while_the_previous_runs(app, model, storage, tmp_path):
    name = unique("ev")
    assert call(app, "PUT", f"api/batchEndpoints/{name}", json={}).status_code == 201
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "score.py").write_text("import time\n\ndef init():\n    pass\n\n"
                                                "def run(mini_batch):\n    time.sleep(25)\n    return mini_batch\n")
    code = app.post("api/codes", data=zip_folder(tmp_path / "code"), params={"filename": "c.zip"}).json()
    call(app, "PUT", f"api/batchEndpoints/{name}/deployments/slow", json={
        "type": "model", "model": model["id"], "code_configuration": {"code": code["id"], "scoring_script": "score.py"},
        "settings": {"retry_settings": {"max_retries": 0, "timeout": 60}}})
    call(app, "PUT", f"api/schedules/{name}-slow", json=schedule_body(name, upload_input(storage)))
    wait_for(lambda: jobs_of(app, name), timeout=20, what="the first scheduled job")
    passed_over = _seconds(jobs_of(app, name)[0]["source"]["occurrence"]) + 10  # two more occurrences

    def evaluated() -> float:
        return _seconds(call(app, "GET", f"api/schedules/{name}-slow").json()["evaluated_at"])

    wait_for(lambda: evaluated() >= passed_over, timeout=30, what="two occurrences passed over")
    assert len(jobs_of(app, name)) == 1
    call(app, "DELETE", f"api/schedules/{name}-slow")
    call(app, "POST", f"api/jobs/{jobs_of(app, name)[0]['name']}/cancel")


def test_bad_schedules_are_refused_naming_the_field(app, model):
    name = endpoint(app, model)
    cases = [
        ({"endpoint_name": "no-such-endpoint", "trigger": {"type": "cron", "expression": "* * * * *"},
          "create_job": {"input": "x:1"}}, "endpoint_name"),
        (schedule_body(name, "x:1", trigger={"type": "cron", "expression": "not cron"}), "trigger.expression"),
        (schedule_body(name, "x:1", trigger={"type": "recurrence", "frequency": "fortnight", "interval": 1}),
         "trigger.frequency"),
        (schedule_body(name, "x:1", trigger={"type": "cron", "expression": "* * * * *", "time_zone": "Mars/Base"}),
         "trigger.time_zone"),
        (schedule_body(name, "x:1", create_job={"inputs": "x"}), "create_job.input"),
    ]
    for body, target in cases:
        answer = call(app, "PUT", f"api/schedules/{unique('bad')}", json=body)
        assert answer.status_code == 400 and answer.json()["error"]["target"] == target, (target, answer.text)
    assert call(app, "GET", "api/schedules/no-such-schedule").status_code == 404


def _seconds(text: str) -> float:
    from registry.schedules import parse_time

    return parse_time(text).timestamp()


def test_the_cli_takes_schedule_yaml_and_sets_up_an_inbox(app, model, storage, tmp_path):
    import json
    import os
    import subprocess
    import sys

    def cli(*args: str, expect: int = 0):
        done = subprocess.run([str(Path(sys.executable).parent / "mlbatch"), *args], capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL,
                              env={**os.environ, "MLBATCH_URL": app.base_url, "MLBATCH_KEY": app.function_key})
        assert done.returncode == expect, done.stderr
        return done

    name = endpoint(app, model)
    (tmp_path / "job.yml").write_text(f"input: {upload_input(storage)}\nsettings:\n  mini_batch_size: 2\n")
    (tmp_path / "schedule.yml").write_text(f"""
$schema: https://azuremlschemas.azureedge.net/latest/schedule.schema.json
name: {name}-nightly
display_name: Nightly scoring
description: Scores the day's files every night
endpoint_name: {name}
trigger:
  type: recurrence
  frequency: day
  interval: 1
  schedule:
    hours: [1]
    minutes: [30]
  time_zone: Europe/Paris
create_job: ./job.yml
""")
    created = json.loads(cli("schedule", "create", "--file", str(tmp_path / "schedule.yml")).stdout)
    assert created["create_job"]["settings"] == {"mini_batch_size": 2} and created["next_run"].endswith(":30:00.000Z")
    assert [s["name"] for s in json.loads(cli("schedule", "list", "-e", name).stdout)] == [f"{name}-nightly"]
    assert json.loads(cli("schedule", "disable", "-n", f"{name}-nightly").stdout)["next_run"] is None
    assert json.loads(cli("schedule", "enable", "-n", f"{name}-nightly").stdout)["is_enabled"] is True
    cli("schedule", "delete", "-n", f"{name}-nightly", "--yes")
    cli("schedule", "show", "-n", f"{name}-nightly", expect=1)

    cli("endpoint", "inbox", "-n", name, "--enable", "--debounce-seconds", "1")
    assert call(app, "GET", f"api/batchEndpoints/{name}").json()["inbox"]["debounce_seconds"] == 1
    drop(storage, f"inbox/{name}/", 1)
    wait_for(lambda: jobs_of(app, name), timeout=30, what="the inbox job")
    wait_for(lambda: "submitted" in cli("endpoint", "inbox", "-n", name, "-o", "table").stdout, timeout=10)
