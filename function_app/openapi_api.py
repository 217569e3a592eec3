"""GET /api/openapi.json: the API's OpenAPI document."""
from __future__ import annotations

import azure.functions as func

from workspace.openapi import build_document

from .http_api import OPERATIONS, api, respond

bp = func.Blueprint()


@api(bp, "openapi.json", ["GET"], "This API's OpenAPI document", tag="meta", auth_level=func.AuthLevel.ANONYMOUS)
def openapi_document(req: func.HttpRequest) -> func.HttpResponse:
    return respond(build_document(OPERATIONS))
