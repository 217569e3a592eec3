"""`devhost start --app-dir DIR` (or `python -m devhost`): run a Python v2 Functions app locally against Azure
Storage (Azurite), from any folder, as `func start` does."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from mlbatch.client import user_connection_file

from .azurite import PROJECT_ROOT, Azurite, port_open
from .config import DEFAULT_PORT, apply_local_settings
from .host import Host
from .http_server import DEFAULT_RPC_PORT
from .logs import configure_logging
from .storage import DEFAULT_PORTS, parse_connection_string


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="devhost", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="run the app")
    start.add_argument("--app-dir", type=Path, default=Path.cwd(),
                       help="folder with host.json, local.settings.json and the entry script (default: this one)")
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
    start.add_argument("--keys-file", type=Path, nargs="?", action="append", const=user_connection_file(),
                       default=[], metavar="PATH",
                       help="write the base URL and host keys to PATH (mode 0600) for local clients such as mlbatch; "
                            f"without PATH to {user_connection_file()}, which mlbatch reads from any folder "
                            "(repeatable)")
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
    for path in args.keys_file:
        write_keys_file(path, host)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print("Stopping...", flush=True)
    await host.stop()


def write_keys_file(path: Path, host: Host) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    document = {"url": host.base_url, "function_key": host.keys.default_function_key, "master_key": host.keys.master}
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # a file left by an older start keeps its mode otherwise
    with os.fdopen(descriptor, "w") as stream:
        json.dump(document, stream, indent=2)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    configure_logging(args.log_level)
    args.app_dir = args.app_dir.resolve()  # paths given relative to where the command ran: the host moves to the app
    args.keys_file = [path.expanduser().resolve() for path in args.keys_file]
    args.azurite_location = args.azurite_location.expanduser().resolve()
    if not args.app_dir.is_dir():
        print(f"devhost: error: --app-dir {args.app_dir} is not a folder", file=sys.stderr)
        return 2
    azurite = maybe_start_azurite(args)
    try:
        asyncio.run(serve(args))
    finally:
        if azurite:
            azurite.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
