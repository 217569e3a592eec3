"""Unpacking uploaded zip archives safely: no path may escape the destination, no links, bounded size."""
from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path, PurePosixPath

from .errors import ValidationFailed
from .refs import is_plain_file_name

MAX_UNPACKED_BYTES = 8 * 1024**3
MAX_FILES = 100_000
IGNORED_PREFIXES = ("__MACOSX/",)


def check_upload(data: bytes, filename: str) -> str:
    """The upload's file name, once its bytes and name are checked where they come in: something to keep,
    named by a plain file name (never a path, so it cannot land outside its folder)."""
    if not data:
        raise ValidationFailed("The upload is empty: send the file's bytes as the request body.", target="file")
    if not is_plain_file_name(filename):
        raise ValidationFailed(f"Invalid filename '{filename}': give the uploaded file's own name (such as "
                               "model.zip), without folders, backslashes or '..'.", target="filename")
    return filename


def is_zip(data: bytes) -> bool:
    return zipfile.is_zipfile(io.BytesIO(data))


def unpack_zip(data: bytes, destination: Path, field: str = "file") -> Path:
    """Unpack into destination (created); refuse archives that are broken, escape the folder, hold links or
    would unpack beyond MAX_UNPACKED_BYTES, before writing anything."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ValidationFailed("The upload is not a valid .zip archive.", target=field) from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir() and not m.filename.startswith(IGNORED_PREFIXES)]
        _check_members(members, field)
        destination.mkdir(parents=True, exist_ok=True)
        for member in members:
            target = destination.joinpath(*PurePosixPath(member.filename).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, open(target, "wb") as sink:
                while chunk := source.read(1024 * 1024):
                    sink.write(chunk)
    return destination


def _check_members(members: list[zipfile.ZipInfo], field: str) -> None:
    if not members:
        raise ValidationFailed("The .zip archive holds no files.", target=field)
    if len(members) > MAX_FILES:
        raise ValidationFailed(f"The .zip archive holds more than {MAX_FILES} files.", target=field)
    total = 0
    for member in members:
        if "\\" in member.filename:
            raise ValidationFailed(f"The .zip entry '{member.filename}' has a backslash in its name; make the "
                                   "archive with '/' between folders (any zip tool but a few old Windows ones).",
                                   target=field)
        path = PurePosixPath(member.filename)
        if path.is_absolute() or ".." in path.parts or ":" in path.parts[0]:
            raise ValidationFailed(f"The .zip entry '{member.filename}' points outside the folder.", target=field)
        if stat.S_ISLNK(member.external_attr >> 16):
            raise ValidationFailed(f"The .zip entry '{member.filename}' is a symbolic link; links are refused.",
                                   target=field)
        total += member.file_size
    if total > MAX_UNPACKED_BYTES:
        raise ValidationFailed(f"The .zip archive unpacks to more than {MAX_UNPACKED_BYTES // 1024**3} GiB.",
                               target=field)
