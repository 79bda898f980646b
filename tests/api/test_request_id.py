"""``X-Request-Id``: on every response (a proxy's sane id echoed, else a new one) and on every
log record of the request; and the unknown COC route."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from opsdesk.app import create_app
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from tests.factories import Desk

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
async def app(db: Database, clock: FixedClock, settings: Settings) -> FastAPI:
    """The real app, plus two routes that log and fail as real code paths would."""
    app = create_app(settings, db=db, clock=clock)

    async def logs() -> dict[str, str]:
        logging.getLogger("opsdesk.test").warning("something worth a line")
        return {}

    async def fails() -> None:
        logging.getLogger("opsdesk.test").warning("about to fail")
        raise RuntimeError("a bug")

    app.add_api_route("/test/logs", logs)
    app.add_api_route("/test/fails", fails)
    return app


@pytest.fixture
async def raw_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # A 500 comes back as a response, as from a server, instead of raising here.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://opsdesk.test") as http:
        yield http


async def test_every_response_gets_a_new_id(client: httpx.AsyncClient, desk: Desk) -> None:
    responses = [
        await client.get("/healthz"),
        await client.get("/api/v1/me", headers=desk.tech.headers),
        await client.get("/api/v1/nothing-here"),
        await client.get("/static/does-not-exist.css"),
        await client.post("/v2/incidents/list", json={}),
        await client.get("/login"),
    ]
    ids = [response.headers.get("X-Request-Id", "") for response in responses]
    assert all(GENERATED.fullmatch(value) for value in ids), ids
    assert len(set(ids)) == len(ids)
    # COC's envelope has no place for it (SDK BaseResponse): the header carries it.
    unauthenticated = responses[4]
    assert unauthenticated.status_code == 401
    assert set(unauthenticated.json()) == {"provider_code", "error_code", "error_msg", "data"}


@pytest.mark.parametrize(
    "sent",
    [
        "abc-123",
        "5f0c2a3e-9b8d-4e8b-a1c2-0d1e2f3a4b5c",
        "Root=1-67891233-abcdef012345678912345678",
        "YWJjZGVmZ2hpamts+/==",
        "x" * 128,
    ],
)
async def test_a_sane_id_from_a_proxy_is_kept(client: httpx.AsyncClient, sent: str) -> None:
    response = await client.get("/healthz", headers={"X-Request-Id": sent})
    assert response.headers["X-Request-Id"] == sent
    refused = await client.post("/v2/incidents/list", json={}, headers={"x-request-id": sent})
    assert refused.status_code == 401
    assert refused.headers["X-Request-Id"] == sent


@pytest.mark.parametrize(
    "sent",
    [b"", b"x" * 129, b"two words", b'quote"d', b"na\xc3\xafve", b"semi;colon", b"tab\there"],
)
async def test_an_insane_id_is_replaced(client: httpx.AsyncClient, sent: bytes) -> None:
    response = await client.get("/healthz", headers=[(b"X-Request-Id", sent)])
    assert GENERATED.fullmatch(response.headers["X-Request-Id"])


async def test_log_records_of_a_request_carry_its_id(
    raw_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="opsdesk.test"):
        first = await raw_client.get("/test/logs")
        second = await raw_client.get("/test/logs", headers={"X-Request-Id": "from-proxy"})
        logging.getLogger("opsdesk.test").warning("between requests")
    assert second.headers["X-Request-Id"] == "from-proxy"
    assert [(record.getMessage(), record.request_id) for record in caplog.records] == [
        ("something worth a line", first.headers["X-Request-Id"]),
        ("something worth a line", second.headers["X-Request-Id"]),
        ("between requests", "-"),
    ]


async def test_a_server_error_carries_the_id_in_the_response_and_the_log(
    raw_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="opsdesk.test"):
        response = await raw_client.get("/test/fails")
    assert response.status_code == 500
    request_id = response.headers["X-Request-Id"]
    assert GENERATED.fullmatch(request_id)
    assert response.json()["error"]["code"] == "internal_error"
    # The route's own line and the last-resort handler's line both name the request.
    assert [(r.getMessage(), r.request_id) for r in caplog.records] == [
        ("about to fail", request_id),
        ("unexpected error during GET /test/fails", request_id),
    ]


@pytest.mark.parametrize(
    ("method", "path", "detail"),
    [
        ("GET", "/v2/incidents/IM1/nothing", ""),
        ("POST", "/v1/external/nothing", ""),
        ("DELETE", "/v2/incidents/list", " /v2/incidents/list takes POST, not DELETE."),
        ("PUT", "/v2/incidents/IM1/actions", " /v2/incidents/IM1/actions takes POST, not PUT."),
    ],
)
async def test_an_unknown_coc_route_answers_404_in_the_envelope(
    client: httpx.AsyncClient, desk: Desk, method: str, path: str, detail: str
) -> None:
    for headers in ({"X-Auth-Token": desk.tech.token}, {}):
        response = await client.request(method, path, headers=headers)
        assert response.status_code == 404, response.text
        assert GENERATED.fullmatch(response.headers["X-Request-Id"])
        body = response.json()
        assert body["provider_code"] == "049"
        assert body["error_code"] == "APIG.0101"
        assert body["data"] is None
        assert body["error_msg"].startswith(
            "The API does not exist or has not been published in the environment." + detail
        )
    # Outside /v1 and /v2 the native answer stays.
    native = await client.get("/v3/incidents/list")
    assert native.status_code == 404
    assert native.json()["error"]["code"] == "not_found"
