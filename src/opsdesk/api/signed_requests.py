"""Who sent an AK/SK-signed request (``Authorization: SDK-HMAC-SHA256 …``), checked as
Huawei Cloud's SDKs sign: the rules are in ``auth/signing.py``, this reads the request."""

from __future__ import annotations

from fastapi import Request

from opsdesk.auth import access_keys, signing
from opsdesk.auth.roles import Caller
from opsdesk.auth.secret_box import SecretBox
from opsdesk.auth.signing import SignatureRejected
from opsdesk.core.clock import Clock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings


def secret_box(request: Request) -> SecretBox:
    """The app's box for access-key secrets, derived once from the server's secret key."""
    box: SecretBox | None = getattr(request.app.state, "secret_box", None)
    if box is None:
        settings: Settings = request.app.state.settings
        box = SecretBox(settings.resolved_secret_key())
        request.app.state.secret_box = box
    return box


def _header_of(request: Request) -> signing.HeaderLookup:
    def header(name: str) -> str | None:
        value = request.headers.get(name)
        if value is None or value.isascii():
            return value
        # HTTP headers arrive as Latin-1; the SDK signed their UTF-8 text.
        return value.encode("latin-1").decode("utf-8", "replace")

    return header


async def _payload_hash(request: Request) -> str:
    content_type = request.headers.get("content-type", "")
    declared = request.headers.get(signing.CONTENT_HASH_HEADER)
    if signing.payload_is_unsigned(content_type, declared) and (
        request.headers.get("content-length") != "0"
    ):
        return signing.UNSIGNED_PAYLOAD
    try:
        body = await request.body()  # Starlette keeps it for the route
    except RuntimeError:  # a form already parsed from the stream
        raise SignatureRejected(
            "a multipart body must be signed as UNSIGNED-PAYLOAD (X-Sdk-Content-Sha256)",
            field="X-Sdk-Content-Sha256",
        ) from None
    return signing.body_hash(body)


async def signed_caller(request: Request, authorization: str) -> Caller:
    """The access key's user, or ``SignatureRejected`` saying what is wrong."""
    db: Database = request.app.state.db
    clock: Clock = request.app.state.clock
    signed = signing.parse_authorization(authorization)
    sdk_date = request.headers.get(signing.DATE_HEADER, "").strip()
    signed_at = signing.parse_sdk_date(sdk_date)
    now = clock.now()
    signing.check_freshness(signed_at, now)
    access_key_id = signed.access_key_id
    key = access_keys.cached_signing_key(caches=db.caches, access_key_id=access_key_id)
    if key is None and len(access_key_id) <= access_keys.MAX_ACCESS_KEY_ID_LENGTH:
        async with db.read() as session:
            key = await access_keys.signing_key(
                session=session, access_key_id=access_key_id, box=secret_box(request)
            )
    if key is None:
        shown = access_key_id if len(access_key_id) <= 40 else access_key_id[:40] + "…"
        raise SignatureRejected(f"unknown access key {shown}", field="Access")
    if key.secret is None:
        raise SignatureRejected(
            f"the secret of access key {access_key_id} cannot be read since the server's "
            "secret key changed: create a new access key",
            field="Access",
        )
    canonical = signing.canonical_request(
        method=request.method,
        raw_path=request.scope.get("raw_path", b"").decode("latin-1") or request.url.path,
        raw_query=request.scope.get("query_string", b"").decode("latin-1"),
        signed_headers=signed.signed_headers,
        header=_header_of(request),
        payload_hash=await _payload_hash(request),
    )
    to_sign = signing.string_to_sign(canonical, sdk_date)
    signing.check_signature(secret=key.secret, to_sign=to_sign, given=signed.signature)
    # Only the holder of the secret learns that the key is revoked or its user is gone.
    if key.revoked:
        raise SignatureRejected(f"the access key {access_key_id} is revoked", field="Access")
    if key.caller is None:
        raise SignatureRejected(
            f"the user of access key {access_key_id} is deactivated", field="Access"
        )
    uses = db.caches["access_key_uses"]
    if uses.get(access_key_id) is None:
        uses.put(access_key_id, True)
        async with db.write() as session:
            await access_keys.record_use(session=session, access_key_id=access_key_id, now=now)
    return key.caller
