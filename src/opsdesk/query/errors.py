"""The one error the filter language raises: a parameter error that names the problem."""

from __future__ import annotations


class QueryError(ValueError):
    """A request the filter language refuses; ``field`` is the path of the offending part,
    e.g. ``string_filters[2].operator`` or ``condition``."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.message = f"{field}: {message}"
        self.field = field
