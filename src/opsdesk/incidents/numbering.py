"""Ticket numbers in COC's shape: ``IM`` + UTC ``yyyyMMddHHmmss`` + milliseconds + 7 digits."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

NUMBER_PATTERN = re.compile(r"^IM\d{24}$")


def new_incident_number(now: datetime) -> str:
    """A unique, stable number; the random tail makes clashes within a millisecond ~1e-7."""
    at = now.astimezone(UTC)
    millis = at.microsecond // 1000
    return f"IM{at:%Y%m%d%H%M%S}{millis:03d}{secrets.randbelow(10**7):07d}"


def looks_like_number(value: str) -> bool:
    return bool(NUMBER_PATTERN.match(value))
