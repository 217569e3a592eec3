"""The app's settings agree everywhere it is configured: host.json, local settings, Bicep."""
from __future__ import annotations

import json
import re

from tests.harness import ROOT


def test_the_entry_script_setting_names_the_real_entry_script_everywhere():
    local = json.loads((ROOT / "local.settings.json.example").read_text())["Values"]
    bicep = (ROOT / "infra" / "main.bicep").read_text()
    deployed = re.search(r"name: 'PYTHON_SCRIPT_FILE_NAME'\s+value: '([^']+)'", bicep).group(1)
    assert local["PYTHON_SCRIPT_FILE_NAME"] == deployed == "batch_app.py"
    assert (ROOT / deployed).exists()
    assert local["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"


def test_host_json_and_bicep_use_the_same_task_hub():
    host = json.loads((ROOT / "host.json").read_text())
    assert host["version"] == "2.0"
    assert host["extensionBundle"]["version"].startswith("[4.")
    assert host["extensions"]["http"]["routePrefix"] == "api"
    bicep = (ROOT / "infra" / "main.bicep").read_text()
    default_hub = re.search(r"param taskHubName string = '([^']+)'", bicep).group(1)
    assert host["extensions"]["durableTask"]["hubName"] == default_hub
