"""SLA admin pages: policies, calendars, holiday import (country and iCal), errors beside fields."""

from __future__ import annotations

import re

import httpx
import pytest

from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.sla import configuration as sla_configuration
from tests.api.admin_pages import NOT_ADMINS, as_admin, as_someone, error_beside
from tests.factories import Desk

ICAL = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:1@test
DTSTART;VALUE=DATE:20300704
SUMMARY:Company day
END:VEVENT
END:VCALENDAR
"""


def error_with_prefix(html: str, prefix: str, name: str) -> str:
    match = re.search(rf'<span class="field-error" id="{prefix}-{name}-error">([^<]*)</span>', html)
    assert match is not None, f"no error beside {prefix}-{name}"
    return match.group(1)


async def test_an_admin_makes_a_calendar_imports_holidays_and_a_policy_uses_it(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    csrf = await as_admin(client)
    assert (await client.get("/admin/sla")).status_code == 200
    calendar = {
        "csrf_token": csrf,
        "key": "paris",
        "name": "Paris office",
        "time_zone": "Europe/Paris",
        "hours": "Mon 09:00-18:00\nTue 09:00-18:00",
    }
    garbled = await client.post("/admin/sla/calendars", data={**calendar, "hours": "Monday at 9"})
    assert garbled.status_code == 422
    assert "Mon 09:00-18:00" in error_with_prefix(garbled.text, "c", "hours")
    backwards = await client.post(
        "/admin/sla/calendars", data={**calendar, "hours": "Mon 18:00-09:00"}
    )
    assert backwards.status_code == 422 and error_with_prefix(backwards.text, "c", "hours")
    made = await client.post("/admin/sla/calendars", data=calendar)
    assert (made.status_code, made.headers["location"]) == (303, "/admin/sla/calendars/paris")
    twice = await client.post("/admin/sla/calendars", data=calendar)
    assert twice.status_code == 422
    assert "already exists" in error_with_prefix(twice.text, "c", "key")

    url = "/admin/sla/calendars/paris/holidays"
    nothing = await client.post(url, data={"csrf_token": csrf})
    assert nothing.status_code == 422 and error_with_prefix(nothing.text, "h", "country")
    unknown = await client.post(url, data={"csrf_token": csrf, "country": "ZZ", "years": "2030"})
    assert unknown.status_code == 422 and error_with_prefix(unknown.text, "h", "country")
    france = await client.post(url, data={"csrf_token": csrf, "country": "FR", "years": "2030"})
    assert france.status_code == 303
    ical = await client.post(
        url, data={"csrf_token": csrf}, files={"file": ("days.ics", ICAL, "text/calendar")}
    )
    assert ical.status_code == 303
    page = await client.get("/admin/sla/calendars/paris")
    assert "1 holiday(s) added." in page.text
    assert "2030-07-04 Company day" in page.text and "2030-07-14" in page.text

    policy = {
        "csrf_token": csrf,
        "key": "vip",
        "name": "VIP",
        "order": "5",
        "calendar": "paris",
        "response_min": "soon",
        "resolution_min": "480",
        "active": "on",
    }
    bad = await client.post("/admin/sla/policies", data=policy)
    assert bad.status_code == 422 and error_beside(bad.text, "response_min")
    made = await client.post("/admin/sla/policies", data={**policy, "response_min": "30"})
    assert made.status_code == 303
    edited = await client.post(
        "/admin/sla/policies/vip",
        data={**policy, "response_min": "15", "levels": ["level_10"], "active": ""},
    )
    assert edited.status_code == 303
    async with db.read() as session:
        row = await sla_configuration.get_policy(
            session=session, caller=desk.admin.caller, key="vip"
        )
    assert (row.response_s, row.resolution_s, row.calendar, row.active) == (
        900,
        28800,
        "paris",
        False,
    )
    assert row.match["levels"] == ["level_10"] and row.thresholds  # escalations kept
    in_use = await client.post("/admin/sla/calendars/paris/delete", data={"csrf_token": csrf})
    assert in_use.status_code == 303
    assert "used by policies vip" in (await client.get(in_use.headers["location"])).text


@pytest.mark.parametrize("who", NOT_ADMINS)
async def test_sla_pages_are_for_admins_only(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock, who: str
) -> None:
    csrf = await as_someone(client, desk, db, clock, who)
    assert (await client.get("/admin/sla")).status_code == 403
    posted = await client.post(
        "/admin/sla/calendars", data={"csrf_token": csrf, "key": "x", "name": "X"}
    )
    assert posted.status_code == 403
