"""What every API function shares: JSON in and out, ETags, errors turned into answers in one place, and a
record of each operation for the OpenAPI document."""
from __future__ import annotations

import functools
import inspect
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

import azure.functions as func
from azure.core.exceptions import ServiceRequestError, ServiceResponseError

from registry.errors import (
    PayloadTooLarge, RangeNotSatisfiable, StorageUnavailable, SystemFailure, ValidationFailed, WorkspaceError,
)
from registry.optimistic import Preconditions
from registry.storage import Record
from registry.uploads import check_upload

log = logging.getLogger("batch_endpoints.api")
DEFAULT_MAX_JSON_BODY_BYTES = 1024 * 1024  # twice the largest record the registry keeps (MAX_RECORD_CHARS)
DEFAULT_MAX_JSON_DEPTH = 32  # the deepest body a resource takes (a deployment's inline conda spec) is ~6 levels


@dataclass
class Operation:
    """One documented API operation."""

    method: str
    route: str
    summary: str
    request_schema: type | None = None
    upload: bool = False
    success_status: int = 200
    tags: list[str] = field(default_factory=list)


OPERATIONS: list[Operation] = []


def error_response(error: WorkspaceError) -> func.HttpResponse:
    headers = {"Retry-After": str(error.retry_after_seconds)} if isinstance(error, StorageUnavailable) else {}
    return func.HttpResponse(json.dumps(error.to_body()), status_code=error.status, mimetype="application/json",
                             headers=headers)


def api(bp, route: str, methods: list[str], summary: str, *, request_schema: type | None = None,
        upload: bool = False, success_status: int = 200, tag: str = "", auth_level=func.AuthLevel.FUNCTION,
        extra_bindings: tuple = ()):
    """Register an HTTP function whose errors become `{"error": {"code", "message", "target"}}` answers."""

    def decorate(handler: Callable[[func.HttpRequest], func.HttpResponse]):
        for method in methods:
            OPERATIONS.append(Operation(method, route, summary, request_schema, upload, success_status, [tag]))

        if inspect.iscoroutinefunction(handler):
            @functools.wraps(handler)
            async def guarded(req: func.HttpRequest, **bindings) -> func.HttpResponse:
                try:
                    return await handler(req, **bindings)
                except Exception as error:
                    return _error_answer(req, error)
        else:
            @functools.wraps(handler)
            def guarded(req: func.HttpRequest, **bindings) -> func.HttpResponse:
                try:
                    return handler(req, **bindings)
                except Exception as error:
                    return _error_answer(req, error)

        for extra in extra_bindings:
            guarded = extra(guarded)
        return bp.route(route=route, methods=methods, auth_level=auth_level)(guarded)

    return decorate


def _error_answer(req: func.HttpRequest, error: Exception) -> func.HttpResponse:
    if isinstance(error, WorkspaceError):
        if not error.is_user_error:
            log.error("system error in %s %s", req.method, req.url, exc_info=error)
        return error_response(error)
    if isinstance(error, (ServiceRequestError, ServiceResponseError)):
        log.warning("storage did not answer in %s %s: %s", req.method, req.url, error)
        return error_response(StorageUnavailable(
            f"Storage did not answer ({type(error).__name__}); retry in {StorageUnavailable.retry_after_seconds} s."))
    log.error("unexpected error in %s %s", req.method, req.url, exc_info=error)
    return error_response(SystemFailure("An internal error occurred; see the app's log."))


def json_body(req: func.HttpRequest) -> dict:
    """The body as a JSON object, refused before parsing when it is larger than any resource can be."""
    raw = req.get_body()
    if not raw:
        raise ValidationFailed("The request needs a JSON body.", target="body")
    if len(raw) > DEFAULT_MAX_JSON_BODY_BYTES:
        raise PayloadTooLarge(f"The JSON body is {len(raw):,} bytes; at most {DEFAULT_MAX_JSON_BODY_BYTES:,} are "
                              "taken. Put large content in files (uploads or a datastore) instead.", target="body")
    try:
        body = json.loads(raw)
    except RecursionError:
        raise _too_deep() from None
    except ValueError as error:
        raise ValidationFailed(f"The request body is not valid JSON: {error}", target="body") from None
    if not isinstance(body, dict):
        raise ValidationFailed("The request body must be a JSON object.", target="body")
    if _depth(body) > DEFAULT_MAX_JSON_DEPTH:
        raise _too_deep()
    return body


def _too_deep() -> ValidationFailed:
    return ValidationFailed(f"The JSON body is nested more than {DEFAULT_MAX_JSON_DEPTH} levels deep.", target="body")


def _depth(value: Any) -> int:
    deepest, level = 0, [(value, 1)]
    while level:
        item, depth = level.pop()
        deepest = max(deepest, depth)
        if deepest > DEFAULT_MAX_JSON_DEPTH:
            break
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        level.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def is_json(req: func.HttpRequest) -> bool:
    return "json" in (req.headers.get("content-type") or "").lower()


def upload_fields(req: func.HttpRequest, names: tuple[str, ...]) -> dict:
    """Fields sent beside an upload, as query parameters (`tags` as a JSON object)."""
    fields: dict[str, Any] = {}
    for name in names:
        value = req.params.get(name)
        if value is None:
            continue
        if name in ("tags", "properties"):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValidationFailed(f"{name} must be a JSON object.", target=name) from None
        fields[name] = value
    return fields


def byte_range(header: str | None, size: int, most: int) -> tuple[int, int] | None:
    """The one byte range a `Range: bytes=...` header asks of a file of size bytes (first and last byte, at most
    `most` of them), or None for the whole file; a range outside the file is a 416."""
    if not header:
        return None
    unit, _, spec = header.strip().partition("=")
    first, dash, last = spec.strip().partition("-")
    if unit.strip().lower() != "bytes" or not dash or "," in spec or not (first.isdigit() or last.isdigit()) \
            or (first and not first.isdigit()) or (last and not last.isdigit()):
        raise ValidationFailed(f"Invalid Range '{header}': use one range, bytes=start-end.", target="Range")
    if first:
        start, end = int(first), min(int(last) if last else size - 1, size - 1)
    else:
        start, end = max(size - int(last), 0), size - 1
    if start >= size or start > end:
        raise RangeNotSatisfiable(f"The range {header} is outside the file's {size:,} bytes.", target="Range")
    return start, min(end, start + most - 1)


def upload(req: func.HttpRequest) -> tuple[bytes, str]:
    """An upload's bytes and the file name given as ?filename=."""
    data = req.get_body()
    return data, check_upload(data, required_param(req, "filename"))


def required_param(req: func.HttpRequest, name: str) -> str:
    value = req.params.get(name)
    if not value:
        raise ValidationFailed(f"The query parameter '{name}' is required.", target=name)
    return value


def base_url(req: func.HttpRequest) -> str:
    parts = urlsplit(req.url)
    return f"{parts.scheme}://{parts.netloc}"


def preconditions(req: func.HttpRequest) -> Preconditions:
    return Preconditions(if_match=(req.headers.get("if-match") or "").strip() or None,
                         create_only=(req.headers.get("if-none-match") or "").strip() == "*")


def respond(body: Any, status: int = 200, record: Record | None = None) -> func.HttpResponse:
    headers = {"ETag": record.etag} if record is not None else {}
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json", headers=headers)


def listing(items: list[dict]) -> func.HttpResponse:
    return respond({"value": items})


def no_content() -> func.HttpResponse:
    return func.HttpResponse(status_code=204)
