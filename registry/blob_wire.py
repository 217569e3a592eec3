"""Moving job data through Blob storage at the wire's cost: input blobs read with one GET, and blocks of a
predictions file written with one PUT, each through urllib3's connection pool and authorized by a short-lived
SAS of that one permission that the storage SDK signs (one per container for reads, one per file for writes,
each signed again every DEFAULT_SAS_REUSE_SECONDS). The SDK's own pipeline (requests, its policies, 256 KiB
chunks) spends several times the CPU per request and per megabyte, and scoring workers spend their cores on
models. A container whose credential cannot sign a SAS (an Entra ID token) goes through the SDK."""
from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import os
import time
import urllib.request
import xml.etree.ElementTree as ElementTree
from typing import BinaryIO
from urllib.parse import quote, unquote, urlsplit

import urllib3
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, ServiceRequestError
from azure.storage.blob import (
    BlobSasPermissions, ContainerClient, ContainerSasPermissions, generate_blob_sas, generate_container_sas,
)

from .storage import (
    DEFAULT_STORAGE_BACKOFF_SECONDS, DEFAULT_STORAGE_CONNECT_TIMEOUT_SECONDS, DEFAULT_STORAGE_READ_TIMEOUT_SECONDS,
    DEFAULT_STORAGE_RETRIES,
)

DEFAULT_SAS_MINUTES = 15
DEFAULT_SAS_REUSE_SECONDS = 300  # a SAS is signed again once this old, so none goes out with under 10 minutes left
#   (signing costs more than the rest of a small request's Python)
PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY")
DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024
DEFAULT_WHOLE_READ_BYTES = 16 * 1024 * 1024  # a body up to this size is read in one call (urllib3's fast path)
DEFAULT_POOL_CONNECTIONS = 16
DEFAULT_LIST_PAGE = 5000  # blobs per page of a listing: the service's maximum
DEFAULT_BODY_ATTEMPTS = 3  # a body cut short is read again from its start
DEFAULT_RETRIES = urllib3.Retry(total=DEFAULT_STORAGE_RETRIES, backoff_factor=DEFAULT_STORAGE_BACKOFF_SECONDS,
                                status_forcelist=(500, 502, 503, 504), allowed_methods=("GET", "PUT"))
# PUT is retried too: staging a block again under its id replaces it, so a repeat is harmless

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
    return _pool_for(split.scheme, split.hostname or "", tuple(os.environ.get(name) for name in PROXY_VARIABLES))


