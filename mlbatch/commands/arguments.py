"""Options every command shares, and the small helpers that declare a command."""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from ..client import UsageError
from ..output import FORMATS


def command(group, name: str, handler: Callable, help_text: str, columns: Sequence[str] = ("name",),
            summary: Callable | None = None):
    """A leaf command: its handler takes (args, client) and returns what to print; summary(result, console), if
    given, prints it on a terminal when no --output is asked for."""
    parser = group.add_parser(name, help=help_text, description=help_text)
    parser.add_argument("--url", help="the app's base URL (default: $MLBATCH_URL, else the nearest "
                        ".devhost/connection.json, else ~/.config/mlbatch/connection.json, else http://127.0.0.1:7071)")
    parser.add_argument("--key", help="a function key (default: $MLBATCH_KEY, else the connection file's)")
    parser.add_argument("-o", "--output", choices=FORMATS, default=None,
                        help="json (the default" + (", a summary on a terminal" if summary else "") + "), table or tsv")
    parser.add_argument("--query", help="a JMESPath query on the result, as in az (e.g. --query name -o tsv)")
    parser.set_defaults(handler=handler, columns=tuple(columns), summary=summary)
    return parser


def add_file(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("-f", "--file", help=f"an Azure ML CLI v2 {what} YAML file, used unchanged")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a field, e.g. settings.mini_batch_size=5 (repeatable)")


def add_name(parser: argparse.ArgumentParser, required: bool, what: str) -> None:
    parser.add_argument("-n", "--name", required=required, help=f"the {what}'s name")


def add_yes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")


def add_asset_create(parser: argparse.ArgumentParser, what: str, path_help: str, types: Sequence[str]) -> None:
    """The fields of a versioned asset (model, data), from a YAML file or flags."""
    add_file(parser, what)
    add_name(parser, False, what)
    parser.add_argument("-v", "--version", help="an explicit version (default: the next one)")
    parser.add_argument("-p", "--path", help=path_help)
    parser.add_argument("-t", "--type", choices=types)
    parser.add_argument("-d", "--description")


def add_version_or_label(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("-v", "--version")
    which.add_argument("-l", "--label", choices=("latest",))


def confirm(question: str) -> None:
    if not sys.stdin.isatty():
        raise UsageError(f"{question} Pass --yes to confirm when not running interactively.")
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise UsageError("cancelled.")
