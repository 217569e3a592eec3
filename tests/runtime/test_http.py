"""The HTTP front door of the local runtime: routing, methods, keys and the request/response mapping.

Every test talks to a real runtime subprocess (tests/apps/http_app) over HTTP, against a real Azurite.
"""
from __future__ import annotations

import http.client
import json
import os
import uuid

import pytest
import requests
from azure.storage.blob import BlobServiceClient

from tests.harness import APPS, Runtime

HTTP_APP = APPS / "http_app"


@pytest.fixture(scope="module")
def web(azurite, artifacts_dir) -> Runtime:
    """One runtime for the read-only tests of this module: starting one per test would only cost time."""
    runtime = Runtime(HTTP_APP, azurite.connection_string, artifacts_dir)
    runtime.start()
    yield runtime
    runtime.stop()


def echoed(response: requests.Response) -> dict:
    assert response.status_code == 200, (response.status_code, response.text)
    return response.json()


# -- routing -------------------------------------------------------------------------------------------
def test_route_parameter_reaches_the_function(web):
    body = echoed(web.get("api/items/abc-123", key=False))
    assert body["function"] == "item_by_id"
    assert body["route_params"] == {"id": "abc-123"}


def test_int_constraint_matches_numbers_only(web):
    body = echoed(web.get("api/orders/42", key=False))
    assert body == body | {"function": "order_by_number", "route_params": {"id": "42"}}
    assert web.get("api/orders/forty-two", key=False).status_code == 404
    assert web.get("api/orders/4.2", key=False).status_code == 404
    assert web.get("api/orders/99999999999", key=False).status_code == 404  # beyond a 32-bit int


def test_optional_parameter_may_be_left_out(web):
    with_name = web.get("api/greet/Ann", key=False)
    without = web.get("api/greet", key=False)
    assert (with_name.status_code, with_name.text) == (200, "Hello, Ann!")
    assert (without.status_code, without.text) == (200, "Hello, nobody!")


def test_catch_all_takes_the_rest_of_the_path(web):
    assert echoed(web.get("api/files/a/b/c.txt", key=False))["route_params"] == {"path": "a/b/c.txt"}
    assert echoed(web.get("api/files/top.txt", key=False))["route_params"] == {"path": "top.txt"}
    assert echoed(web.get("api/files", key=False))["route_params"] == {}


def test_literal_route_beats_parameterised_one(web):
    assert echoed(web.get("api/items/latest", key=False))["function"] == "item_latest"
    assert echoed(web.get("api/ITEMS/Latest", key=False))["function"] == "item_latest"  # case-insensitive
    assert echoed(web.get("api/items/older", key=False))["function"] == "item_by_id"


def test_constrained_parameter_beats_plain_one_whatever_the_declaration_order(web):
    # things/{name} is declared before things/{id:int} in the app; the constraint still wins for numbers.
    assert echoed(web.get("api/things/7", key=False))["function"] == "thing_by_number"
    assert echoed(web.get("api/things/seven", key=False))["function"] == "thing_by_name"


def test_function_name_is_the_route_when_none_is_given(web):
    assert echoed(web.get("api/unnamed_route", key=False))["function"] == "unnamed_route"


def test_routes_live_under_the_api_prefix_from_host_json(web):
    assert web.get("api/open", key=False).status_code == 200
    assert web.get("open", key=False).status_code == 404
    assert web.get("other/open", key=False).status_code == 404
    assert web.get("api/no/such/route", key=False).status_code == 404


def test_route_prefix_can_be_overridden_from_the_environment(start_runtime):
    runtime = start_runtime(HTTP_APP, env={"AzureFunctionsJobHost__extensions__http__routePrefix": "v2/public"})
    assert echoed(runtime.get("v2/public/open", key=False))["function"] == "open_route"
    assert echoed(runtime.get("v2/public/orders/5", key=False))["route_params"] == {"id": "5"}
    assert runtime.get("api/open", key=False).status_code == 404
    assert "/v2/public/open" in runtime.log_text()  # the banner shows the real URLs


