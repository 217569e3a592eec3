"""Storage account connection strings, including the emulator shorthand, client factories, and reading a
queue in one request."""
from __future__ import annotations

from dataclasses import dataclass

# The emulator's well-known account; its key is public and documented, not a secret.
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEFAULT_PORTS = (10000, 10001, 10002)


def dev_connection_string(host: str = "127.0.0.1", ports: tuple[int, int, int] = DEFAULT_PORTS) -> str:
    blob, queue, table = ports
    return (
        f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
        f"BlobEndpoint=http://{host}:{blob}/{DEV_ACCOUNT};"
        f"QueueEndpoint=http://{host}:{queue}/{DEV_ACCOUNT};"
        f"TableEndpoint=http://{host}:{table}/{DEV_ACCOUNT};"
    )


def expand_connection_string(value: str) -> str:
    """Turn `UseDevelopmentStorage=true` into explicit emulator endpoints every SDK understands."""
    parts = parse_connection_string(value)
    if parts.get("UseDevelopmentStorage", "").lower() == "true":
        proxy = parts.get("DevelopmentStorageProxyUri")
        host = proxy.split("//", 1)[-1].rstrip("/") if proxy else "127.0.0.1"
        return dev_connection_string(host)
    return value


def parse_connection_string(value: str) -> dict[str, str]:
    result = {}
    for item in value.split(";"):
        if "=" in item:
            key, _, val = item.partition("=")
            result[key.strip()] = val.strip()
    return result


@dataclass(frozen=True)
class StorageEndpoints:
    blob: str
    queue: str
    table: str

    @classmethod
    def from_connection_string(cls, value: str) -> "StorageEndpoints":
        parts = parse_connection_string(expand_connection_string(value))
        account = parts.get("AccountName", "")
        protocol = parts.get("DefaultEndpointsProtocol", "https")
        suffix = parts.get("EndpointSuffix", "core.windows.net")

        def endpoint(kind: str) -> str:
            return parts.get(f"{kind.capitalize()}Endpoint") or f"{protocol}://{account}.{kind}.{suffix}"

        return cls(blob=endpoint("blob"), queue=endpoint("queue"), table=endpoint("table"))


async def receive_page(queue, max_messages: int, visibility_seconds: int) -> list:
    """Up to max_messages in one request: the SDK's pager would ask again until a page came back empty, an
    extra round trip on every poll."""
    pages = queue.receive_messages(max_messages=max_messages, messages_per_page=max_messages,
                                   visibility_timeout=visibility_seconds).by_page()
    async for page in pages:
        return [message async for message in page]
    return []
