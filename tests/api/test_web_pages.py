"""The web pages through the ASGI stack: redirects, CSRF, headers, escaping, error pages."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from opsdesk.app import create_app
from opsdesk.bootstrap import prepare_database
from opsdesk.core.clock import SystemClock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from opsdesk.demo.data import load_demo
from opsdesk.incidents.models import Incident
from opsdesk.sla import clocks as sla_clocks

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _load_demo(url: str) -> None:
    db = Database(url)
    try:
        async with db.write() as session:
            await load_demo(session=session, clock=SystemClock())
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    data_dir = tmp_path_factory.mktemp("web-pages")
    url = f"sqlite+aiosqlite:///{data_dir / 'opsdesk.db'}"
    prepare_database(url)
    asyncio.run(_load_demo(url))
    return url


@pytest.fixture
async def client(database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    db = Database(database_url)
    settings = Settings(data_dir=tmp_path, database_url=database_url, secret_key="test-key")
    app = create_app(settings, db=db)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http
    finally:
        await db.dispose()


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match is not None, "no CSRF token in the page"
    return match.group(1)


async def sign_in(
    http: httpx.AsyncClient, email: str, password: str, next_path: str | None = None
) -> httpx.Response:
    page = await http.get("/login")
    form = {"email": email, "password": password, "csrf_token": csrf_of(page.text)}
    if next_path is not None:
        form["next"] = next_path
    return await http.post("/login", data=form)


async def test_pages_need_a_session_and_remember_where_to_return(
    client: httpx.AsyncClient,
) -> None:
    home = await client.get("/")
    assert home.status_code == 303
    assert home.headers["location"] == "/login"
    listing = await client.get("/incidents?level=P1&q=vpn")
    assert listing.status_code == 303
    assert listing.headers["location"] == "/login?next=%2Fincidents%3Flevel%3DP1%26q%3Dvpn"
    for path in ("/incidents/new", "/incidents/IM1"):
        response = await client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")


async def test_html_pages_carry_security_headers(client: httpx.AsyncClient) -> None:
    page = await client.get("/login")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    css = await client.get("/static/style.css")
    assert css.status_code == 200
    assert "text/css" in css.headers["content-type"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/incidents?level=P1", "/incidents?level=P1"),
        ("//evil.example/", "/"),
        ("/\\evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("", "/"),
    ],
)
async def test_sign_in_returns_only_to_local_paths(
    client: httpx.AsyncClient, given: str, expected: str
) -> None:
    response = await sign_in(client, "tech@example.com", "demo-tech", next_path=given)
    assert response.status_code == 303
    assert response.headers["location"] == expected


async def test_wrong_password_is_401_without_saying_which_part_was_wrong(
    client: httpx.AsyncClient,
) -> None:
    unknown = await sign_in(client, "nobody@example.com", "demo-tech")
    wrong = await sign_in(client, "tech@example.com", "wrong-password")
    assert unknown.status_code == wrong.status_code == 401
    assert "Wrong email or password." in unknown.text
    assert "Wrong email or password." in wrong.text


async def test_posts_without_the_csrf_token_are_refused(client: httpx.AsyncClient) -> None:
    await client.get("/login")
    login = await client.post("/login", data={"email": "tech@example.com", "password": "demo-tech"})
    assert login.status_code == 403
    assert (await client.get("/incidents")).status_code == 303
    await sign_in(client, "tech@example.com", "demo-tech")
    create = await client.post("/incidents/new", data={"title": "no token", "csrf_token": "x"})
    assert create.status_code == 403
    logout = await client.post("/logout", data={})
    assert logout.status_code == 403
    still_in = await client.get("/incidents")
    assert still_in.status_code == 200


async def test_sign_in_rotates_the_csrf_token(client: httpx.AsyncClient) -> None:
    before = csrf_of((await client.get("/login")).text)
    await client.post(
        "/login",
        data={"email": "tech@example.com", "password": "demo-tech", "csrf_token": before},
    )
    after = csrf_of((await client.get("/incidents")).text)
    assert after != before


async def test_list_shows_filter_errors_as_422(client: httpx.AsyncClient) -> None:
    await sign_in(client, "admin@example.com", "demo-admin")
    bad = await client.get("/incidents?level=P9")
    assert bad.status_code == 422
    assert "level: &#39;P9&#39; is not P1-P5" in bad.text
    unknown = await client.get("/incidents?colour=red")
    assert unknown.status_code == 422
    assert "colour: unknown filter parameter" in unknown.text


async def test_empty_filter_fields_do_not_filter(client: httpx.AsyncClient) -> None:
    await sign_in(client, "admin@example.com", "demo-admin")
    response = await client.get("/incidents?q=&level=&status=")
    assert response.status_code == 200
    assert "Checkout API returns HTTP 500" in response.text
    assert "Cannot connect to VPN from home" in response.text


async def test_entered_text_is_escaped(client: httpx.AsyncClient) -> None:
    await sign_in(client, "tech@example.com", "demo-tech")
    page = await client.get("/incidents/new")
    created = await client.post(
        "/incidents/new",
        data={
            "title": "<script>alert(1)</script>",
            "description": '"><img src=x onerror=alert(1)>',
            "csrf_token": csrf_of(page.text),
        },
    )
    assert created.status_code == 303
    detail = await client.get(created.headers["location"])
    assert detail.status_code == 200
    assert "<script>alert(1)</script>" not in detail.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail.text
    assert "<img src=x" not in detail.text


async def test_end_user_form_has_no_level_and_the_service_refuses_one(
    client: httpx.AsyncClient,
) -> None:
    await sign_in(client, "user@example.com", "demo-user")
    page = await client.get("/incidents/new")
    assert 'name="level"' not in page.text
    refused = await client.post(
        "/incidents/new",
        data={"title": "Printer", "level": "P1", "csrf_token": csrf_of(page.text)},
    )
    assert refused.status_code == 422
    assert "level: end users cannot set this field" in refused.text
    created = await client.post(
        "/incidents/new",
        data={"title": "Printer is offline", "csrf_token": csrf_of(page.text)},
    )
    assert created.status_code == 303
    number = created.headers["location"].rsplit("/", 1)[-1]
    stored = (await client.get(f"/api/v1/incidents/{number}")).json()
    assert stored["channel"] == "self_service"
    assert stored["ownership"] == "customer_report"


async def test_future_fault_time_is_refused_naming_the_field(client: httpx.AsyncClient) -> None:
    await sign_in(client, "tech@example.com", "demo-tech")
    page = await client.get("/incidents/new")
    refused = await client.post(
        "/incidents/new",
        data={
            "title": "Future",
            "fault_occurred_at": "2999-01-01T00:00",
            "csrf_token": csrf_of(page.text),
        },
    )
    assert refused.status_code == 422
    assert "fault_occurred_at: must not be in the future" in refused.text
    assert 'value="2999-01-01T00:00"' in refused.text


async def _number_of(http: httpx.AsyncClient, title_part: str) -> str:
    listing = await http.get("/incidents", params={"q": title_part})
    match = re.search(r'href="/incidents/(IM\d+)"', listing.text)
    assert match is not None, listing.text
    return match.group(1)


async def test_action_forms_check_csrf_role_and_state(client: httpx.AsyncClient) -> None:
    await sign_in(client, "user@example.com", "demo-user")
    number = await _number_of(client, "VPN")
    page = await client.get(f"/incidents/{number}")
    token = csrf_of(page.text)
    # End users get no staff buttons, and posting one anyway is refused with the reason.
    assert 'action="/incidents/' + number + '/actions/accept"' not in page.text
    refused = await client.post(
        f"/incidents/{number}/actions/accept", data={"csrf_token": token, "comment": ""}
    )
    assert refused.status_code == 403
    assert "accept" in refused.text
    forged = await client.post(f"/incidents/{number}/reply", data={"body": "hi"})
    assert forged.status_code == 403
    assert "Form expired" in forged.text
    unknown = await client.post(f"/incidents/{number}/actions/teleport", data={"csrf_token": token})
    assert unknown.status_code == 404

    await client.post("/logout", data={"csrf_token": token})
    await sign_in(client, "tech@example.com", "demo-tech")
    page = await client.get(f"/incidents/{number}")
    token = csrf_of(page.text)
    assert f'action="/incidents/{number}/actions/accept"' in page.text
    # Confirm is not allowed on a new incident: 409, the page names the state, nothing moves.
    conflict = await client.post(
        f"/incidents/{number}/actions/confirm", data={"csrf_token": token, "accepted": "yes"}
    )
    assert conflict.status_code == 409
    assert "new" in conflict.text
    missing = await client.post(
        f"/incidents/{number}/actions/reject", data={"csrf_token": token, "reason": "  "}
    )
    assert missing.status_code == 422
    assert "reason" in missing.text
    assert 'data-phase="new"' in missing.text


async def test_incident_page_shows_group_owner_and_why_and_forwards_by_form(
    client: httpx.AsyncClient,
) -> None:
    await sign_in(client, "tech@example.com", "demo-tech")
    number = await _number_of(client, "VPN")
    page = await client.get(f"/incidents/{number}")
    # The demo rules sent the VPN report to network operations, by least-loaded.
    assert "Network operations" in page.text
    assert "rule #1 &#39;Network and VPN to network operations&#39;" in page.text
    assert 'value="service-desk/l1-analyst"' in page.text  # shifts are offered
    token = csrf_of(page.text)
    moved = await client.post(
        f"/incidents/{number}/actions/forward",
        data={"csrf_token": token, "shift": "service-desk/incident-manager", "comment": "VIP"},
        follow_redirects=True,
    )
    assert moved.status_code == 200, moved.text
    assert "Max Manager (on duty, Shift: service-desk / incident-manager)" in moved.text
    refused = await client.post(
        f"/incidents/{number}/actions/forward",
        data={"csrf_token": csrf_of(moved.text), "workgroup": "nope", "comment": "x"},
    )
    assert refused.status_code == 422
    assert "workgroup" in refused.text


async def test_teams_page_shows_who_is_on_duty_and_switches_my_availability(
    client: httpx.AsyncClient,
) -> None:
    await sign_in(client, "user@example.com", "demo-user")
    page = await client.get("/incidents")
    assert 'href="/teams"' not in page.text
    assert (await client.get("/teams")).status_code == 403
    await client.post("/logout", data={"csrf_token": csrf_of(page.text)})

    await sign_in(client, "tech2@example.com", "demo-tech")
    page = await client.get("/teams")
    assert page.status_code == 200
    assert "Max Manager" in page.text  # the duty manager rotation
    assert "rotation &#39;Duty manager&#39; turn 1" in page.text
    assert "Network operations" in page.text
    assert "Least loaded" in page.text
    forged = await client.post("/teams/availability", data={"available": "no"})
    assert forged.status_code == 403
    switched = await client.post(
        "/teams/availability",
        data={"available": "no", "csrf_token": csrf_of(page.text)},
        follow_redirects=True,
    )
    assert switched.status_code == 200
    assert "rules skip you" in switched.text
    assert "Unavailable" in switched.text
    api = await client.get("/api/v1/technicians")
    assert api.status_code == 200
    tom = next(p for p in api.json() if p["email"] == "tech2@example.com")
    assert tom["available"] is False


async def test_sla_clocks_show_on_the_incident_and_filter_the_list(
    client: httpx.AsyncClient, database_url: str
) -> None:
    await sign_in(client, "admin@example.com", "demo-admin")
    number = await _number_of(client, "Checkout API")
    page = await client.get(f"/incidents/{number}")
    assert page.status_code == 200
    sla_card = page.text[page.text.index('id="sla"') :]
    assert 'data-target="response"' in sla_card
    assert 'data-target="resolution"' in sla_card
    # The list reads the stored clocks, which the worker keeps: refresh them as it would.
    db = Database(database_url)
    try:
        async with db.write() as session:
            ids = list(await session.scalars(select(Incident.id)))
            for incident_id in ids:
                await sla_clocks.refresh_incident_sla(
                    session, incident_id=incident_id, now=datetime.now(UTC)
                )
    finally:
        await db.dispose()
    listing = await client.get("/incidents", params={"sort": "sla_due_at", "per_page": 100})
    assert listing.status_code == 200
    assert listing.text.count('class="nowrap cell-sla') == len(ids)
    # The breached filter lists only incidents whose clocks show breached.
    breached = await client.get("/incidents", params={"sla": "breached"})
    assert breached.status_code == 200
    shown = breached.text.count('class="nowrap cell-sla')
    assert shown == breached.text.count("cell-sla sla-breached")
    assert 0 < shown < len(ids)
    bad = await client.get("/incidents", params={"sla": "someday"})
    assert bad.status_code == 422
    assert "sla: choose one of due_1h, breached" in bad.text


async def test_the_watch_button_adds_and_removes_the_caller(client: httpx.AsyncClient) -> None:
    await sign_in(client, "user@example.com", "demo-user")
    number = await _number_of(client, "VPN")
    page = await client.get(f"/incidents/{number}")
    assert ">Watch</button>" in page.text
    token = csrf_of(page.text)
    refused = await client.post(f"/incidents/{number}/watch", data={"watch": "yes"})
    assert refused.status_code in (400, 403)
    watched = await client.post(
        f"/incidents/{number}/watch",
        data={"watch": "yes", "csrf_token": token},
        follow_redirects=True,
    )
    assert watched.status_code == 200
    assert ">Stop watching</button>" in watched.text
    api = await client.get(f"/api/v1/incidents/{number}/watchers")
    assert api.status_code == 200, api.text
    unwatched = await client.post(
        f"/incidents/{number}/watch",
        data={"watch": "no", "csrf_token": csrf_of(watched.text)},
        follow_redirects=True,
    )
    assert ">Watch</button>" in unwatched.text
