"""Pure rules of the workspace: names, references, schemas with Azure ML's defaults, merge patches."""
from __future__ import annotations

import pytest

from registry import defaults as d
from registry.endpoints import merge_patch
from registry.errors import ValidationFailed
from registry.names import check_asset_name, check_datastore_name, check_endpoint_name
from registry.refs import AssetRef, parse_asset_ref, parse_datastore_uri
from registry.resources import BatchDeploymentSpec, BatchEndpointSpec, DatastoreSpec, parse


@pytest.mark.parametrize("name", ["abc", "my-endpoint", "A1b2", "x" * 32])
def test_valid_endpoint_names(name):
    assert check_endpoint_name(name) == name


@pytest.mark.parametrize("name", ["ab", "1abc", "abc-", "a_bc", "x" * 33, "ab c", ""])
def test_invalid_endpoint_names_are_refused_with_the_rule(name):
    with pytest.raises(ValidationFailed, match="3-32 characters") as caught:
        check_endpoint_name(name)
    assert caught.value.target == "name"


def test_asset_and_datastore_names():
    assert check_asset_name("model.v1_final-2") == "model.v1_final-2"
    with pytest.raises(ValidationFailed):
        check_asset_name("-model")
    assert check_datastore_name("my_store1") == "my_store1"
    with pytest.raises(ValidationFailed):
        check_datastore_name("my-store")


@pytest.mark.parametrize("text, expected", [
    ("model:3", AssetRef("model", 3)),
    ("azureml:model:3", AssetRef("model", 3)),
    ("model@latest", AssetRef("model", None)),
    ("azureml:model@latest", AssetRef("model", None)),
    ("model", AssetRef("model", None)),
])
def test_asset_references(text, expected):
    assert parse_asset_ref(text, "model") == expected


@pytest.mark.parametrize("text", ["model:x", ":3", "azureml:", ""])
def test_bad_asset_references_name_the_field(text):
    with pytest.raises(ValidationFailed) as caught:
        parse_asset_ref(text, "model")
    assert caught.value.target == "model"


def test_datastore_uris():
    location = parse_datastore_uri("azureml://datastores/workspaceblobstore/paths/inputs/a.csv", "input")
    assert (location.datastore, location.path) == ("workspaceblobstore", "inputs/a.csv")
    with pytest.raises(ValidationFailed):
        parse_datastore_uri("https://example.com/a.csv", "input")


def test_a_deployment_gets_every_azure_ml_default():
    spec = parse(BatchDeploymentSpec, {"model": "m:1"})
    assert spec.settings.mini_batch_size == d.DEFAULT_MINI_BATCH_SIZE == 10
    assert spec.settings.max_concurrency_per_instance == 1
    assert spec.settings.retry_settings.max_retries == 3 and spec.settings.retry_settings.timeout == 30
    assert spec.settings.error_threshold == -1 and spec.settings.logging_level == "info"
    assert spec.settings.output_action == "append_row" and spec.settings.output_file_name == "predictions.csv"
    assert spec.resources.instance_count == 1


def test_schema_errors_name_the_nested_field():
    with pytest.raises(ValidationFailed) as caught:
        parse(BatchDeploymentSpec, {"model": "m:1", "type": "model", "settings": {"output_action": "append"}})
    assert caught.value.target == "settings.output_action"
    with pytest.raises(ValidationFailed) as caught:
        parse(BatchDeploymentSpec, {"model": "m:1", "settings": {"output_file_name": "../x.csv"}})
    assert caught.value.target == "settings.output_file_name"


def test_the_schema_key_is_accepted_and_unknown_keys_are_not():
    spec = parse(BatchEndpointSpec, {"$schema": "https://azuremlschemas.azureedge.net/latest/batchEndpoint.schema.json",
                                     "name": "ep1", "auth_mode": "key"})
    assert spec.name == "ep1"
    with pytest.raises(ValidationFailed) as caught:
        parse(BatchEndpointSpec, {"nmae": "typo"})
    assert caught.value.target == "nmae"


def test_a_datastore_must_say_where_it_is():
    with pytest.raises(ValidationFailed):
        parse(DatastoreSpec, {"container_name": "data"})
    assert parse(DatastoreSpec, {"container_name": "data", "account_name": "acct"}).protocol == "https"


def test_merge_patch_merges_objects_and_deletes_nulls():
    target = {"a": 1, "settings": {"x": 1, "y": 2}, "tags": {"k": "v"}}
    assert merge_patch(target, {"settings": {"y": 3}, "tags": None, "b": 2}) == {
        "a": 1, "settings": {"x": 1, "y": 3}, "b": 2}


def test_tag_values_of_any_scalar_type_are_kept_as_strings():
    spec = parse(BatchDeploymentSpec, {"model": "m:1", "tags": {"device_batching": 16, "gpu": False, "rate": 0.5,
                                                                 "owner": "me"}})
    assert spec.tags == {"device_batching": "16", "gpu": "false", "rate": "0.5", "owner": "me"}
    assert parse(BatchEndpointSpec, {"tags": {"n": 1}}).tags == {"n": "1"}
    with pytest.raises(ValidationFailed) as nested:
        parse(BatchEndpointSpec, {"tags": {"n": [1, 2]}})
    assert nested.value.target == "tags.n"


def test_a_pipeline_deployment_is_refused_in_one_sentence_naming_the_type():
    with pytest.raises(ValidationFailed) as refused:
        parse(BatchDeploymentSpec, {"type": "pipeline", "component": "azureml:c:1",
                                    "settings": {"default_compute": "cpu"}})
    assert refused.value.target == "type" and refused.value.details == []
    assert refused.value.message == ("Deployments of type 'pipeline' are not supported: only model deployments "
                                     "(type: model) score here.")


def test_a_datastore_path_may_not_climb_out_or_hold_backslashes():
    for text in ("azureml://datastores/ws/paths/a/../../etc/passwd", "azureml://datastores/ws/paths/..",
                 "azureml://datastores/ws/paths/a\\b.csv"):
        with pytest.raises(ValidationFailed) as refused:
            parse_datastore_uri(text, "input")
        assert refused.value.target == "input" and "'..' and backslashes are not allowed" in refused.value.message
    assert parse_datastore_uri("azureml://datastores/ws/paths/a/..b/c.csv", "input").path == "a/..b/c.csv"
