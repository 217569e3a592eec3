"""GET /api/openapi.json: the API's OpenAPI document."""
from __future__ import annotations

import azure.functions as func

from .http_api import OPERATIONS, api, respond
from .openapi_document import build_document

bp = func.Blueprint()


@api(bp, "openapi.json", ["GET"], "This API's OpenAPI document", tag="meta", auth_level=func.AuthLevel.ANONYMOUS)
def openapi_document(req: func.HttpRequest) -> func.HttpResponse:
    return respond(build_document(OPERATIONS))
