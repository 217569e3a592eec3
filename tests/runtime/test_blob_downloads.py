"""Input blobs read with one GET and a SAS the SDK signs, against Azurite: whole blobs and byte ranges, with an
account key, with a SAS-token container, from a public container, through the SDK where the credential signs
no SAS, through the environment's HTTP proxy, a body cut short read again, large bodies in chunks, a missing
blob. Blocks of a predictions file staged with one PUT, committed by the SDK, and handed back where the
service refuses them."""
from __future__ import annotations

import datetime as dt
import http.server
import io
import os
import socket
import threading
import urllib.request
import uuid

import pytest
import urllib3
from azure.core.credentials import AzureSasCredential
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, ServiceRequestError
from azure.storage.blob import (BlobBlock, BlobServiceClient, ContainerClient, ContainerSasPermissions,
                                generate_container_sas)

from jobs.outputs import block_id, rows_block_id
from registry import blob_wire
from registry.blob_wire import copy_blob, list_blobs, pool_for, put_block, read_url


@pytest.fixture
def container(storage) -> ContainerClient:
    client = BlobServiceClient.from_connection_string(storage).get_container_client(f"dl{uuid.uuid4().hex[:12]}")
    client.create_container()
    return client


def read(container: ContainerClient, path: str, offset: int = 0, length: int | None = None) -> bytes:
    sink = io.BytesIO()
    copy_blob(container, path, sink, offset, length)
    return sink.getvalue()


def test_a_blob_is_read_whole_or_by_range_with_the_account_key(container):
    data = os.urandom(300_000)
    container.upload_blob("folder/a file.csv", data)
    assert "sig=" in read_url(container, "folder/a file.csv")
    assert read(container, "folder/a file.csv") == data
    assert read(container, "folder/a file.csv", 1000, 5000) == data[1000:6000]
    assert read(container, "folder/a file.csv", 299_990) == data[299_990:]


def test_one_sas_reads_every_file_of_a_container_until_it_is_due_to_be_signed_again(container, monkeypatch):
    """Signing costs more than the rest of a small read: a worker signs once per container and period, and a
    file handed to a user still gets a SAS for that file alone."""
    signed = []
    real = blob_wire.generate_container_sas
    monkeypatch.setattr(blob_wire, "generate_container_sas", lambda *a, **k: signed.append(a) or real(*a, **k))
    clock = [1_000_000.0]
    monkeypatch.setattr(blob_wire.time, "monotonic", lambda: clock[0])
    for number in range(3):
        container.upload_blob(f"in/{number}.csv", f"x\n{number}\n".encode())
    assert [read(container, f"in/{number}.csv") for number in range(3)] == [b"x\n0\n", b"x\n1\n", b"x\n2\n"]
    assert len(signed) == 1
    clock[0] += blob_wire.DEFAULT_SAS_REUSE_SECONDS
    assert read(container, "in/0.csv") == b"x\n0\n"
    assert len(signed) == 2
    assert "sr=b" in read_url(container, "in/1.csv")  # a user's link reads that one blob


