"""SLA through the HTTP API: the incidents' ``sla`` field, list filters and sort, admin CRUD."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.incidents.models import Incident
from opsdesk.sla import clocks as sla_clocks
from tests.factories import Desk, create_incident

SLA_FIELDS = {
    "target",
    "policy",
    "calendar",
    "state",
    "due_at",
    "elapsed_s",
    "remaining_s",
    "paused_s",
    "percent",
    "breached",
    "breached_at",
}
ICAL = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//opsdesk test//EN
BEGIN:VEVENT
UID:company-day@test
DTSTART;VALUE=DATE:20260605
DTEND;VALUE=DATE:20260606
SUMMARY:Company day
END:VEVENT
END:VCALENDAR
"""


async def _refresh_all(db: Database, clock: FixedClock) -> None:
    async with db.write() as session:
        for incident_id in await session.scalars(select(Incident.id)):
            await sla_clocks.refresh_incident_sla(session, incident_id=incident_id, now=clock.now())


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    return body


async def test_the_incident_detail_has_both_clocks_and_lists_the_stored_ones(
    client: httpx.AsyncClient, db: Database, desk: Desk, clock: FixedClock
) -> None:
    number = (await create_incident(client, desk.tech, level="P2"))["number"]
    clock.advance(timedelta(minutes=6))
    detail = await client.get(f"/api/v1/incidents/{number}", headers=desk.tech.headers)
    assert detail.status_code == 200, detail.text
    clocks = detail.json()["sla"]
    assert [c["target"] for c in clocks] == ["response", "resolution"]
    assert all(set(c) == SLA_FIELDS for c in clocks)
    response = clocks[0]
    assert response["policy"] == "default-p2" and response["calendar"] == "24x7"
    assert response["state"] == "running"
    assert response["due_at"] == "2026-03-02T10:30:00Z"
    assert (response["elapsed_s"], response["remaining_s"], response["paused_s"]) == (
        360.0,
        1440.0,
        0.0,
    )
    assert response["percent"] == 20.0
    assert (response["breached"], response["breached_at"]) == (False, None)

    # Lists show what is stored (nothing before the first refresh), without recomputing.
    listed = await client.get("/api/v1/incidents", headers=desk.tech.headers)
    assert listed.json()["items"][0]["sla"] == []
    await _refresh_all(db, clock)
    listed = await client.get("/api/v1/incidents", headers=desk.tech.headers)
    assert [c["target"] for c in listed.json()["items"][0]["sla"]] == ["response", "resolution"]
    assert listed.json()["items"][0]["sla"][0]["due_at"] == "2026-03-02T10:30:00Z"


