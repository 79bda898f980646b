"""Rules at the HTTP boundary: body size and nesting limits, unknown list keys, the answers
when the database cannot be reached, and the last-resort JSON 500 (issue 24, items 3-5)."""

from __future__ import annotations

import logging
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from opsdesk.app import create_app
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from tests.api.test_coc_api import coc_headers
from tests.api.test_web_pages import csrf_of
from tests.factories import Desk, create_incident

MIB = 1024 * 1024
COC_KEYS = {"provider_code", "error_code", "error_msg", "data"}


def native_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    return error


def coc_error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    payload = response.json()
    assert set(payload) == COC_KEYS
    assert (payload["provider_code"], payload["error_code"], payload["data"]) == ("049", code, None)
    message: str = payload["error_msg"]
    return message


def nested(depth: int) -> bytes:
    return b'{"string_filters": ' + b"[" * depth + b"]" * depth + b"}"


# Body size ---------------------------------------------------------------------------------


def test_the_json_limit_is_read_from_opsdesk_max_json_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().max_json_bytes == MIB
    monkeypatch.setenv("OPSDESK_MAX_JSON_BYTES", "4096")
    assert Settings().max_json_bytes == 4096


async def test_a_declared_length_above_the_limit_is_refused_before_reading(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    body = b'{"title": "' + b"a" * MIB + b'"}'
    response = await client.post(
        "/api/v1/incidents",
        content=body,
        headers={**desk.user.headers, "content-type": "application/json"},
    )
    error = native_error(response, 413)
    assert (error["code"], error["field"]) == ("body_too_large", "body")
    assert str(MIB) in error["message"]
    listing = await client.get("/api/v1/incidents", headers=desk.admin.headers)
    assert listing.json()["total"] == 0
    coc = await client.post(
        "/v2/incidents/list",
        content=b'{"fields": ["' + b"a" * MIB + b'"]}',
        headers={**coc_headers(desk.tech), "content-type": "application/json"},
    )
    assert "body" in coc_error(coc, 413, "GOM.10000413")


async def test_a_chunked_body_is_refused_once_it_passes_the_limit(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"title": "'
        for _ in range(64):  # 4 MiB in all, never announced
            sent += 1
            yield b"a" * (64 * 1024)
        yield b'"}'

    for path, headers in (
        ("/api/v1/incidents", desk.user.headers),
        ("/v2/incidents/list", coc_headers(desk.tech)),
        ("/login", {}),  # a form
    ):
        sent = 0
        form = path == "/login"
        content_type = "application/x-www-form-urlencoded" if form else "application/json"
        response = await client.post(
            path, content=chunks(), headers={**headers, "content-type": content_type}
        )
        assert response.status_code == 413, response.text
        assert sent <= 17, "the body was read past the limit"
        if path.startswith("/v2/"):
            coc_error(response, 413, "GOM.10000413")
        else:
            assert native_error(response, 413)["code"] == "body_too_large"


async def test_uploads_keep_their_own_rule_and_a_larger_cap(
    client: httpx.AsyncClient, desk: Desk, settings: Settings
) -> None:
    number = (await create_incident(client, desk.user))["number"]
    url = f"/api/v1/incidents/{number}/attachments"
    # Above the JSON limit but within the attachment rule: stored.
    two_mib = {"file": ("notes.txt", b"a" * (2 * MIB), "text/plain")}
    middle = await client.post(url, files=two_mib, headers=desk.user.headers)
    assert middle.status_code == 201, middle.text
    # Far above the attachment rule: refused by the boundary before it is read.
    huge = settings.attachment_max_bytes + settings.max_json_bytes + 1
    response = await client.post(
        url, files={"file": ("big.txt", b"a" * huge, "text/plain")}, headers=desk.user.headers
    )
    assert native_error(response, 413)["code"] == "body_too_large"
    # The same upload sent chunked is cut off while the form is parsed, in the COC envelope
    # on the COC upload route.
    boundary = "opsdesk-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()

    async def chunks() -> AsyncIterator[bytes]:
        yield head
        for _ in range(huge // MIB + 1):
            yield b"a" * MIB
        yield f"\r\n--{boundary}--\r\n".encode()

    multipart = {"content-type": f"multipart/form-data; boundary={boundary}"}
    for path, headers in (
        (url, desk.user.headers),
        ("/v1/external/incident/attachments", coc_headers(desk.user)),
    ):
        chunked = await client.post(path, content=chunks(), headers={**headers, **multipart})
        if path.startswith("/v1/"):
            assert "body" in coc_error(chunked, 413, "GOM.10000413")
        else:
            assert native_error(chunked, 413)["code"] == "body_too_large"
    assert len((await client.get(url, headers=desk.user.headers)).json()) == 1


# Nesting -----------------------------------------------------------------------------------


async def test_deeply_nested_json_is_a_400_naming_the_body(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    number = (await create_incident(client, desk.user))["number"]
    coc_json = {**coc_headers(desk.tech), "content-type": "application/json"}
    for path in ("/v2/incidents/list", f"/v2/incidents/{number}/histories"):
        for depth in (65, 100_000):
            response = await client.post(path, content=nested(depth), headers=coc_json)
            message = coc_error(response, 400, "GOM.00007256")
            assert message == "Parameter error: body: JSON nesting is deeper than 64 levels"
    # The COC routes parse their body as JSON whatever its label.
    labelled = {**coc_headers(desk.tech), "content-type": "text/plain"}
    response = await client.post("/v2/incidents/list", content=nested(5000), headers=labelled)
    coc_error(response, 400, "GOM.00007256")
    native = await client.post(
        "/api/v1/incidents/search",
        content=nested(100_000),
        headers={**desk.tech.headers, "content-type": "application/json"},
    )
    error = native_error(native, 400)
    assert (error["code"], error["field"]) == ("json_too_deep", "body")
    in_query = await client.get(
        "/api/v1/incidents/search",
        params={"filter": "[" * 5_000 + "]" * 5_000},
        headers=desk.tech.headers,
    )
    assert native_error(in_query, 422)["field"] == "filter"
    # 64 levels in all (the object and 63 arrays) are not refused for their depth.
    within = await client.post("/v2/incidents/list", content=nested(63), headers=coc_json)
    assert "JSON nesting" not in coc_error(within, 400, "GOM.00007256")
    # Brackets inside strings are text, not nesting.
    text = {"title": "[" * 100 + "{" * 100, "description": "{" * 500}
    created = await client.post("/api/v1/incidents", json=text, headers=desk.user.headers)
    assert created.status_code == 201, created.text


# Unknown keys ------------------------------------------------------------------------------


async def test_unknown_top_level_keys_of_list_bodies_are_refused(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    number = (await create_incident(client, desk.user))["number"]
    headers = coc_headers(desk.tech)
    for path in ("/v2/incidents/list", f"/v2/incidents/{number}/histories"):
        response = await client.post(path, json={"string_filter": []}, headers=headers)
        assert coc_error(response, 400, "GOM.00007256") == (
            "Parameter error: string_filter: unknown field"
        )
    # The keys COC clients send are still taken.
    listed = await client.post(
        "/v2/incidents/list",
        json={"page": 1, "contain_all": True, "contain_sub_ticket": True, "string_filters": []},
        headers=headers,
    )
    assert listed.status_code == 200, listed.text
    histories = await client.post(
        f"/v2/incidents/{number}/histories", json={"incident_id": number}, headers=headers
    )
    assert histories.json()["data"]["total"] == 1
    native = await client.post(
        "/api/v1/incidents/search", json={"sort": "title"}, headers=desk.tech.headers
    )
    assert native_error(native, 422)["field"] == "sort"


# The last-resort handler -------------------------------------------------------------------


def with_failing_routes(app: FastAPI) -> FastAPI:
    """Routes that fail the way a bug does, to see what the boundary makes of it."""

    async def fail() -> None:
        raise RuntimeError("secret-detail-that-must-not-leak")

    for path in ("/api/v1/test-failure", "/v2/test-failure", "/test-failure"):
        app.add_api_route(path, fail)
    return app


async def test_an_unexpected_error_is_a_json_500_and_logged(
    db: Database, clock: FixedClock, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = with_failing_routes(create_app(settings, db=db, clock=clock))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://opsdesk.test") as http:
        with caplog.at_level(logging.ERROR, logger="opsdesk.api.error_boundary"):
            native = await http.get("/api/v1/test-failure")
            coc = await http.get("/v2/test-failure")
            page = await http.get("/test-failure", headers={"accept": "text/html"})
    error = native_error(native, 500)
    assert error["code"] == "internal_error"
    assert "secret-detail" not in native.text and "Traceback" not in native.text
    assert "secret-detail" not in coc_error(coc, 500, "GOM.10000500")
    assert native_error(page, 500)["code"] == "internal_error"  # JSON, even for a browser
    logged = [record for record in caplog.records if record.exc_info]
    assert len(logged) == 3
    assert "secret-detail-that-must-not-leak" in str(logged[0].exc_info[1])  # type: ignore[index]


# The database cannot be reached ------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def unreachable_database(backend: str, tmp_path: Path) -> Database:
    """A database that cannot be reached: PostgreSQL on a port nobody listens on, SQLite in
    a folder that was removed (its storage gone)."""
    if backend == "postgres":
        return Database(f"postgresql://postgres@127.0.0.1:{_closed_port()}/opsdesk")
    folder = tmp_path / "gone"
    database = Database(f"sqlite+aiosqlite:///{folder / 'opsdesk.db'}")
    shutil.rmtree(folder)
    return database


async def test_an_unreachable_database_is_a_503_with_retry_after(
    backend: str, tmp_path: Path, clock: FixedClock, settings: Settings, desk: Desk
) -> None:
    down = unreachable_database(backend, tmp_path)
    app = create_app(settings, db=down, clock=clock)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://opsdesk.test") as http:
            native = await http.get("/api/v1/incidents", headers=desk.tech.headers)
            error = native_error(native, 503)
            assert error["code"] == "database_unavailable"
            assert native.headers["retry-after"] == "5"
            coc = await http.post("/v2/incidents/list", json={}, headers=coc_headers(desk.tech))
            assert coc.headers["retry-after"] == "5"
            assert "database" in coc_error(coc, 503, "GOM.10000503")
            health = await http.get("/healthz")
            assert (health.status_code, health.headers["retry-after"]) == (503, "5")
            # A browser signing in gets a page, not JSON.
            form_page = await http.get("/login")
            form = {
                "email": "tech@desk.test",
                "password": "x" * 12,
                "csrf_token": csrf_of(form_page.text),
            }
            page = await http.post("/login", data=form, headers={"accept": "text/html"})
            assert page.status_code == 503
            assert page.headers["content-type"].startswith("text/html")
            assert page.headers["retry-after"] == "5"
    finally:
        await down.dispose()
