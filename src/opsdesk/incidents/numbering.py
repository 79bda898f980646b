"""Ticket numbers in COC's shape: ``IM`` + UTC ``yyyyMMddHHmmss`` + milliseconds + 7 digits."""

from __future__ import annotations

import itertools
import re
import secrets
from datetime import UTC, datetime

NUMBER_PATTERN = re.compile(r"^IM\d{24}$")
_SEQUENCE_SPACE = 10**7

# The 7-digit tail counts up from a random start in each process: numbers made by one
# process never repeat (10^7 per millisecond would be needed), and two processes clash
# only if they create in the same millisecond at the same point of their sequences.
_sequence = itertools.count(secrets.randbelow(_SEQUENCE_SPACE))


def new_incident_number(now: datetime) -> str:
    at = now.astimezone(UTC)
    millis = at.microsecond // 1000
    tail = next(_sequence) % _SEQUENCE_SPACE
    return f"IM{at:%Y%m%d%H%M%S}{millis:03d}{tail:07d}"


def looks_like_number(value: str) -> bool:
    return bool(NUMBER_PATTERN.match(value))
