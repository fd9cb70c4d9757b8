"""The errors a client can be given, each with its HTTP status and machine-readable code.

Raised by the node runtime and the API alike; the API's error middleware turns any of them into the
JSON body every error has: ``{"error": code, "message": ..., **fields}`` (docs/api.md#errors).
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, retry_after: float | None = None, **fields: Any):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.fields = fields

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.code, "message": self.message, **self.fields}
        if self.retry_after is not None:
            out["retry_after"] = self.retry_after
        return out


class InvalidJson(ApiError):
    status, code = 400, "invalid_json"


class Validation(ApiError):
    status, code = 400, "validation_error"

    def __init__(self, message: str, *, field: str, status: int = 400):
        super().__init__(message, field=field)
        self.status = status


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    """The credential is known, but it does not allow this request."""

    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class RequestTimeout(ApiError):
    status, code = 408, "request_timeout"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"


class NotLeader(ApiError):
    """This node does not order writes; ``leader`` is the URL of the one that does."""

    status, code = 421, "not_leader"

    def __init__(self, message: str, *, leader: str | None):
        super().__init__(message, leader=leader)
        self.leader = leader


class NoLeader(ApiError):
    status, code = 503, "no_leader"


class NoQuorum(ApiError):
    status, code = 503, "no_quorum"


class Overloaded(ApiError):
    status, code = 503, "overloaded"


class Unavailable(ApiError):
    """The outcome of a write is unknown (leadership changed while it waited). Retrying with the same
    Idempotency-Key is always safe."""

    status, code = 503, "unavailable"


class QuotaExceeded(ApiError):
    """The task list is as large as ``storage.max_tasks`` or ``storage.max_bytes`` allow: writes that
    would grow it are refused until tasks are deleted. Reads and deletes go on."""

    status, code = 507, "quota_exceeded"


class StorageUnavailable(ApiError):
    """The disk refused a write (full, or failing). Reads keep working."""

    status, code = 507, "storage_unavailable"


class MembershipRefused(ApiError):
    """A change of membership that cannot be made; ``code`` says why (docs/api.md#members): a change
    already in flight, the last voter, an id in use or retired, a cluster not yet at the version that
    changes members..."""

    status = 409

    def __init__(self, code: str, message: str, *, status: int = 409, retry_after: float | None = None):
        super().__init__(message, retry_after=retry_after)
        self.code, self.status = code, status


class RemovedFromCluster(ApiError):
    """This node was removed from the cluster: it takes no part in it any more."""

    status, code = 410, "removed_from_cluster"


class ClusterVersionTooOld(ApiError):
    """A write of a kind a node of the previous release cannot apply, while one may still be a voter."""

    status, code = 409, "cluster_version_too_old"
