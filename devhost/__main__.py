"""`python -m devhost start --app-dir DIR`: run a Functions app locally against Azure Storage (Azurite)."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from .azurite import PROJECT_ROOT, Azurite, port_open
from .config import DEFAULT_PORT, apply_local_settings
from .host import Host
from .http_server import DEFAULT_RPC_PORT
from .logs import configure_logging
from .storage import DEFAULT_PORTS, parse_connection_string


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devhost", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="run the app")
    start.add_argument("--app-dir", type=Path, default=Path.cwd(), help="folder with host.json and the entry script")
    start.add_argument("--port", type=int, default=DEFAULT_PORT)
    start.add_argument("--bind", default="127.0.0.1", help="address to listen on")
    start.add_argument("--workers", type=int, default=None, help="activity worker processes (default: cores)")
    start.add_argument("--storage", default=None, help="storage connection string (default: AzureWebJobsStorage)")
    start.add_argument("--azurite", choices=("auto", "never"), default="auto",
                       help="auto: start Azurite when the storage is the local emulator and nothing answers")
    start.add_argument("--azurite-location", type=Path, default=PROJECT_ROOT / ".azurite",
                       help="where a started Azurite keeps its data")
    start.add_argument("--activity-visibility", type=int, default=60,
                       help="seconds before a crashed worker's activity is run again")
    start.add_argument("--durable-rpc-port", type=int, default=DEFAULT_RPC_PORT,
                       help="port of the Durable SDK's local RPC endpoint on 127.0.0.1 (a free one of 30000-30999 "
                            "when it is taken)")
    start.add_argument("--log-level", default="INFO")
    start.add_argument("--keys-file", type=Path, default=None,
                       help="also write the base URL and host keys to this file (mode 0600) for local clients")
    return parser.parse_args(argv)


def maybe_start_azurite(args: argparse.Namespace) -> Azurite | None:
    apply_local_settings(args.app_dir)
    raw = args.storage or os.environ.get("AzureWebJobsStorage") or "UseDevelopmentStorage=true"
    parts = parse_connection_string(raw)
    if args.azurite == "never" or parts.get("UseDevelopmentStorage", "").lower() != "true":
        return None
    if port_open("127.0.0.1", DEFAULT_PORTS[0]):
        return None
    print(f"Starting Azurite on ports {DEFAULT_PORTS}, data in {args.azurite_location}", flush=True)
    return Azurite(DEFAULT_PORTS, location=args.azurite_location,
                   log_file=args.azurite_location.parent / ".azurite.log").start()


async def serve(args: argparse.Namespace) -> None:
    host = Host(args.app_dir, port=args.port, workers=args.workers,
                storage=args.storage or os.environ.get("AzureWebJobsStorage") or "UseDevelopmentStorage=true",
                bind=args.bind, activity_visibility_seconds=args.activity_visibility,
                durable_rpc_port=args.durable_rpc_port)
    await host.start()
    if args.keys_file:
        write_keys_file(args.keys_file, host)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print("Stopping...", flush=True)
    await host.stop()


def write_keys_file(path: Path, host: Host) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"url": host.base_url, "function_key": host.keys.default_function_key, "master_key": host.keys.master}
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        json.dump(document, stream, indent=2)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    configure_logging(args.log_level)
    args.app_dir = args.app_dir.resolve()
    azurite = maybe_start_azurite(args)
    try:
        asyncio.run(serve(args))
    finally:
        if azurite:
            azurite.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
