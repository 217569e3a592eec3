"""GET /api/studio/: the studio web UI, static files served by the app itself (no CDN, works offline).
The pages are public; every API call they make carries the function key the user gives once."""
from __future__ import annotations

from pathlib import Path

import azure.functions as func

from .static_files import resolve_static

from .http_api import api

bp = func.Blueprint()
STUDIO_ROOT = Path(__file__).resolve().parent.parent / "studio"


@api(bp, "studio/{*path}", ["GET"], "The studio web UI (static files)", tag="studio",
     auth_level=func.AuthLevel.ANONYMOUS)
def studio_file(req: func.HttpRequest) -> func.HttpResponse:
    path = req.route_params.get("path") or ""
    address = req.url.split("?", 1)[0]
    if not path and not address.endswith("/"):
        # relative links in the page resolve against a folder URL
        return func.HttpResponse(status_code=302, headers={"Location": address + "/"})
    found = resolve_static(STUDIO_ROOT, path)
    return func.HttpResponse(found.body, status_code=200, mimetype=found.media_type.split(";")[0],
                             charset="utf-8", headers={"Cache-Control": "no-cache",
                                                       "X-Content-Type-Options": "nosniff"})