@functools.lru_cache(maxsize=256)
def _pool_for(scheme: str, host: str, variables: tuple) -> urllib3.PoolManager:
    """Decided once per host and proxy setting: reading the proxy settings walks the whole environment."""
    proxy = urllib.request.getproxies().get(scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        return _proxy_pool(proxy)
    return _pool


def read_url(container: ContainerClient, path: str) -> str | None:
    """A URL that reads the blob with no other credential, or None where the container cannot give one."""
    return _signed_url(container, path, "r")


def _signed_url(container: ContainerClient, path: str, permission: str, whole_container: bool = False) -> str | None:
    """The blob's URL with a SAS of permission for it (or, whole_container, for any blob of its container: the
    same SAS serves every input file a worker reads, so it is signed once)."""
    query = _authorization(container, path, permission, whole_container)
    if query is None:
        return None
    url = f"{container.url.partition('?')[0]}/{quote(path, safe='~/')}"
    return f"{url}?{query}" if query else url


def _authorization(container: ContainerClient, path: str, permission: str, whole_container: bool) -> str | None:
    """The query string that authorizes a request: the SAS in the container's URL (empty for a public
    container), or one signed here with the account key; None where the credential signs none."""
    credential = container.credential
    if credential is None:
        return container.url.partition("?")[2]
    account_key = getattr(credential, "account_key", None)
    if not account_key:
        return None
    return _sas(credential.account_name, account_key, container.container_name, None if whole_container else path,
                permission, int(time.monotonic() // DEFAULT_SAS_REUSE_SECONDS))


@functools.lru_cache(maxsize=1024)
def _sas(account: str, key: str, container: str, path: str | None, permission: str, period: int) -> str:
    """Kept for one period of DEFAULT_SAS_REUSE_SECONDS (period is part of the key, so the next signs anew)."""
    expiry = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=DEFAULT_SAS_MINUTES)
    if path is None:
        return generate_container_sas(account, container, account_key=key,
                                      permission=ContainerSasPermissions.from_string(permission), expiry=expiry)
    return generate_blob_sas(account, container, path, account_key=key,
                             permission=BlobSasPermissions.from_string(permission), expiry=expiry)


def list_blobs(container: ContainerClient, prefix: str) -> list[tuple[str, int]]:
    """The name and size of every blob under prefix, a page of DEFAULT_LIST_PAGE per GET, parsed by ElementTree:
    the SDK's model deserializer spends about eight times the CPU (2.4 s for 10,000 blobs), and a job waits on
    its listing before its first mini-batch. Where no SAS can be signed or a page is refused, the SDK lists them
    all (and raises as it does); a service that does not answer raises ServiceRequestError, as the SDK's would."""
    base = container.url.partition("?")[0]
    sas = _authorization(container, "", "l", whole_container=True)
    if sas is None:
        return _sdk_list(container, prefix)
    listed: list[tuple[str, int]] = []
    marker = ""
    try:
        while True:
            url = (f"{base}?{sas + '&' if sas else ''}restype=container&comp=list&maxresults={DEFAULT_LIST_PAGE}"
                   f"&prefix={quote(prefix, safe='')}" + (f"&marker={quote(marker, safe='')}" if marker else ""))
            response = pool_for(url).request("GET", url)
            if response.status != 200:
                return _sdk_list(container, prefix)
            page = ElementTree.fromstring(response.data)
            for blob in page.iter("Blob"):
                name = blob.find("Name")
                text = name.text or ""
                listed.append((unquote(text) if name.get("Encoded") == "true" else text,
                               int(blob.findtext("Properties/Content-Length") or 0)))
            marker = page.findtext("NextMarker") or ""
            if not marker:
                return listed
    except urllib3.exceptions.HTTPError as error:  # no answer after the pool's retries: as the SDK would say
        raise ServiceRequestError(f"Listing {base} got no answer: {error}") from None
    except (ElementTree.ParseError, AttributeError, ValueError):
        return _sdk_list(container, prefix)


def _sdk_list(container: ContainerClient, prefix: str) -> list[tuple[str, int]]:
    return [(blob.name, blob.size) for blob in container.list_blobs(name_starts_with=prefix or None)]


def copy_blob(container: ContainerClient, path: str, sink: BinaryIO, offset: int = 0,
              length: int | None = None) -> None:
    """Write the blob (or length bytes of it from offset) into sink (a seekable file). A body cut short on the
    way is read again from its start, up to DEFAULT_BODY_ATTEMPTS times."""
    url = _signed_url(container, path, "r", whole_container=True)
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


def put_block(container: ContainerClient, path: str, block_id: str, data: bytes) -> bool:
    """Stage one block of the blob under block_id (encoded as the SDK encodes ids, so its commit_block_list
    finds it), with its Content-MD5 so the service refuses a block damaged on the way. False where it was not
    staged: the container cannot sign a SAS, or the service refused (a container it lost, a SAS that may not
    write); the caller then stages it through the SDK, which says why or mends it."""
    url = _signed_url(container, path, "w")
    if url is None or "?" not in url:
        return False
    encoded = quote(base64.b64encode(block_id.encode()).decode(), safe="")
    headers = {"Content-MD5": base64.b64encode(hashlib.md5(data).digest()).decode(),
               "Content-Length": str(len(data))}
    response = pool_for(url).request("PUT", f"{url}&comp=block&blockid={encoded}", body=data, headers=headers)
    return response.status < 300
