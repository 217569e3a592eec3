"""Entry point of `mlbatch`: parse, call the API, print; exit 1 when the API refuses, 2 for usage or
connection problems."""
from __future__ import annotations

import argparse
import sys

from .client import ApiClient, CliError
from .commands import data, datastores, demo, deployments, endpoints, environments, jobs, models, schedules
from .output import emit

GROUPS = (models, datastores, data, environments, endpoints, deployments, jobs, schedules, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlbatch", description="Manage and run batch endpoints; reads Azure "
                                     "ML CLI v2 YAML files unchanged.")
    groups = parser.add_subparsers(dest="group", required=True, metavar="{model,datastore,data,environment,endpoint,deployment,job,schedule,demo}")
    for group in GROUPS:
        group.register(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.handler(args, ApiClient(args.url, args.key))
        if result is not None:
            emit(result, args.output, args.columns, getattr(args, "query", None), getattr(args, "summary", None))
    except CliError as error:
        print(f"mlbatch: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