def test_a_folder_is_listed_with_sizes_a_page_at_a_time_as_the_sdk_lists_it(container, azurite, monkeypatch):
    names = ["in/a file ü.csv", "in/b&c+d.csv", "in/deep/x%20y.csv", "in/z.csv", "other/no.csv"]
    for number, name in enumerate(names):
        container.upload_blob(name, b"x" * number)
    monkeypatch.setattr(blob_wire, "DEFAULT_LIST_PAGE", 2)  # three pages for the four under in/
    by_sdk = []
    real_sdk_list = blob_wire._sdk_list
    monkeypatch.setattr(blob_wire, "_sdk_list", lambda *args: by_sdk.append(args[1]) or real_sdk_list(*args))
    expected = [(blob.name, blob.size) for blob in container.list_blobs(name_starts_with="in/")]
    assert list_blobs(container, "in/") == expected == [(name, number) for number, name in enumerate(names[:4])]
    assert len(list_blobs(container, "")) == 5
    key = dict(part.split("=", 1) for part in azurite.connection_string.split(";") if "=" in part)["AccountKey"]
    sas = generate_container_sas(container.account_name, container.container_name, account_key=key,
                                 permission=ContainerSasPermissions(read=True, list=True),
                                 expiry=dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5))
    endpoint = container.primary_endpoint.rsplit("/", 1)[0]
    assert list_blobs(ContainerClient(endpoint, container.container_name, credential=sas), "in/") == expected
    assert by_sdk == []  # all of it on the wire
    token_like = ContainerClient(endpoint, container.container_name, credential=AzureSasCredential(sas))
    assert list_blobs(token_like, "in/") == expected  # nothing to sign with: the SDK lists
    read_only = generate_container_sas(container.account_name, container.container_name, account_key=key,
                                       permission=ContainerSasPermissions(read=True),
                                       expiry=dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5))
    with pytest.raises(HttpResponseError):  # refused: the SDK lists, and says why
        list_blobs(ContainerClient(endpoint, container.container_name, credential=read_only), "in/")
    assert by_sdk == ["in/", "in/"]
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}/{container.account_name}"
    unreachable = ContainerClient(nowhere, "gone", credential={"account_name": container.account_name,
                                                               "account_key": key})
    with pytest.raises(ServiceRequestError):  # what a job's input check reports as DatastoreUnreachable
        list_blobs(unreachable, "in/")


def test_a_sas_token_container_and_a_public_one_are_read_without_the_key(container, azurite):
    container.upload_blob("x.csv", b"x\n1\n")
    key = dict(part.split("=", 1) for part in azurite.connection_string.split(";") if "=" in part)["AccountKey"]
    sas = generate_container_sas(container.account_name, container.container_name, account_key=key,
                                 permission=ContainerSasPermissions(read=True),
                                 expiry=dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5))
    by_sas = ContainerClient(container.primary_endpoint.rsplit("/", 1)[0], container.container_name, credential=sas)
    assert read(by_sas, "x.csv") == b"x\n1\n"
    container.set_container_access_policy({}, public_access="blob")
    public = ContainerClient(container.primary_endpoint.rsplit("/", 1)[0], container.container_name)
    assert read_url(public, "x.csv").endswith("/x.csv")
    assert read(public, "x.csv") == b"x\n1\n"


def test_a_container_whose_credential_signs_no_sas_is_read_through_the_sdk(container, azurite):
    data = os.urandom(20_000)
    container.upload_blob("token.bin", data)
    key = dict(part.split("=", 1) for part in azurite.connection_string.split(";") if "=" in part)["AccountKey"]
    sas = generate_container_sas(container.account_name, container.container_name, account_key=key,
                                 permission=ContainerSasPermissions(read=True),
                                 expiry=dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5))
    signed_elsewhere = ContainerClient(container.primary_endpoint.rsplit("/", 1)[0], container.container_name,
                                       credential=AzureSasCredential(sas))  # like a token: nothing to sign with
    assert read_url(signed_elsewhere, "token.bin") is None
    assert read(signed_elsewhere, "token.bin") == data
    assert read(signed_elsewhere, "token.bin", 0, 100) == data[:100]
    assert read(signed_elsewhere, "token.bin", 19_000) == data[19_000:]


def test_a_body_larger_than_one_read_comes_in_chunks(container, monkeypatch):
    monkeypatch.setattr(blob_wire, "DEFAULT_WHOLE_READ_BYTES", 1000)
    monkeypatch.setattr(blob_wire, "DEFAULT_CHUNK_BYTES", 4096)
    data = os.urandom(50_000)
    container.upload_blob("big.bin", data)
    assert read(container, "big.bin") == data


def test_a_missing_blob_is_not_found_and_a_refused_read_says_its_status(container, azurite):
    with pytest.raises(ResourceNotFoundError, match="missing.csv"):
        read(container, "missing.csv")
    container.upload_blob("private.csv", b"secret")
    anonymous = ContainerClient(container.primary_endpoint.rsplit("/", 1)[0], container.container_name)
    with pytest.raises(Exception, match="answered 40[34]"):
        read(anonymous, "private.csv")


