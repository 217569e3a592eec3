"""Nothing is fetched from an address a user could not reach themselves: job inputs, data asset URLs and
datastore endpoints naming loopback, private, link-local or reserved addresses (in several spellings) or a
scheme other than http(s) are refused with a 400 naming the field, and redirects are checked before they
are followed. No request here leaves loopback: refusals happen before any connection."""
from __future__ import annotations

import http.server
import threading
import uuid

import pytest

from registry.outbound import ALLOW_SETTING, OutboundRefused, check_url, open_url, refused_kind
from tests.model_builders import onnx_model_bytes

REFUSED = [
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://0xa9fea9fe/latest/meta-data/", "link-local"),
    ("http://[::ffff:169.254.169.254]/latest/", "link-local"),
    ("http://[::ffff:a9fe:a9fe]/latest/", "link-local"),
    ("http://2852039166/", "link-local"),
    ("http://10.1.2.3/data.csv", "private"),
    ("https://192.168.0.10/data.csv", "private"),
    ("http://127.0.0.1:9/data.csv", "loopback"),
    ("http://[::1]/data.csv", "loopback"),
    ("http://0.0.0.0/data.csv", "unspecified"),
    ("http://240.0.0.1/data.csv", "reserved"),
]


@pytest.fixture(scope="module")
def strict(start_product):
    """The product with no allow-list, as in Azure."""
    return start_product()


def call(api, method: str, path: str, **kwargs):
    return api._call(method, path, True, **kwargs)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("url, kind", REFUSED)
def test_the_policy_refuses_every_spelling_of_an_address_no_user_could_reach(url, kind, monkeypatch):
    monkeypatch.delenv(ALLOW_SETTING, raising=False)
    with pytest.raises(OutboundRefused) as refused:
        check_url(url, "input")
    assert f"is a {kind} address" in refused.value.message and refused.value.target == "input"


def test_only_http_and_https_are_fetched_and_the_allow_list_lets_named_hosts_and_networks_through(monkeypatch):
    for url in ("ftp://files.example/data.csv", "file:///etc/passwd", "gopher://x/"):
        with pytest.raises(OutboundRefused, match="only http and https"):
            check_url(url, "path")
    monkeypatch.setenv(ALLOW_SETTING, "localhost, 10.0.0.0/8")
    check_url("http://localhost:8080/x.csv", "path")
    check_url("http://10.9.8.7/x.csv", "path")
    with pytest.raises(OutboundRefused):
        check_url("http://192.168.1.1/x.csv", "path")
    assert refused_kind(__import__("ipaddress").ip_address("20.0.0.1")) is None  # a public address


class Redirecting(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the standard library's name)
        targets = {"/metadata": "http://169.254.169.254/latest/", "/ftp": "ftp://files.example/x.csv",
                   "/fine": "/data.csv"}
        if self.path in targets:
            self.send_response(302)
            self.send_header("Location", targets[self.path])
            self.end_headers()
            return
        body = b"x\n1\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_redirects_are_checked_before_they_are_followed(monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        monkeypatch.setenv(ALLOW_SETTING, "127.0.0.1")
        with open_url(f"{base}/fine", "input", 10) as answer:
            assert answer.read() == b"x\n1\n"  # the allow-listed loopback server still serves
        with pytest.raises(OutboundRefused, match="link-local"):
            open_url(f"{base}/metadata", "input", 10)
        with pytest.raises(OutboundRefused, match="only http and https"):
            open_url(f"{base}/ftp", "input", 10)
        monkeypatch.delenv(ALLOW_SETTING)
        with pytest.raises(OutboundRefused, match="loopback"):
            open_url(f"{base}/fine", "input", 10)
    finally:
        server.shutdown()


def test_a_name_that_resolves_elsewhere_when_connecting_is_refused_on_the_address_connected_to(monkeypatch):
    """DNS rebinding: the name passes the check with a public address, then answers the metadata address when
    the connection is made; the connection is refused before it is made."""
    import socket

    real = socket.getaddrinfo
    answers = iter(["93.184.216.34"])

    def rebinding(host, port, *args, **kwargs):
        if host != "rebind.example":
            return real(host, port, *args, **kwargs)
        address = next(answers, "169.254.169.254")
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port or 80))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    connected = []
    monkeypatch.setattr(socket.socket, "connect", lambda self, target: connected.append(target))
    with pytest.raises(OutboundRefused, match="link-local"):
        open_url("http://rebind.example/data.csv", "input", 5)
    assert connected == []


def test_the_api_refuses_such_inputs_data_assets_datastores_and_climbing_paths_naming_the_field(strict):
    endpoint = unique("outbound")
    assert call(strict, "PUT", f"api/batchEndpoints/{endpoint}", json={}).status_code == 201
    model = strict.post(f"api/models/{unique('onnx')}/versions", data=onnx_model_bytes(),
                        params={"filename": "model.onnx"}).json()
    assert call(strict, "PUT", f"api/batchEndpoints/{endpoint}/deployments/main",
                json={"model": model["id"]}).status_code == 201
    for url, _ in REFUSED[:3] + [("http://127.0.0.1:9/x.csv", "loopback")]:
        answer = call(strict, "POST", f"api/batchEndpoints/{endpoint}/jobs", json={"input": url})
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == "OutboundAddressRefused", answer.text
        assert answer.json()["error"]["target"] == "input"
    data = call(strict, "POST", f"api/data/{unique('meta')}/versions",
                json={"type": "uri_file", "path": "http://169.254.169.254/latest/meta-data/"})
    assert data.status_code == 400 and data.json()["error"]["target"] == "path"
    store = call(strict, "PUT", f"api/datastores/{unique('meta').replace('-', '_')}",
                 json={"account_url": "http://169.254.169.254/", "account_name": "x", "container_name": "data"})
    assert store.status_code == 400 and store.json()["error"]["target"] == "account_url"
    climbing = call(strict, "POST", f"api/batchEndpoints/{endpoint}/jobs",
                    json={"input": "azureml://datastores/workspaceblobstore/paths/a/../../secrets/"})
    assert climbing.status_code == 400 and climbing.json()["error"]["target"] == "input"
    assert call(strict, "GET", f"api/batchEndpoints/{endpoint}/jobs").json()["value"] == []  # nothing recorded
