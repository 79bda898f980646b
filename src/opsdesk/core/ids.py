"""Identifiers: 32-hex user ids (IAM-compatible) and opaque secrets."""

from __future__ import annotations

import re
import secrets
import uuid

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def new_id() -> str:
    """A 32-character lowercase hex id, the shape COC expects for IAM user ids."""
    return uuid.uuid4().hex


def is_hex32(value: str) -> bool:
    return bool(HEX32.match(value))


def new_token() -> str:
    return "odk_" + secrets.token_urlsafe(32)
