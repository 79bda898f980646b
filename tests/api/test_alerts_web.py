"""The alerts pages: groups and alerts for staff, integrations for administrators, and the
alert groups block on the incident page."""

from __future__ import annotations

import re

import httpx

from opsdesk.auth.roles import Role
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from tests.api.test_alerts import am_alert, am_payload
from tests.api.test_web_pages import csrf_of, sign_in
from tests.factories import Desk, make_actor

PASSWORD = "correct horse battery"


async def test_admin_creates_an_integration_and_staff_see_what_fired(
    client: httpx.AsyncClient, db: Database, clock: FixedClock, desk: Desk
) -> None:
    await make_actor(db, clock, Role.ADMIN, "boss@example.com", PASSWORD)
    await sign_in(client, "boss@example.com", PASSWORD)
    page = await client.get("/admin/integrations")
    assert page.status_code == 200 and "No integrations yet." in page.text
    created = await client.post(
        "/admin/integrations",
        data={"name": "Prometheus", "kind": "alertmanager", "csrf_token": csrf_of(page.text)},
    )
    assert created.status_code == 303
    shown = await client.get("/admin/integrations")
    match = re.search(r"<code>([0-9a-f]{32})</code>", shown.text)
    assert match is not None, shown.text
    key = match.group(1)
    assert "every alert" in shown.text and "Prometheus" in shown.text
    again = await client.get("/admin/integrations")
    assert key not in again.text  # the key is shown once

    posted = await client.post(
        f"/api/v1/alerts/alertmanager/{key}",
        json=am_payload([am_alert("DiskFull"), am_alert("DiskFull", instance="db2:9100")]),
    )
    assert posted.status_code == 200, posted.text
    alerts = await client.get("/alerts")
    assert alerts.status_code == 200
    assert "DiskFull on db" in alerts.text
    number = re.search(r'href="/incidents/(IM\d+)"', alerts.text)
    assert number is not None
    group = re.search(r'href="/alerts/(\d+)"', alerts.text)
    assert group is not None
    detail = await client.get(f"/alerts/{group.group(1)}")
    assert "DiskFull on db2:9100" in detail.text and "instance=db2:9100" in detail.text
    assert 'href="http://prometheus:9090/graph' in detail.text
    incident = await client.get(f"/incidents/{number.group(1)}")
    assert 'id="alerts-heading"' in incident.text
    assert f'href="/alerts/{group.group(1)}"' in incident.text


async def test_alert_pages_are_for_staff_and_admin_pages_for_admins(
    client: httpx.AsyncClient, db: Database, clock: FixedClock
) -> None:
    await make_actor(db, clock, Role.END_USER, "user@example.com", PASSWORD)
    await sign_in(client, "user@example.com", PASSWORD)
    assert (await client.get("/alerts")).status_code == 403
    await client.post(
        "/logout", data={"csrf_token": csrf_of((await client.get("/incidents")).text)}
    )
    await make_actor(db, clock, Role.TECHNICIAN, "tech9@example.com", PASSWORD)
    fresh = httpx.AsyncClient(transport=client._transport, base_url="http://opsdesk.test")
    async with fresh:
        await sign_in(fresh, "tech9@example.com", PASSWORD)
        assert (await fresh.get("/alerts")).status_code == 200
        assert (await fresh.get("/admin/integrations")).status_code == 403
        page = await fresh.get("/alerts")
        refused = await fresh.post(
            "/admin/integrations",
            data={"name": "x", "kind": "generic", "csrf_token": csrf_of(page.text)},
        )
        assert refused.status_code == 403
    anonymous = httpx.AsyncClient(transport=client._transport, base_url="http://opsdesk.test")
    async with anonymous:
        assert (await anonymous.get("/alerts")).status_code == 303
