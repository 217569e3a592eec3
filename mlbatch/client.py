"""The HTTP client of the batch endpoints API: URL and key from flags, the environment or a connection file the
local runtime writes, errors as exceptions carrying the API's stable code."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

DEFAULT_URL = "http://127.0.0.1:7071"
URL_VARIABLE = "MLBATCH_URL"
KEY_VARIABLE = "MLBATCH_KEY"
LOCAL_CONNECTION_FILE = Path(".devhost/connection.json")  # `make start` writes it in the project folder
USER_CONNECTION_FILE = Path("mlbatch/connection.json")  # under $XDG_CONFIG_HOME (~/.config)
API_PREFIX = "/api/"
CLIENT_HEADER = "x-mlbatch-client"
TIMEOUT_SECONDS = 300
DOWNLOAD_CHUNK_BYTES = 16 * 1024 * 1024  # one range per request: the CLI's memory is this, whatever the file


class CliError(Exception):
    """Anything that ends the command with a message; exit_code says what kind."""

    exit_code = 1


class UsageError(CliError):
    exit_code = 2


class ConnectionFailed(CliError):
    exit_code = 2


@dataclass
class ApiError(CliError):
    status: int
    code: str
    message: str
    target: str | None = None

    def __str__(self) -> str:
        where = f" (field: {self.target})" if self.target else ""
        return f"{self.code}: {self.message}{where} [HTTP {self.status}]"


def user_connection_file() -> Path:
    """The per-user connection file, found from any folder: `devhost start --keys-file` writes it."""
    config = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config) / USER_CONNECTION_FILE


def connection_files(start: Path) -> list[Path]:
    """Where the local app's URL and key are looked for, nearest first: `.devhost/connection.json` in the folder
    or any parent (a project checkout), then the per-user file."""
    return [folder / LOCAL_CONNECTION_FILE for folder in (start, *start.parents)] + [user_connection_file()]


def _local_connection() -> tuple[dict, Path | None]:
    """The nearest connection file's URL and function key, and where it is."""
    for path in connection_files(Path.cwd()):
        try:
            return json.loads(path.read_text()), path
        except (FileNotFoundError, NotADirectoryError):
            continue
        except (OSError, ValueError) as error:
            raise UsageError(f"cannot read the connection file {path}: {error}") from None
    return {}, None


@dataclass
class Response:
    body: Any
    etag: str | None


class ApiClient:
    def __init__(self, url: str | None = None, key: str | None = None):
        given = url or os.environ.get(URL_VARIABLE)
        local, self.connection_file = ({}, None) if given else _local_connection()
        self.url = (given or local.get("url") or DEFAULT_URL).rstrip("/")
        self.key = key or os.environ.get(KEY_VARIABLE) or local.get("function_key")
        self.session = requests.Session()
        if self.key:
            self.session.headers["x-functions-key"] = self.key
        self.session.headers[CLIENT_HEADER] = "cli"  # a job it starts records that the CLI started it

    def call(self, method: str, path: str, *, json: Any = None, data: bytes | None = None,
             params: dict | None = None, headers: dict | None = None) -> Response:
        url = f"{self.url}{API_PREFIX}{path.lstrip('/')}"
        try:
            answer = self.session.request(method, url, json=json, data=data, params=params, headers=headers,
                                          timeout=TIMEOUT_SECONDS)
        except requests.RequestException as error:
            raise ConnectionFailed(f"cannot reach {self.url}{self._from_file()}: {error.__class__.__name__}. Is "
                                   f"the app running? Set --url or {URL_VARIABLE}.") from None
        if answer.status_code >= 400:
            raise self._error(answer)
        body = answer.json() if answer.content and "json" in answer.headers.get("content-type", "") else None
        return Response(body, answer.headers.get("ETag"))

    def download(self, path: str, target: Path) -> int:
        """Save a file in ranges of DOWNLOAD_CHUNK_BYTES, so memory stays flat however big it is; its size."""
        offset, total = 0, None
        with open(target, "wb") as sink:
            while total is None or offset < total:
                answer = self._range(path, offset)
                if answer.status_code == 416 and offset == 0:  # an empty file has no byte to ask for
                    return 0
                if answer.status_code >= 400:
                    raise self._error(answer)
                sink.write(answer.content)
                offset += len(answer.content)
                content_range = answer.headers.get("Content-Range", "")
                total = int(content_range.rpartition("/")[2]) if answer.status_code == 206 else offset
                if not answer.content and offset < total:
                    raise CliError(f"the download of {path} stopped at byte {offset} of {total}.")
        return offset

    def read_from(self, path: str, offset: int) -> bytes:
        """A file's bytes from offset on (one range at most): what was added since offset bytes were read."""
        answer = self._range(path, offset)
        if answer.status_code == 416:
            return b""
        if answer.status_code >= 400:
            raise self._error(answer)
        return answer.content

    def _range(self, path: str, offset: int) -> requests.Response:
        headers = {"Range": f"bytes={offset}-{offset + DOWNLOAD_CHUNK_BYTES - 1}"}
        try:
            return self.session.get(f"{self.url}{API_PREFIX}{path.lstrip('/')}", headers=headers,
                                    timeout=TIMEOUT_SECONDS)
        except requests.RequestException as error:
            raise ConnectionFailed(f"cannot reach {self.url}: {error.__class__.__name__}.") from None

    def get(self, path: str, **kwargs) -> Any:
        return self.call("GET", path, **kwargs).body

    def upload_version(self, collection: str, body: dict, fields: tuple[str, ...], data: bytes, filename: str,
                       **params: str) -> Any:
        """POST the bytes of a new version of a model or data asset; the spec's `fields` and `tags` ride as query
        parameters, as the upload routes expect."""
        query = {k: str(body[k]) for k in fields if body.get(k) not in (None, "")}
        query.update(params, filename=filename)
        if body.get("tags"):
            query["tags"] = json.dumps(body["tags"])
        return self.call("POST", f"{collection}/{body['name']}/versions", data=data, params=query,
                         headers={"Content-Type": "application/octet-stream"}).body

    def _error(self, answer: requests.Response) -> ApiError:
        try:
            error = answer.json()["error"]
            return ApiError(answer.status_code, error["code"], error["message"], error.get("target"))
        except (ValueError, KeyError, TypeError):
            if answer.status_code == 401:
                return ApiError(401, "Unauthorized", f"the API refused the key{self._from_file()}; set --key or "
                                f"{KEY_VARIABLE} to the function key printed when the app starts.")
            return ApiError(answer.status_code, "HttpError", answer.text.strip()[:500] or answer.reason)

    def _from_file(self) -> str:
        return f" (from {self.connection_file})" if self.connection_file else ""