def test_empty_route_prefix_puts_routes_at_the_root(start_runtime):
    runtime = start_runtime(HTTP_APP, env={"AzureFunctionsJobHost__extensions__http__routePrefix": ""})
    assert echoed(runtime.get("open", key=False))["function"] == "open_route"
    assert echoed(runtime.get("items/latest", key=False))["function"] == "item_latest"
    assert runtime.get("api/open", key=False).status_code == 404


# -- methods -------------------------------------------------------------------------------------------
def test_get_only_route_answers_405_to_post(web):
    assert web.get("api/only-get", key=False).status_code == 200
    response = web.post("api/only-get", key=False, data=b"x")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"


def test_each_allowed_method_reaches_the_function(web):
    for method in ("GET", "POST", "PUT"):
        response = requests.request(method, web.url("api/echo"), timeout=30)
        assert echoed(response)["method"] == method
    assert requests.delete(web.url("api/echo"), timeout=30).status_code == 405


# -- keys ----------------------------------------------------------------------------------------------
def test_function_level_route_needs_a_key(web):
    assert web.get("api/secure", key=False).status_code == 401
    assert web.get("api/secure", key=False, headers={"x-functions-key": "wrong"}).status_code == 401
    assert web.get("api/secure", key=False, params={"code": "wrong"}).status_code == 401
    assert web.get("api/secure", key=False, params={"code": "n\u00e4ive-\u2603"}).status_code == 401
    assert echoed(web.get("api/secure", key=False, headers={"x-functions-key": web.function_key}))
    assert echoed(web.get("api/secure", key=False, params={"code": web.function_key}))
    assert echoed(web.get("api/secure", key=False, params={"code": web.master_key}))  # master opens all
    assert web.post("api/secure", key=False, data=b"{}").status_code == 401  # every method is guarded


def test_admin_level_route_needs_the_master_key(web):
    assert web.get("api/admin-only", key=False).status_code == 401
    assert web.get("api/admin-only", key=False, headers={"x-functions-key": web.function_key}).status_code == 401
    assert web.get("api/admin-only", key=False, params={"code": web.function_key}).status_code == 401
    assert echoed(web.get("api/admin-only", key=False, headers={"x-functions-key": web.master_key}))
    assert echoed(web.get("api/admin-only", key=False, params={"code": web.master_key}))


def test_admin_api_needs_the_master_key(web):
    assert web.get("admin/host/status", key=False).status_code == 401
    assert web.get("admin/host/status").status_code == 401  # the function key is not enough
    response = web.get("admin/host/status", key=False, headers={"x-functions-key": web.master_key})
    assert response.status_code == 200
    assert response.json()["state"] == "Running"


def test_anonymous_route_needs_nothing(web):
    assert echoed(web.get("api/open", key=False))["function"] == "open_route"
    assert echoed(web.get("api/open", key=False, params={"code": "anything"}))["function"] == "open_route"


def test_keys_persist_across_restarts_of_the_same_host(start_runtime, storage):
    host_id = f"keys-{uuid.uuid4().hex[:12]}"
    runtime = start_runtime(HTTP_APP, host_id=host_id)
    first = (runtime.function_key, runtime.master_key)
    assert first[0] != first[1]
    stored = json.loads(BlobServiceClient.from_connection_string(storage).get_blob_client(
        "azure-webjobs-secrets", f"{host_id}/host.json").download_blob().readall())
    assert stored["masterKey"]["value"] == runtime.master_key
    assert {"name": "default", "value": runtime.function_key, "encrypted": False} in stored["functionKeys"]

    runtime.stop()
    runtime.start()
    assert (runtime.function_key, runtime.master_key) == first
    assert echoed(runtime.get("api/secure", key=False, headers={"x-functions-key": first[0]}))
    assert echoed(runtime.get("api/admin-only", key=False, params={"code": first[1]}))

    other = start_runtime(HTTP_APP)  # another host id: keys of its own, and ours do not open it
    assert other.function_key not in first and other.master_key not in first
    assert other.get("api/secure", key=False, headers={"x-functions-key": first[0]}).status_code == 401


