"""Domain errors; adapters translate them to HTTP, COC envelopes or CLI exits."""

from __future__ import annotations

from typing import Any


class OpsdeskError(Exception):
    """Base of every expected failure; ``code`` is stable and documented."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details


class ValidationFailed(OpsdeskError):
    """Bad input; ``problems`` lists every field at fault when there are several."""

    code = "validation_error"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        problems: list[dict[str, str]] | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, field=field, **details)
        self.problems = problems or []


class NotFound(OpsdeskError):
    code = "not_found"


class Forbidden(OpsdeskError):
    code = "forbidden"


class Unauthenticated(OpsdeskError):
    code = "unauthenticated"


class Conflict(OpsdeskError):
    code = "conflict"


class PreconditionFailed(OpsdeskError):
    code = "precondition_failed"


class TooManyAttempts(OpsdeskError):
    """Too many failed passwords: wait ``retry_after_s`` seconds (HTTP 429, Retry-After)."""

    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after_s: int, field: str | None = None) -> None:
        super().__init__(message, field=field, retry_after_s=retry_after_s)
        self.retry_after_s = retry_after_s
