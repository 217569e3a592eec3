"""Naming rules of Azure ML resources, with messages that say what is allowed."""
from __future__ import annotations

import re

from .errors import ValidationFailed

# Batch endpoints and deployments: 3-32 characters, a letter first, letters, digits and hyphens,
# not ending in a hyphen.
ENDPOINT_NAME = re.compile(r"[a-zA-Z]([-a-zA-Z0-9]{1,30}[a-zA-Z0-9])")
# Models, data assets: letters, digits, '-', '_', '.'; a letter or digit first; at most 255.
ASSET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_.]{0,254}")
# Datastores: letters, digits and underscores, a letter first.
DATASTORE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,254}")


def _require(pattern: re.Pattern, name: str, field: str, rule: str) -> str:
    if not pattern.fullmatch(name or ""):
        raise ValidationFailed(f"Invalid {field} '{name}': {rule}.", target=field)
    return name


def check_endpoint_name(name: str, field: str = "name") -> str:
    return _require(ENDPOINT_NAME, name, field, "a batch endpoint or deployment name must be 3-32 characters, "
                    "start with a letter, contain only letters, digits and hyphens, and not end with a hyphen")


def check_asset_name(name: str, field: str = "name") -> str:
    return _require(ASSET_NAME, name, field, "use 1-255 letters, digits, '-', '_' or '.', starting with a letter "
                    "or digit")


def check_datastore_name(name: str, field: str = "name") -> str:
    return _require(DATASTORE_NAME, name, field, "a datastore name uses letters, digits and underscores, "
                    "starting with a letter")