# -- request and response mapping ----------------------------------------------------------------------
def test_query_parameters_and_headers_reach_the_function(web):
    body = echoed(web.get("api/echo", key=False, params={"a": "1", "b": "two words", "c": "\u00e9t\u00e9"},
                          headers={"X-Test-Header": "hello", "X-Other": "42"}))
    assert body["params"] == {"a": "1", "b": "two words", "c": "\u00e9t\u00e9"}
    assert body["headers"]["x-test-header"] == "hello"
    assert body["headers"]["x-other"] == "42"
    assert body["method"] == "GET"


def test_a_header_sent_twice_reaches_the_function_with_both_values(web):
    connection = http.client.HTTPConnection("127.0.0.1", web.port, timeout=30)
    try:
        connection.putrequest("GET", "/api/echo")
        connection.putheader("X-Twice", "one")
        connection.putheader("X-Twice", "two")
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == 200
        assert json.loads(response.read())["headers"]["x-twice"] == "one, two"
    finally:
        connection.close()


@pytest.mark.parametrize("code", [200, 201, 202, 400, 404, 418, 503])
def test_status_code_and_headers_of_the_response_come_back(web, code):
    response = web.post(f"api/status/{code}", key=False, params={"echo": "ping"})
    assert response.status_code == code
    assert response.text == f"status {code}"
    assert response.headers["X-Custom"] == "custom-value"
    assert response.headers["X-Echo"] == "ping"
    assert response.headers["Content-Type"].startswith("text/plain")


def test_a_header_set_twice_by_the_function_comes_back_twice(web):
    response = web.get("api/cookies", key=False)
    assert response.status_code == 200
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert response.cookies.get_dict() == {"a": "1", "b": "2"}


def test_json_mimetype_comes_back_as_content_type(web):
    response = web.get("api/echo", key=False)
    assert response.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("payload", [bytes(range(256)) * 100, os.urandom(3 * 1024 * 1024), b""],
                         ids=["all-byte-values", "3MiB-random", "empty"])
def test_binary_body_round_trips_byte_exact(web, payload):
    response = web.post("api/binary", key=False, data=payload,
                        headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/octet-stream")
    assert len(response.content) == len(payload)
    assert response.content == payload


def test_request_body_length_is_what_was_sent(web):
    assert echoed(web.post("api/echo", key=False, data=b"\x00\xff" * 5000))["body_length"] == 10000


def test_async_and_sync_functions_both_answer(web):
    async_body = echoed(web.get("api/async-hello", key=False, params={"name": "loop"}))
    sync_body = echoed(web.get("api/sync-hello", key=False, params={"name": "thread"}))
    assert (async_body["hello"], async_body["async"]) == ("loop", True)
    assert (sync_body["hello"], sync_body["async"]) == ("thread", False)
    # coroutine functions run on the function event loop, plain ones in the thread pool
    assert async_body["thread"] != sync_body["thread"]


def test_a_plain_string_return_value_becomes_the_body(web):
    response = web.get("api/plain-text", key=False)
    assert (response.status_code, response.text) == (200, "just a string")


@pytest.mark.parametrize("route,function,error", [("boom", "boom", "RuntimeError: boom on purpose"),
                                                  ("async-boom", "async_boom", "ValueError: async boom")])
def test_a_function_that_raises_gives_500(web, route, function, error):
    response = web.get(f"api/{route}", key=False)
    assert response.status_code == 500
    assert error in response.json()["error"]
    assert f"Executed 'Functions.{function}' (Failed" in web.log_text()
    assert echoed(web.get("api/open", key=False))  # the host carries on


def test_root_answers_that_the_host_is_up(web):
    response = web.get("", key=False)
    assert response.status_code == 200
    assert "up and running" in response.text
