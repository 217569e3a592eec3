"""Local folders and files packed for upload: the API takes a model or code folder as one .zip."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

SKIPPED_DIRECTORIES = {"__pycache__", ".git", ".ipynb_checkpoints"}


def zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if path.is_file() and not SKIPPED_DIRECTORIES.intersection(relative.parts):
                archive.write(path, relative.as_posix())
    return buffer.getvalue()


def zip_file(path: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(path, path.name)
    return buffer.getvalue()
