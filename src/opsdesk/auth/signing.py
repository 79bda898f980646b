"""AK/SK request signatures as Huawei Cloud's SDKs compute them (``SDK-HMAC-SHA256``).

A signed request carries::

    Authorization: SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<a;b;c>, Signature=<hex>
    X-Sdk-Date: 20261204T101500Z

and the signature is ``hex(HMAC-SHA256(secret, string_to_sign))`` where::

    string_to_sign    = "SDK-HMAC-SHA256" \\n X-Sdk-Date \\n hex(SHA-256(canonical_request))
    canonical_request = METHOD \\n canonical URI (every segment percent-encoded, ending in "/")
                        \\n canonical query (pairs sorted by name, percent-encoded)
                        \\n one "name:trimmed value" line per signed header, then an empty line
                        \\n the signed header names joined by ";"
                        \\n hex(SHA-256(body)), or UNSIGNED-PAYLOAD

The SDK declares ``X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD`` for every body that is neither
JSON nor BSON (multipart uploads); such a body is not part of the signature. Plain Python:
the adapter hands in the request's parts.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

from opsdesk.core.errors import Unauthenticated

ALGORITHM = "SDK-HMAC-SHA256"
DATE_HEADER = "x-sdk-date"
CONTENT_HASH_HEADER = "x-sdk-content-sha256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_CLOCK_SKEW = timedelta(minutes=15)
# Bodies the SDK always hashes; any other content type it may declare unsigned.
_HASHED_CONTENT_TYPES = ("application/json", "application/bson")
_SDK_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")
# A path of these characters is its own canonical form (the common case: no quoting needed).
_PLAIN_PATH = re.compile(r"[A-Za-z0-9\-._~/]*")
_AUTHORIZATION = re.compile(
    r"^SDK-HMAC-SHA256\s+Access=(?P<access>[^,\s]+),\s*"
    r"SignedHeaders=(?P<headers>[^,\s]+),\s*Signature=(?P<signature>[0-9a-fA-F]+)\s*$"
)


HeaderLookup = Callable[[str], str | None]  # a request header's value by lower-case name


class SignatureRejected(Unauthenticated):
    """A signed request that cannot be accepted; the message says why (it is shown)."""


@dataclass(frozen=True)
class SignedAuthorization:
    access_key_id: str
    signed_headers: tuple[str, ...]
    signature: str


def is_signed(authorization: str) -> bool:
    return authorization.lstrip().startswith(ALGORITHM + " ")


def parse_authorization(authorization: str) -> SignedAuthorization:
    match = _AUTHORIZATION.match(authorization.strip())
    if match is None:
        raise SignatureRejected(
            "malformed Authorization header: expected 'SDK-HMAC-SHA256 Access=<AK>, "
            "SignedHeaders=<names;…>, Signature=<hex>'",
            field="Authorization",
        )
    names = tuple(match["headers"].split(";"))
    if DATE_HEADER not in names:
        raise SignatureRejected(
            "X-Sdk-Date must be among the signed headers", field="SignedHeaders"
        )
    return SignedAuthorization(
        access_key_id=match["access"],
        signed_headers=names,
        signature=match["signature"].lower(),
    )


def parse_sdk_date(value: str | None) -> datetime:
    if not value:
        raise SignatureRejected("the X-Sdk-Date header is missing", field="X-Sdk-Date")
    # Not strptime: on every signed request it would cost more than the HMAC.
    match = _SDK_DATE.fullmatch(value.strip())
    try:
        if match is None:
            raise ValueError(value)
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise SignatureRejected(
            f"X-Sdk-Date {value!r} is not in the form YYYYMMDDTHHMMSSZ", field="X-Sdk-Date"
        ) from None


def check_freshness(signed_at: datetime, now: datetime) -> None:
    """A signature is good for 15 minutes either side of the server's clock (replays)."""
    skew = abs(now - signed_at)
    if skew > MAX_CLOCK_SKEW:
        minutes = int(skew.total_seconds() // 60)
        raise SignatureRejected(
            f"X-Sdk-Date {signed_at.strftime(DATE_FORMAT)} is {minutes} minutes away from the "
            f"server's time {now.astimezone(UTC).strftime(DATE_FORMAT)}; "
            "a signature is accepted for 15 minutes",
            field="X-Sdk-Date",
        )


def _encode(text: str) -> str:
    return quote(text, safe="~")


def canonical_uri(raw_path: str) -> str:
    """Each segment of the decoded path percent-encoded; always ends with "/"."""
    if _PLAIN_PATH.fullmatch(raw_path):
        return raw_path if raw_path.endswith("/") else raw_path + "/"
    uri = "/".join(_encode(segment) for segment in unquote(raw_path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(raw_query: str) -> str:
    """Pairs sorted by name; values of one name keep the order sent (the SDK sends them in
    its own canonical order)."""
    if not raw_query:
        return ""
    pairs = []
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((unquote(name), unquote(value)))
    pairs.sort(key=lambda pair: pair[0])
    return "&".join(f"{_encode(name)}={_encode(value)}" for name, value in pairs)


def canonical_headers(names: Sequence[str], header: HeaderLookup) -> str:
    lines = []
    for name in names:
        value = header(name)
        if value is None:
            raise SignatureRejected(
                f"the signed header {name} is not in the request", field="SignedHeaders"
            )
        lines.append(f"{name}:{value.strip()}")
    return "\n".join(lines) + "\n"


def payload_is_unsigned(content_type: str, declared_hash: str | None) -> bool:
    """True when the body is not part of the signature, exactly where the SDK does so."""
    return declared_hash == UNSIGNED_PAYLOAD and not content_type.strip().lower().startswith(
        _HASHED_CONTENT_TYPES
    )


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def canonical_request(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    signed_headers: Sequence[str],
    header: HeaderLookup,
    payload_hash: str,
) -> str:
    return "\n".join(
        (
            method.upper(),
            canonical_uri(raw_path),
            canonical_query(raw_query),
            canonical_headers(signed_headers, header),
            ";".join(signed_headers),
            payload_hash,
        )
    )


def string_to_sign(canonical: str, sdk_date: str) -> str:
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"{ALGORITHM}\n{sdk_date}\n{digest}"


def signature(secret: str, to_sign: str) -> str:
    return hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


def check_signature(*, secret: str, to_sign: str, given: str) -> None:
    if not hmac.compare_digest(signature(secret, to_sign), given):
        raise SignatureRejected(
            "the signature does not match: check the secret key, and that the request is "
            "sent as it was signed (method, path, query, signed headers and body)",
            field="Signature",
        )
