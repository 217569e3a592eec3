"""Timestamps as the API shows them: UTC, ISO 8601 with a Z."""
import datetime as dt


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.timezone.utc)


def seconds_between(start: str, end: str) -> float:
    return round((parse_utc(end) - parse_utc(start)).total_seconds(), 3)