async def test_lists_filter_on_due_and_breached_clocks_and_sort_by_due_time(
    client: httpx.AsyncClient, db: Database, desk: Desk, clock: FixedClock
) -> None:
    numbers = {}
    for level in ("P3", "P1", "P5"):
        numbers[level] = (await create_incident(client, desk.tech, level=level))["number"]
    await _refresh_all(db, clock)
    headers = desk.tech.headers

    async def listed(query: str) -> list[str]:
        response = await client.get(f"/api/v1/incidents?{query}", headers=headers)
        assert response.status_code == 200, response.text
        return [item["number"] for item in response.json()["items"]]

    # Breaching in the next hour: only P1 (response due 10:15); P3's is due 12:00.
    in_an_hour = (clock.now() + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert await listed(f"sla_due_before={in_an_hour}") == [numbers["P1"]]
    assert await listed("sla_breached=true") == []
    assert await listed("sort=sla_due_at") == [numbers["P1"], numbers["P3"], numbers["P5"]]
    assert await listed("sort=-sla_due_at,number") == [
        numbers["P5"],
        numbers["P3"],
        numbers["P1"],
    ]

    clock.advance(timedelta(minutes=20))
    await _refresh_all(db, clock)
    assert await listed("sla_breached=true") == [numbers["P1"]]
    assert set(await listed("sla_breached=false")) == {numbers["P3"], numbers["P5"]}
    assert await listed("sla_breached=true&level=P3") == []

    bad = await client.get("/api/v1/incidents?sla_due_before=tomorrow", headers=headers)
    assert _error(bad, 422)["field"] == "sla_due_before"
    bad = await client.get("/api/v1/incidents?sla_breached=maybe", headers=headers)
    assert _error(bad, 422)["field"] == "sla_breached"


async def test_admins_manage_calendars_and_policies(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    base = "/api/v1/admin/sla"
    admin = desk.admin.headers
    assert (await client.get(f"{base}/policies", headers=desk.tech.headers)).status_code == 403
    policies = (await client.get(f"{base}/policies", headers=admin)).json()
    assert [p["key"] for p in policies] == [f"default-p{n}" for n in range(1, 6)]
    assert policies[0]["thresholds"][0] == {
        "percent": 50.0,
        "actions": [{"kind": "notify_assignee", "workgroup": None}],
    }
    calendars = {c["key"]: c for c in (await client.get(f"{base}/calendars", headers=admin)).json()}
    assert calendars["24x7"]["always_open"] is True
    assert calendars["business-hours"]["hours"][0] == {
        "weekday": 0,
        "start": "09:00",
        "end": "18:00",
    }

    paris = {
        "name": "Paris office",
        "time_zone": "Europe/Paris",
        "hours": [{"weekday": d, "start": "09:00", "end": "18:00"} for d in range(5)],
    }
    created = await client.put(f"{base}/calendars/paris", json=paris, headers=admin)
    assert created.status_code == 200, created.text
    assert created.json()["time_zone"] == "Europe/Paris"

    wrong_zone = await client.put(
        f"{base}/calendars/paris", json={**paris, "time_zone": "Mars/Olympus"}, headers=admin
    )
    assert _error(wrong_zone, 422)["field"] == "time_zone"
    wrong_span = {**paris, "hours": [{"weekday": 0, "start": "18:00", "end": "09:00"}]}
    bad_span = await client.put(f"{base}/calendars/paris", json=wrong_span, headers=admin)
    assert _error(bad_span, 422)["field"] == "hours.0.end"

    # Holidays: a country's public holidays for a year, then an iCal file's all-day events.
    imported = await client.post(
        f"{base}/calendars/paris/holidays", json={"country": "FR", "years": [2026]}, headers=admin
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["added"] == 11
    assert imported.json()["calendar"]["holidays"]["2026-07-14"] == "National Day"
    uploaded = await client.post(
        f"{base}/calendars/paris/holidays",
        files={"file": ("company.ics", ICAL, "text/calendar")},
        headers=admin,
    )
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["calendar"]["holidays"]["2026-06-05"] == "Company day"
    no_country = await client.post(
        f"{base}/calendars/paris/holidays", json={"country": "XX", "years": [2026]}, headers=admin
    )
    assert _error(no_country, 422)["field"] == "country"
    not_ical = await client.post(
        f"{base}/calendars/paris/holidays",
        files={"file": ("x.ics", b"hello", "text/calendar")},
        headers=admin,
    )
    assert _error(not_ical, 422)["field"] == "file"

    policy = {
        "name": "Paris P3",
        "order": 5,
        "calendar": "paris",
        "response_s": 3600,
        "resolution_s": 8 * 3600,
        "levels": ["level_30"],
    }
    made = await client.put(f"{base}/policies/paris-p3", json=policy, headers=admin)
    assert made.status_code == 200, made.text
    assert made.json()["pause_phases"] == ["awaiting_requester", "paused", "rejected"]
    assert len(made.json()["thresholds"]) == 3
    for change, field in (
        ({"calendar": "nowhere"}, "calendar"),
        ({"levels": ["P9"]}, "levels"),
        ({"response_s": -1}, "response_s"),
        ({"pause_phases": ["new"]}, "pause_phases"),
        (
            {"thresholds": [{"percent": 50, "actions": [{"kind": "shout"}]}]},
            "thresholds.0.actions.0.kind",
        ),
        (
            {
                "thresholds": [
                    {"percent": 50, "actions": [{"kind": "reassign", "workgroup": "ghosts"}]}
                ]
            },
            "thresholds.0.actions.0.workgroup",
        ),
        ({"thresholds": [{"percent": 0}]}, "thresholds.0.percent"),
    ):
        refused = await client.put(
            f"{base}/policies/paris-p3", json={**policy, **change}, headers=admin
        )
        assert _error(refused, 422)["field"] == field, change

    reordered = await client.post(
        f"{base}/policies/reorder", json={"keys": ["default-p3", "paris-p3"]}, headers=admin
    )
    assert reordered.status_code == 200, reordered.text
    assert [p["key"] for p in reordered.json()][:3] == ["default-p3", "paris-p3", "default-p1"]
    unknown = await client.post(f"{base}/policies/reorder", json={"keys": ["nope"]}, headers=admin)
    assert _error(unknown, 422)["field"] == "keys.0"

    in_use = await client.delete(f"{base}/calendars/paris", headers=admin)
    assert _error(in_use, 409)["field"] == "key"
    assert (await client.delete(f"{base}/policies/paris-p3", headers=admin)).status_code == 204
    assert (await client.delete(f"{base}/calendars/paris", headers=admin)).status_code == 204
    missing = await client.get(f"{base}/calendars/paris", headers=admin)
    assert _error(missing, 404)["field"] == "key"


async def test_a_policy_change_recomputes_open_incidents_in_a_job(
    client: httpx.AsyncClient, db: Database, desk: Desk, clock: FixedClock
) -> None:
    number = (await create_incident(client, desk.tech, level="P3"))["number"]
    await _refresh_all(db, clock)
    policy = {
        "name": "Faster P3",
        "order": 1,
        "calendar": "24x7",
        "response_s": 600,
        "levels": ["level_30"],
    }
    response = await client.put(
        "/api/v1/admin/sla/policies/fast-p3", json=policy, headers=desk.admin.headers
    )
    assert response.status_code == 200, response.text
    # The detail computes live with the new policy at once; the stored rows follow the job.
    detail = (await client.get(f"/api/v1/incidents/{number}", headers=desk.tech.headers)).json()
    assert [(c["target"], c["policy"]) for c in detail["sla"]] == [("response", "fast-p3")]
    async with db.write() as session:
        assert await sla_clocks.recompute_batch(session, after_id=0, now=clock.now()) is not None
    listed = (await client.get("/api/v1/incidents", headers=desk.tech.headers)).json()
    assert [c["policy"] for c in listed["items"][0]["sla"]] == ["fast-p3"]
