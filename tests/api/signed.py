"""Requests signed with an access key as Huawei Cloud's SDKs sign them (SDK-HMAC-SHA256),
written out here independently of opsdesk's code, so that the two can disagree."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import quote


def sdk_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def signed_headers(
    access_key_id: str,
    secret_key: str,
    *,
    method: str,
    host: str,
    path: str,
    date: str,
    body: bytes = b"",
    query: list[tuple[str, str]] | None = None,
    content_type: str = "application/json",
    unsigned_payload: bool = False,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The headers of a signed request; ``query`` must be sent in the order given, sorted."""
    headers = {"Content-Type": content_type, "Host": host, "X-Sdk-Date": date, **(extra or {})}
    if unsigned_payload:
        headers["X-Sdk-Content-Sha256"] = "UNSIGNED-PAYLOAD"
    names = sorted(name.lower() for name in headers)
    lower = {name.lower(): value.strip() for name, value in headers.items()}
    payload = "UNSIGNED-PAYLOAD" if unsigned_payload else hashlib.sha256(body).hexdigest()
    canonical_query = "&".join(
        f"{quote(name, safe='~')}={quote(value, safe='~')}" for name, value in sorted(query or [])
    )
    canonical = "\n".join(
        [
            method.upper(),
            path if path.endswith("/") else path + "/",
            canonical_query,
            "".join(f"{name}:{lower[name]}\n" for name in names),
            ";".join(names),
            payload,
        ]
    )
    to_sign = f"SDK-HMAC-SHA256\n{date}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    signature = hmac.new(secret_key.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (
        f"SDK-HMAC-SHA256 Access={access_key_id}, SignedHeaders={';'.join(names)}, "
        f"Signature={signature}"
    )
    return headers
