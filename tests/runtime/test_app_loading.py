"""The runtime loads apps as the Functions host does: entry script, settings, route prefix, the product app."""
from __future__ import annotations

from tests.harness import APPS, ROOT


def test_the_entry_script_and_settings_come_from_local_settings_json(start_runtime):
    runtime = start_runtime(APPS / "custom_entry")
    response = runtime.get("v1/greeting", key=False)
    assert response.status_code == 200
    assert response.text == "from local settings"
    assert runtime.get("api/greeting", key=False).status_code == 404


def test_the_product_app_serves_health_and_nothing_but_its_own_routes(start_runtime):
    runtime = start_runtime(ROOT, env={"PYTHON_SCRIPT_FILE_NAME": "batch_app.py"})
    assert runtime.get("api/health", key=False).json() == {"status": "ok"}
    assert runtime.post("api/fanout", json={"values": [1]}).status_code == 404


def test_a_blueprint_app_starts_a_durable_fan_out_over_http(start_runtime):
    runtime = start_runtime(APPS / "blueprint_app")
    assert runtime.post("api/fanout", key=False, json={"values": [1]}).status_code == 401
    bad = runtime.post("api/fanout", json={"values": "nope"})
    assert bad.status_code == 400 and "values" in bad.json()["message"]
    started = runtime.post("api/fanout", json={"values": list(range(1, 31))})
    assert started.status_code == 202
    final = runtime.wait_for_status(started.json()["statusQueryGetUri"])
    assert final["runtimeStatus"] == "Completed"
    assert final["output"] == {"count": 30, "sum": sum(v * v for v in range(1, 31))}
