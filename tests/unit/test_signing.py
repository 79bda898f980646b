"""auth/signing.py against the official SDK's own signer: every request the SDK signs, opsdesk
checks; any change to what was signed is caught."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from opsdesk.auth import signing
from opsdesk.auth.signing import SignatureRejected

# The SDK dates its signatures with datetime.utcnow(), deprecated from Python 3.12 on.
pytestmark = pytest.mark.filterwarnings("ignore:datetime.datetime.utcnow:DeprecationWarning")

AK = "HPUAEXAMPLEKEY123456"
SK = "s3cr3tKeyThatIsFortyCharactersLong0123456"


def sdk_signed(
    *,
    method: str = "POST",
    path: str = "/v2/incidents/list",
    query: list[tuple[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    body: Any = b'{"page": 1}',
    content_type: str = "application/json",
) -> SdkRequest:
    request = SdkRequest(
        method=method,
        schema="http",
        host="opsdesk.test:8000",
        resource_path=path,
        query_params=query or [],
        header_params={"Content-Type": content_type, **(headers or {})},
        body=body,
    )
    return Signer(BasicCredentials(AK, SK, "project")).sign(request)


def verify(request: SdkRequest, *, body: bytes | None = None, secret: str = SK) -> None:
    """What the server does with the request as it arrives on the wire."""
    headers = {name.lower(): str(value) for name, value in request.header_params.items()}
    signed = signing.parse_authorization(headers["authorization"])
    assert signed.access_key_id == AK
    signed_at = signing.parse_sdk_date(headers.get("x-sdk-date"))
    if signing.payload_is_unsigned(headers["content-type"], headers.get("x-sdk-content-sha256")):
        payload = signing.UNSIGNED_PAYLOAD
    else:
        sent = request.body if body is None else body
        payload = signing.body_hash(sent or b"")
    url = urlsplit(request.uri)
    canonical = signing.canonical_request(
        method=request.method,
        raw_path=url.path,
        raw_query=url.query,
        signed_headers=signed.signed_headers,
        header=headers.get,
        payload_hash=payload,
    )
    to_sign = signing.string_to_sign(canonical, signed_at.strftime(signing.DATE_FORMAT))
    signing.check_signature(secret=secret, to_sign=to_sign, given=signed.signature)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {
            "method": "GET",
            "path": "/v1/incident-tickets",
            "body": None,
            "query": [("offset", 1), ("limit", 50)],
        },
        {"method": "GET", "path": "/v1/external/incident/IM%20%E4%BA%8B%2F1", "body": None},
        {"query": [("b", "x y"), ("a", "1+1"), ("a", "0"), ("c", True), ("d", "")]},
        {"query": [("n", 10), ("n", 9), ("tilde~", "é/?&=")]},
        {"headers": {"X-Project-Id": "p1", "X-Note": "  padded  ", "User-Agent": "sdk/3"}},
        {"headers": {"X-Domain-Id": "d1", "X_Ignored": "underscores are not signed"}},
        {"body": b""},
        {"body": '{"title": "数据库"}'},
        {"content_type": "multipart/form-data; boundary=xyz", "body": b"--xyz--"},
        {"method": "DELETE", "path": "/api/v1/me/access-keys/AK1/", "body": None},
    ],
)
def test_every_request_the_sdk_signs_verifies(kwargs: dict[str, Any]) -> None:
    verify(sdk_signed(**kwargs))


def test_the_wrong_secret_fails() -> None:
    with pytest.raises(SignatureRejected, match="signature does not match"):
        verify(sdk_signed(), secret=SK[::-1])


def test_a_changed_json_body_fails_but_a_multipart_one_is_unsigned_as_the_sdk_says() -> None:
    with pytest.raises(SignatureRejected, match="signature does not match"):
        verify(sdk_signed(body=b'{"page": 1}'), body=b'{"page": 2}')
    multipart = "multipart/form-data; boundary=xyz"
    verify(sdk_signed(content_type=multipart, body=b"a"), body=b"b")


@pytest.mark.parametrize(
    ("change", "value"),
    [("method", "PUT"), ("resource_path", "/v2/incidents/other"), ("host", "evil.test")],
)
def test_a_changed_method_path_or_signed_header_fails(change: str, value: str) -> None:
    request = sdk_signed(query=[("a", "1")])
    if change == "host":
        request.header_params["Host"] = value
    elif change == "method":
        request.method = value
    else:
        request.uri = value + "?a=1"
    with pytest.raises(SignatureRejected, match="signature does not match"):
        verify(request)


def test_a_changed_query_fails() -> None:
    request = sdk_signed(query=[("limit", 10)])
    request.uri = request.uri.replace("limit=10", "limit=100")
    with pytest.raises(SignatureRejected, match="signature does not match"):
        verify(request)


def test_a_missing_signed_header_is_named() -> None:
    with pytest.raises(SignatureRejected, match="signed header x-missing is not in the request"):
        signing.canonical_headers(["x-missing"], {}.get)


@pytest.mark.parametrize(
    "authorization",
    [
        "SDK-HMAC-SHA256 Access=AK, Signature=00",
        "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=zz",
        "SDK-HMAC-SHA256",
    ],
)
def test_a_malformed_authorization_is_refused(authorization: str) -> None:
    with pytest.raises(SignatureRejected, match="malformed Authorization"):
        signing.parse_authorization(authorization)


def test_the_date_must_be_signed() -> None:
    with pytest.raises(SignatureRejected, match="X-Sdk-Date must be among the signed headers"):
        signing.parse_authorization("SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=00")


def test_only_the_sdk_scheme_is_a_signature() -> None:
    assert signing.is_signed("SDK-HMAC-SHA256 Access=a, SignedHeaders=b, Signature=c")
    assert not signing.is_signed("Bearer odk_x")
    assert not signing.is_signed("")


@pytest.mark.parametrize("value", [None, "", "2026-12-04T10:00:00Z", "20261304T100000Z"])
def test_a_missing_or_malformed_date_is_named(value: str | None) -> None:
    with pytest.raises(SignatureRejected, match="X-Sdk-Date"):
        signing.parse_sdk_date(value)


def test_a_signature_is_good_for_15_minutes_either_side() -> None:
    now = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    for minutes in (-15, -1, 0, 1, 15):
        signing.check_freshness(now + timedelta(minutes=minutes), now)
    for seconds in (-901, 901, 86_400):
        with pytest.raises(SignatureRejected, match="a signature is accepted for 15 minutes"):
            signing.check_freshness(now + timedelta(seconds=seconds), now)
    assert signing.parse_sdk_date("20261204T100000Z") == now
