"""The studio's static files: a request path resolved inside one folder, never outside it, with its media type."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from registry.errors import NotFound

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
}
INDEX = "index.html"


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    media_type: str


def resolve_static(root: Path, request_path: str) -> StaticFile:
    """The file `request_path` names under `root` (the index for an empty path); NotFound for anything else,
    including names that climb out of the folder or are not a known media type."""
    parts = [p for p in PurePosixPath(request_path or "").parts if p not in ("", "/")]
    if any(p in ("..", ".") or p.startswith(".") for p in parts):
        raise NotFound(f"No studio file '{request_path}'.", target="path")
    path = root.joinpath(*parts) if parts else root / INDEX
    media_type = MEDIA_TYPES.get(path.suffix.lower())
    if media_type is None or not path.is_file() or root.resolve() not in path.resolve().parents:
        raise NotFound(f"No studio file '{request_path}'.", target="path")
    return StaticFile(path.read_bytes(), media_type)
