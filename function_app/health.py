"""Liveness route: answers without touching storage, so it says the app loaded and serves."""
import json

import azure.functions as func

from .http_api import api

bp = func.Blueprint()


@api(bp, "health", ["GET"], "Liveness: the app loaded and serves (no key, no storage)", tag="meta",
     auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps({"status": "ok"}), mimetype="application/json")
