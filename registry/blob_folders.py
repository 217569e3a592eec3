"""Folders in blob storage: upload a local folder under a prefix, download one, delete one, browse one level."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from azure.storage.blob import ContainerClient

DEFAULT_PARALLEL_TRANSFERS = 8  # a model folder of many small files uploads in parallel round trips


def upload_folder(container: ContainerClient, folder: Path, prefix: str) -> list[str]:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    names = [f"{prefix}{p.relative_to(folder).as_posix()}" for p in files]

    def upload(pair):
        path, name = pair
        with open(path, "rb") as stream:
            container.upload_blob(name, stream, overwrite=True)

    with ThreadPoolExecutor(DEFAULT_PARALLEL_TRANSFERS) as pool:
        list(pool.map(upload, zip(files, names)))
    return [p.relative_to(folder).as_posix() for p in files]


def list_under(container: ContainerClient, prefix: str) -> list[str]:
    return [blob.name for blob in container.list_blobs(name_starts_with=prefix)]


def download_prefix(container: ContainerClient, prefix: str, destination: Path) -> list[Path]:
    """Everything under prefix into destination; a prefix naming one blob downloads that file."""
    names = list_under(container, prefix)
    written = []
    for name in names:
        relative = name[len(prefix):].lstrip("/") or Path(name).name
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as stream:
            container.download_blob(name).readinto(stream)
        written.append(target)
    return written


def delete_prefix(container: ContainerClient, prefix: str) -> int:
    names = list_under(container, prefix)
    for name in names:
        container.delete_blob(name)
    return len(names)


DEFAULT_BROWSE_ENTRIES = 1000  # entries of one folder listed at once; a `next` marker gives the rest


def browse(container: ContainerClient, prefix: str, marker: str | None = None) -> dict:
    """One level of a container under prefix, as a file browser shows it: its folders and its files (size,
    modified), at most DEFAULT_BROWSE_ENTRIES, with a `next` marker when more follow."""
    pages = container.walk_blobs(name_starts_with=prefix or None, delimiter="/",
                                 results_per_page=DEFAULT_BROWSE_ENTRIES).by_page(continuation_token=marker)
    folders, files = [], []
    for entry in next(pages, []):
        if entry.name.endswith("/"):
            folders.append(entry.name)
        else:
            files.append({"path": entry.name, "size": entry.size,
                          "modified_at": entry.last_modified.isoformat() if entry.last_modified else None})
    return {"prefix": prefix, "folders": folders, "files": files, "next": pages.continuation_token}
