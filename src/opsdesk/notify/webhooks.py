"""Outbound webhooks: signed JSON POSTs to subscribers, retried by the worker on failure.

A delivery is ``POST <url>`` with the JSON body fixed when the job was queued and the
headers ``X-Opsdesk-Event``, ``X-Opsdesk-Delivery`` (the same on every retry),
``X-Opsdesk-Timestamp`` (Unix seconds of this attempt) and ``X-Opsdesk-Signature:
sha256=<hex HMAC-SHA256 of the raw body keyed with the subscription's secret>``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from opsdesk.core.database import Database
from opsdesk.core.errors import ValidationFailed
from opsdesk.core.settings import Settings
from opsdesk.notify.models import WebhookSubscription

log = logging.getLogger(__name__)

WEBHOOK_JOB = "webhook.deliver"
SIGNATURE_HEADER = "X-Opsdesk-Signature"
MAX_URL_LENGTH = 2000


class WebhookFailed(Exception):
    """The subscriber did not accept a delivery; the worker retries it later."""


def check_url(url: str, *, field: str = "url") -> str:
    """An absolute http(s) URL without credentials; anything else is refused.

    Other schemes (file:, gopher:, ...) would let a subscription reach what HTTP cannot,
    and credentials in a URL end up in logs.
    """
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise ValidationFailed(f"{field}: longer than {MAX_URL_LENGTH} characters", field=field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise ValidationFailed(f"{field}: not a URL ({error})", field=field) from None
    if parts.scheme not in ("http", "https"):
        raise ValidationFailed(f"{field}: only http and https URLs are allowed", field=field)
    if not parts.hostname:
        raise ValidationFailed(f"{field}: the URL has no host", field=field)
    if parts.username is not None or parts.password is not None:
        raise ValidationFailed(
            f"{field}: no credentials in the URL; the secret signs deliveries", field=field
        )
    if port == 0:
        raise ValidationFailed(f"{field}: port 0 is not a port", field=field)
    return url


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does: recompute and compare in constant time."""
    return hmac.compare_digest(sign(secret, body), header.strip())


class HasDatabase(Protocol):
    """What the webhook handler needs of the worker's job context."""

    @property
    def db(self) -> Database: ...


class WebhookSender:
    """The worker's ``webhook.deliver`` handler: one HTTP client (and its pool) per worker."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._client = client

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # Redirects are not followed: a subscriber could bounce us to an internal host.
            self._client = httpx.AsyncClient(
                timeout=self.settings.webhook_timeout_s, follow_redirects=False
            )
        return self._client

    async def deliver(self, payload: dict[str, Any], ctx: HasDatabase) -> None:
        async with ctx.db.read() as session:
            subscription = await session.get(WebhookSubscription, int(payload["subscription_id"]))
            url = None if subscription is None else subscription.url
            secret = "" if subscription is None else subscription.secret
            active = subscription is not None and subscription.active
        if url is None or not active:
            log.info("webhook %s dropped: subscription gone or inactive", payload["delivery_id"])
            return
        check_url(url)
        body = str(payload["body"]).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "opsdesk-webhooks/1",
            "X-Opsdesk-Event": str(payload["event"]),
            "X-Opsdesk-Delivery": str(payload["delivery_id"]),
            "X-Opsdesk-Timestamp": str(int(time.time())),
            SIGNATURE_HEADER: sign(secret, body),
        }
        response = await self._http().post(url, content=body, headers=headers)
        if not 200 <= response.status_code < 300:
            raise WebhookFailed(
                f"webhook {payload['delivery_id']} to subscription "
                f"{payload['subscription_id']}: HTTP {response.status_code}"
            )
        log.info("webhook %s (%s) delivered", payload["delivery_id"], payload["event"])

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