class ForwardingProxy(http.server.BaseHTTPRequestHandler):
    """A plain HTTP forward proxy on loopback that remembers what it forwarded."""

    forwarded: list[str] = []
    cut_short = 0  # how many of the next answers lose the second half of their body on the way

    def do_GET(self):  # noqa: N802 (the handler's name is http.server's)
        self.forwarded.append(self.path)
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                urllib.request.Request(self.path, headers=dict(self.headers))) as answer:
            body = answer.read()
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                if name.lower() not in ("transfer-encoding", "connection"):
                    self.send_header(name, value)
            self.end_headers()
            if ForwardingProxy.cut_short:
                ForwardingProxy.cut_short -= 1
                self.wfile.write(body[:len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    def log_message(self, *args):
        pass


class LoopbackProxy:
    """The forwarding proxy's server; use() makes it the environment's HTTP proxy (after a test's uploads,
    which the SDK would send through it too)."""

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ForwardingProxy)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        ForwardingProxy.forwarded, ForwardingProxy.cut_short = [], 0

    def use(self) -> None:
        self.monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{self.server.server_port}")


@pytest.fixture
def proxy(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    loopback = LoopbackProxy(monkeypatch)
    yield loopback
    loopback.server.shutdown()


def test_reads_go_through_the_environments_http_proxy_unless_no_proxy_spares_the_host(container, proxy,
                                                                                      monkeypatch):
    data = os.urandom(10_000)
    container.upload_blob("proxied.bin", data)
    proxy.use()
    assert read(container, "proxied.bin") == data
    assert any("/proxied.bin?" in path for path in ForwardingProxy.forwarded)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert not isinstance(pool_for(read_url(container, "proxied.bin")), urllib3.ProxyManager)


def test_a_body_cut_short_on_the_way_is_read_again_and_one_always_cut_fails(container, proxy, tmp_path):
    data = os.urandom(100_000)
    container.upload_blob("flaky.bin", data)
    proxy.use()
    ForwardingProxy.cut_short = 2
    target = tmp_path / "flaky.bin"
    with open(target, "wb") as sink:
        sink.write(b"kept:")  # what the sink held before stays; only this read's bytes are redone
        copy_blob(container, "flaky.bin", sink)
    assert target.read_bytes() == b"kept:" + data and len(ForwardingProxy.forwarded) == 3
    ForwardingProxy.cut_short = 3
    with pytest.raises(urllib3.exceptions.ProtocolError):
        read(container, "flaky.bin")


def test_blocks_staged_on_the_wire_are_committed_by_the_sdk_and_a_refused_one_is_handed_back(container, azurite):
    blocks = {block_id(0, "header"): b"a,b\n", rows_block_id(0, 0): os.urandom(70_000), rows_block_id(0, 1): b"1,2\n"}
    for block, data in blocks.items():
        assert put_block(container, "out/predictions.csv", block, data)
    container.get_blob_client("out/predictions.csv").commit_block_list([BlobBlock(block) for block in blocks])
    assert read(container, "out/predictions.csv") == b"".join(blocks.values())
    key = dict(part.split("=", 1) for part in azurite.connection_string.split(";") if "=" in part)["AccountKey"]
    read_only = generate_container_sas(container.account_name, container.container_name, account_key=key,
                                       permission=ContainerSasPermissions(read=True),
                                       expiry=dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5))
    by_sas = ContainerClient(container.primary_endpoint.rsplit("/", 1)[0], container.container_name,
                             credential=read_only)
    assert put_block(by_sas, "out/other.csv", rows_block_id(0, 0), b"x") is False  # the SDK says why
    gone = BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client("gone-missing")
    assert put_block(gone, "p.csv", rows_block_id(0, 0), b"x") is False  # a lost container: the SDK path mends it
