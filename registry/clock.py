"""Timestamps as the API shows them: UTC, ISO 8601 with a Z."""
import datetime as dt


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
