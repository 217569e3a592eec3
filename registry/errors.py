"""One error base for the product, split into user errors (bad input, conflicts) and system errors.

Each error has a stable `code`; the HTTP adapters turn errors into answers in one place.
"""
from __future__ import annotations


class WorkspaceError(Exception):
    """Base of every error the product raises on purpose."""

    code = "SystemError"
    status = 500
    is_user_error = False

    def __init__(self, message: str, *, target: str | None = None, details: list[dict] | None = None):
        super().__init__(message)
        self.message = message
        self.target = target
        self.details = details or []

    def to_body(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.target:
            error["target"] = self.target
        if self.details:
            error["details"] = self.details
        return {"error": error}


class UserError(WorkspaceError):
    """The request is wrong; the user can fix it."""

    code = "UserError"
    status = 400
    is_user_error = True


class ValidationFailed(UserError):
    code = "ValidationError"


class NotFound(UserError):
    code = "ResourceNotFound"
    status = 404


class AlreadyExists(UserError):
    code = "ResourceAlreadyExists"
    status = 409


class Conflict(UserError):
    code = "Conflict"
    status = 409


class PreconditionFailed(UserError):
    """An If-Match ETag no longer matches: someone else changed the resource first."""

    code = "PreconditionFailed"
    status = 412


class PayloadTooLarge(UserError):
    code = "PayloadTooLarge"
    status = 413


class RangeNotSatisfiable(UserError):
    code = "RangeNotSatisfiable"
    status = 416


class SystemFailure(WorkspaceError):
    """Our fault or our dependencies': not the user's input."""

    code = "SystemError"
    status = 500


class ReferenceNotFound(UserError):
    """A field refers to a resource that does not exist (a model version, a code asset, a datastore)."""

    code = "ReferenceNotFound"
    status = 400


class StorageUnavailable(SystemFailure):
    """The app's storage (or a datastore) did not answer: worth retrying soon, not a bug."""

    code = "ServiceUnavailable"
    status = 503
    retry_after_seconds = 10  # about an emulator's restart or a storage account's failover blip
