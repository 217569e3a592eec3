"""host.json parsing, AzureFunctionsJobHost__ overrides and task hub name rules (no runtime)."""
from __future__ import annotations

import json
import os

import pytest
from pydantic import ValidationError

from devhost.config import (DEFAULT_HUB_NAME, DurableSettings, HostSettings, apply_host_overrides,
                            apply_local_settings, read_host_settings, read_local_settings, script_file_name)


@pytest.fixture
def app_dir(tmp_path, monkeypatch):
    """An app folder, with no AzureFunctionsJobHost__ variable of the outer environment leaking in."""
    for key in list(os.environ):
        if key.startswith("AzureFunctionsJobHost__"):
            monkeypatch.delenv(key)
    return tmp_path


def write_host_json(folder, data: dict) -> None:
    (folder / "host.json").write_text(json.dumps(data))


def test_defaults_when_host_json_says_nothing():
    settings = HostSettings.from_host_json({"version": "2.0"})
    assert settings.route_prefix == "api"
    assert settings.durable.hub_name == DEFAULT_HUB_NAME == "TestHubName"
    assert settings.durable.partition_count == 4
    assert settings.durable.max_concurrent_activities is None
    assert settings.queue_max_dequeue_count == 5
    assert settings.queue_visibility_timeout_seconds == 0


def test_host_json_values_are_read():
    settings = HostSettings.from_host_json({"version": "2.0", "extensions": {
        "http": {"routePrefix": "/v1/"},
        "durableTask": {"hubName": "OrdersHub", "maxConcurrentActivityFunctions": 3,
                        "storageProvider": {"partitionCount": 2}},
        "queues": {"maxDequeueCount": 3, "visibilityTimeout": "00:01:30"},
    }})
    assert settings.route_prefix == "v1"  # slashes around the prefix do not matter
    assert settings.durable == DurableSettings(hub_name="OrdersHub", partition_count=2, max_concurrent_activities=3)
    assert settings.queue_max_dequeue_count == 3
    assert settings.queue_visibility_timeout_seconds == 90


def test_empty_route_prefix_is_allowed():
    assert HostSettings.from_host_json({"extensions": {"http": {"routePrefix": ""}}}).route_prefix == ""


@pytest.mark.parametrize("count", [0, 17])
def test_partition_count_must_be_between_1_and_16(count):
    with pytest.raises(ValidationError, match="partition_count"):
        HostSettings.from_host_json({"extensions": {"durableTask": {"storageProvider": {"partitionCount": count}}}})


@pytest.mark.parametrize("name", ["abc", "MyHub2", "A" * 45, "TestHubName"])
def test_valid_hub_names(name):
    assert DurableSettings(hub_name=name).hub_name == name


@pytest.mark.parametrize("name", ["ab", "A" * 46, "1hub", "my-hub", "my_hub", "hub name", ""])
def test_invalid_hub_names_are_rejected_with_the_rule(name):
    with pytest.raises(ValidationError, match="hubName must be 3-45 letters and digits, starting with a letter"):
        DurableSettings(hub_name=name)


def test_invalid_hub_name_in_host_json_is_rejected():
    with pytest.raises(ValidationError, match="hubName"):
        HostSettings.from_host_json({"extensions": {"durableTask": {"hubName": "bad-name"}}})


def test_hub_name_with_a_trailing_newline_is_rejected():
    with pytest.raises(ValidationError):
        DurableSettings(hub_name="MyHub\n")


def test_visibility_timeout_with_days():
    settings = HostSettings.from_host_json({"extensions": {"queues": {"visibilityTimeout": "1.00:00:00"}}})
    assert settings.queue_visibility_timeout_seconds == 86400


# -- AzureFunctionsJobHost__ overrides -----------------------------------------------------------------
def test_override_replaces_a_host_json_value_case_insensitively():
    data = {"version": "2.0", "extensions": {"http": {"routePrefix": "api"}}}
    result = apply_host_overrides(data, {"AzureFunctionsJobHost__Extensions__HTTP__routeprefix": "v2"})
    assert result == {"version": "2.0", "extensions": {"http": {"routePrefix": "v2"}}}


