"""Reading input blobs at the wire's cost: one GET through urllib3's connection pool, authorized by a
short-lived read-only SAS that the storage SDK signs. The SDK's own download pipeline (requests, its
policies, 256 KiB chunks) spends several times the CPU per megabyte, and scoring workers spend their cores on
models. A container whose credential cannot sign a SAS (an Entra ID token) is read through the SDK."""
from __future__ import annotations

import datetime as dt
import functools
import urllib.request
from typing import BinaryIO
from urllib.parse import quote, urlsplit

import urllib3
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob import BlobSasPermissions, ContainerClient, generate_blob_sas

from .storage import (
    DEFAULT_STORAGE_BACKOFF_SECONDS, DEFAULT_STORAGE_CONNECT_TIMEOUT_SECONDS, DEFAULT_STORAGE_READ_TIMEOUT_SECONDS,
    DEFAULT_STORAGE_RETRIES,
)

DEFAULT_SAS_MINUTES = 15
DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024
DEFAULT_WHOLE_READ_BYTES = 16 * 1024 * 1024  # a body up to this size is read in one call (urllib3's fast path)
DEFAULT_POOL_CONNECTIONS = 16
DEFAULT_BODY_ATTEMPTS = 3  # a body cut short is read again from its start
DEFAULT_RETRIES = urllib3.Retry(total=DEFAULT_STORAGE_RETRIES, backoff_factor=DEFAULT_STORAGE_BACKOFF_SECONDS,
                                status_forcelist=(500, 502, 503, 504), allowed_methods=("GET",))

_POOL_OPTIONS = {"maxsize": DEFAULT_POOL_CONNECTIONS, "retries": DEFAULT_RETRIES,
                 "timeout": urllib3.Timeout(connect=DEFAULT_STORAGE_CONNECT_TIMEOUT_SECONDS,
                                            read=DEFAULT_STORAGE_READ_TIMEOUT_SECONDS)}
_pool = urllib3.PoolManager(**_POOL_OPTIONS)


@functools.cache
def _proxy_pool(proxy: str) -> urllib3.ProxyManager:
    return urllib3.ProxyManager(proxy, **_POOL_OPTIONS)


def pool_for(url: str) -> urllib3.PoolManager:
    """The connection pool for url: through the HTTP(S)_PROXY of the environment unless NO_PROXY spares its
    host, as the SDK's requests would go."""
    split = urlsplit(url)
    proxy = urllib.request.getproxies().get(split.scheme)
    if proxy and not urllib.request.proxy_bypass(split.hostname or ""):
        return _proxy_pool(proxy)
    return _pool


def read_url(container: ContainerClient, path: str) -> str | None:
    """A URL that reads the blob with no other credential, or None where the container cannot give one."""
    base, _, query = container.url.partition("?")
    url = f"{base}/{quote(path, safe='~/')}"
    credential = container.credential
    if credential is None:  # a SAS in the container's URL already, or a public container
        return f"{url}?{query}" if query else url
    account_key = getattr(credential, "account_key", None)
    if not account_key:
        return None
    sas = generate_blob_sas(credential.account_name, container.container_name, path, account_key=account_key,
                            permission=BlobSasPermissions(read=True),
                            expiry=dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=DEFAULT_SAS_MINUTES))
    return f"{url}?{sas}"


def copy_blob(container: ContainerClient, path: str, sink: BinaryIO, offset: int = 0,
              length: int | None = None) -> None:
    """Write the blob (or length bytes of it from offset) into sink (a seekable file). A body cut short on the
    way is read again from its start, up to DEFAULT_BODY_ATTEMPTS times."""
    url = read_url(container, path)
    if url is None:
        container.download_blob(path, offset=offset, length=length).readinto(sink)
        return
    headers = {}
    if offset or length is not None:
        end = "" if length is None else str(offset + length - 1)
        headers["Range"] = f"bytes={offset}-{end}"
    start = sink.tell()
    for attempt in range(1, DEFAULT_BODY_ATTEMPTS + 1):
        try:
            _get(pool_for(url), url, headers, path, sink)
            return
        except (urllib3.exceptions.ProtocolError, urllib3.exceptions.ReadTimeoutError):
            if attempt == DEFAULT_BODY_ATTEMPTS:
                raise
            sink.seek(start)
            sink.truncate()


def _get(pool: urllib3.PoolManager, url: str, headers: dict, path: str, sink: BinaryIO) -> None:
    response = pool.request("GET", url, headers=headers, preload_content=False)
    try:
        if response.status == 404:
            raise ResourceNotFoundError(f"The blob {path} does not exist.")
        if response.status >= 300:
            raise HttpResponseError(f"Reading the blob {path} answered {response.status}: "
                                    f"{response.read(2000).decode(errors='replace')}")
        size = int(response.headers.get("Content-Length") or -1)
        if 0 <= size <= DEFAULT_WHOLE_READ_BYTES:
            sink.write(response.read())
            return
        while chunk := response.read(DEFAULT_CHUNK_BYTES):
            sink.write(chunk)
    finally:
        response.release_conn()
