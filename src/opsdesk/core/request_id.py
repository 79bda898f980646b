"""The id of the request being served, for responses, error bodies and every log line.

The HTTP middleware (``api/request_id.py``) sets it for the duration of one request; work
started from that request (tasks copy the context) sees it too. Outside a request it is
``None`` and log lines show ``-``.
"""

from __future__ import annotations

import logging
import os
import re
from contextvars import ContextVar
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("opsdesk_request_id", default=None)

MAX_LENGTH = 128
# What a proxy's id may be made of: enough for UUIDs, hex, base64 and "Root=1-…" styles, but
# no spaces, quotes or control characters, so that it cannot forge or split a log line.
_SANE = re.compile(rb"[A-Za-z0-9._:/+=-]{1,%d}" % MAX_LENGTH)
NO_REQUEST = "-"


def new_request_id() -> str:
    """32 random hex characters, like a uuid4's hex without building a UUID."""
    return os.urandom(16).hex()


def accepted_request_id(raw: bytes | None) -> str:
    """The id a proxy sent, if it is sane; a new one otherwise."""
    if raw is not None and _SANE.fullmatch(raw) is not None:
        return raw.decode("ascii")
    return new_request_id()


class RequestIdFilter(logging.Filter):
    """Gives a record ``request_id`` (for a ``%(request_id)s`` format) when it has none."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get() or NO_REQUEST
        return True


def install_log_record_factory() -> None:
    """Every log record created from now on carries ``request_id`` (idempotent).

    A record factory, unlike a handler's filter, also reaches handlers that someone else
    attached (a test's ``caplog``, an embedding application's own logging set-up).
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "adds_request_id", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = request_id_var.get() or NO_REQUEST
        return record

    factory.adds_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