def test_override_creates_missing_sections():
    result = apply_host_overrides({"version": "2.0"}, {
        "AzureFunctionsJobHost__extensions__durableTask__hubName": "FromEnv",
        "AzureFunctionsJobHost__extensions__durableTask__storageProvider__partitionCount": "2",
        "AzureFunctionsJobHost__extensions__queues__maxDequeueCount": "7",
    })
    settings = HostSettings.from_host_json(result)
    assert settings.durable.hub_name == "FromEnv"
    assert settings.durable.partition_count == 2  # strings from the environment become numbers
    assert settings.queue_max_dequeue_count == 7


def test_unrelated_variables_are_ignored():
    data = {"version": "2.0"}
    assert apply_host_overrides(data, {"PATH": "/bin", "AzureFunctionsJobHostX": "1",
                                       "AzureWebJobsStorage": "x"}) == {"version": "2.0"}


def test_read_host_settings_applies_environment_overrides(app_dir, monkeypatch):
    write_host_json(app_dir, {"version": "2.0", "extensions": {"http": {"routePrefix": "api"},
                                                               "durableTask": {"hubName": "FileHub"}}})
    assert read_host_settings(app_dir).route_prefix == "api"
    monkeypatch.setenv("AzureFunctionsJobHost__extensions__http__routePrefix", "custom")
    monkeypatch.setenv("AzureFunctionsJobHost__extensions__durableTask__hubName", "EnvHub")
    settings = read_host_settings(app_dir)
    assert (settings.route_prefix, settings.durable.hub_name) == ("custom", "EnvHub")
    assert json.loads((app_dir / "host.json").read_text())["extensions"]["http"]["routePrefix"] == "api"


def test_invalid_hub_name_from_the_environment_is_rejected(app_dir, monkeypatch):
    write_host_json(app_dir, {"version": "2.0"})
    monkeypatch.setenv("AzureFunctionsJobHost__extensions__durableTask__hubName", "no_underscores")
    with pytest.raises(ValidationError, match="hubName"):
        read_host_settings(app_dir)


def test_host_json_must_be_version_2(app_dir):
    write_host_json(app_dir, {"version": "1.0"})
    with pytest.raises(ValueError, match="'version' must be \"2.0\""):
        read_host_settings(app_dir)


def test_missing_host_json_means_defaults(app_dir):
    assert read_host_settings(app_dir) == HostSettings()


# -- local.settings.json -------------------------------------------------------------------------------
def test_local_settings_values_are_exported_but_real_environment_wins(app_dir, monkeypatch):
    (app_dir / "local.settings.json").write_text(json.dumps({"IsEncrypted": False, "Values": {
        "DEVHOST_TEST_ONLY_FROM_FILE": "file", "DEVHOST_TEST_BOTH": "file", "DEVHOST_TEST_NUMBER": 5}}))
    monkeypatch.setenv("DEVHOST_TEST_BOTH", "environment")
    monkeypatch.delenv("DEVHOST_TEST_ONLY_FROM_FILE", raising=False)
    monkeypatch.delenv("DEVHOST_TEST_NUMBER", raising=False)
    assert read_local_settings(app_dir)["DEVHOST_TEST_NUMBER"] == "5"
    apply_local_settings(app_dir)
    assert os.environ["DEVHOST_TEST_ONLY_FROM_FILE"] == "file"
    assert os.environ["DEVHOST_TEST_BOTH"] == "environment"
    assert os.environ["DEVHOST_TEST_NUMBER"] == "5"
    # monkeypatch recorded these as absent above, so they are removed again after the test


def test_no_local_settings_file_means_no_values(app_dir):
    assert read_local_settings(app_dir) == {}


def test_script_file_name(monkeypatch):
    monkeypatch.delenv("PYTHON_SCRIPT_FILE_NAME", raising=False)
    assert script_file_name() == "function_app.py"
    monkeypatch.setenv("PYTHON_SCRIPT_FILE_NAME", "batch_app.py")
    assert script_file_name() == "batch_app.py"
