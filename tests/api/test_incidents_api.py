"""Native incident API: create, read, change, list and history, through the ASGI stack."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.ids import is_hex32
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.incidents.numbering import looks_like_number
from tests.factories import Desk, create_incident

FULL_BODY: dict[str, Any] = {
    "title": "Checkout API returns HTTP 500",
    "description": "Error rate alarm since 08:40",
    "level": "P2",
    "impact": 1,
    "urgency": 2,
    "ownership": "alarm_detection",
    "category": "inc_type_p_function_issues",
    "region": "eu-west-101",
    "enterprise_project": "0",
    "application": "app_website",
    "fault_occurred_at": "2026-03-02T09:30:00+00:00",
    "service_interrupted": True,
    "source": "incident_source_alarm",
    "channel": "monitoring",
}


async def count_rows(db: Database) -> tuple[int, int]:
    async with db.read() as session:
        incidents = await session.scalar(select(func.count()).select_from(Incident))
        history = await session.scalar(select(func.count()).select_from(IncidentHistory))
    return incidents or 0, history or 0


async def test_create_stores_every_field_and_one_history_row(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    body = {**FULL_BODY, "assignee_id": desk.tech2.id, "reporter_id": desk.user.id}
    response = await client.post("/api/v1/incidents", json=body, headers=desk.tech.headers)
    assert response.status_code == 201, response.text
    created = response.json()
    number = created["number"]
    assert looks_like_number(number)
    assert response.headers["location"] == f"/api/v1/incidents/{number}"
    assert created["level"] == "level_20" and created["level_label"] == "P2"
    assert created["status"] == "INCIDENT_STATUS_TRIGGERED" and created["status_label"] == "New"
    assert created["owner_type"] == "individual"
    assert created["assignee_id"] == desk.tech2.id
    assert created["creator_id"] == desk.tech.id
    assert created["reporter_id"] == desk.user.id
    assert created["fault_occurred_at"].startswith("2026-03-02T09:30:00")
    for key in ("title", "description", "impact", "urgency", "ownership", "category", "region"):
        assert created[key] == body[key]
    for key in ("enterprise_project", "application", "service_interrupted", "source", "channel"):
        assert created[key] == body[key]

    fetched = await client.get(f"/api/v1/incidents/{number}", headers=desk.tech.headers)
    assert fetched.status_code == 200
    assert fetched.json() == created
    assert fetched.headers["etag"] == '"1"'

    history = (
        await client.get(f"/api/v1/incidents/{number}/history", headers=desk.tech.headers)
    ).json()
    assert len(history) == 1
    row = history[0]
    assert row["action"] == "create_incident"
    assert row["action_name_en"] == "create incident"
    assert row["operator_id"] == desk.tech.id
    assert row["status"] == "INCIDENT_STATUS_TRIGGERED"
    changed = {change["field"]: change for change in row["changes"]}
    assert changed["title"] == {"field": "title", "old": None, "new": body["title"]}
    assert changed["level"]["new"] == "level_20"
    assert await count_rows(db) == (1, 1)


async def test_shift_owner_and_defaults(client: httpx.AsyncClient, desk: Desk) -> None:
    created = await create_incident(
        client, desk.tech, assignee_scene="service-desk", assignee_role="l1-analyst"
    )
    assert created["owner_type"] == "shift"
    assert (created["assignee_scene"], created["assignee_role"]) == ("service-desk", "l1-analyst")
    assert created["assignee_id"] is None
    assert created["enterprise_project"] == "0"
    assert created["level"] == "level_30"  # medium x medium
    assert created["source"] == "incident_source_manual"
    assert created["channel"] == "api"


@pytest.mark.parametrize(
    ("impact", "urgency", "level"),
    [
        (1, 1, "level_10"),
        (1, 2, "level_20"),
        (2, 2, "level_30"),
        (3, 2, "level_40"),
        (3, 3, "level_50"),
    ],
)
async def test_level_from_impact_and_urgency(
    client: httpx.AsyncClient, desk: Desk, impact: int, urgency: int, level: str
) -> None:
    created = await create_incident(client, desk.user, impact=impact, urgency=urgency)
    assert created["level"] == level


async def test_explicit_level_wins_over_impact_and_urgency(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    created = await create_incident(client, desk.tech, level="level_50", impact=1, urgency=1)
    assert created["level"] == "level_50"


async def test_ticket_numbers_are_unique(client: httpx.AsyncClient, desk: Desk) -> None:
    numbers = {(await create_incident(client, desk.tech))["number"] for _ in range(30)}
    assert len(numbers) == 30


TOO_LONG_TITLE = "x" * 201
INVALID_CREATES: list[tuple[str, dict[str, Any], int, str]] = [
    ("title too long", {"title": TOO_LONG_TITLE}, 422, "title"),
    ("title empty", {"title": "   "}, 422, "title"),
    ("title missing", {"description": "no title"}, 422, "title"),
    ("title wrong type", {"title": 5}, 422, "title"),
    ("description too long", {"description": "d" * 20_001}, 422, "description"),
    ("unknown level", {"level": "P9"}, 422, "level"),
    ("level wrong key", {"level": "level_60"}, 422, "level"),
    ("impact out of range", {"impact": 4}, 422, "impact"),
    ("urgency not a number", {"urgency": "soon"}, 422, "urgency"),
    ("unknown ownership", {"ownership": "aliens"}, 422, "ownership"),
    ("unknown category", {"category": "inc_type_p_nope"}, 422, "category"),
    ("unknown application", {"application": "app_nope"}, 422, "application"),
    ("unknown region", {"region": "mars-1"}, 422, "region"),
    ("unknown enterprise project", {"enterprise_project": "42"}, 422, "enterprise_project"),
    (
        "fault time far future",
        {"fault_occurred_at": "2026-03-02T11:00:00Z"},
        422,
        "fault_occurred_at",
    ),
    ("fault time naive", {"fault_occurred_at": "2026-03-02T09:00:00"}, 422, "fault_occurred_at"),
    ("fault time garbage", {"fault_occurred_at": "yesterday"}, 422, "fault_occurred_at"),
    ("service interrupted not bool", {"service_interrupted": "maybe"}, 422, "service_interrupted"),
    ("unknown owner type", {"owner_type": "committee"}, 422, "owner_type"),
    ("assignee not hex", {"assignee_id": "bob"}, 422, "assignee_id"),
    ("assignee unknown", {"assignee_id": "0" * 32}, 422, "assignee_id"),
    ("individual without person", {"owner_type": "individual"}, 422, "assignee_id"),
    ("shift without role", {"assignee_scene": "desk"}, 422, "assignee_role"),
    ("shift with a person", {"owner_type": "shift", "assignee_id": "0" * 32}, 422, "assignee_id"),
    ("unknown source", {"source": "pigeon"}, 422, "source"),
    ("unknown channel", {"channel": "pigeon"}, 422, "channel"),
    ("unknown reporter", {"reporter_id": "f" * 32}, 422, "reporter_id"),
    ("unknown field", {"severity": "high"}, 422, "severity"),
]


@pytest.mark.parametrize(
    ("case", "fields", "status", "field"), INVALID_CREATES, ids=[c[0] for c in INVALID_CREATES]
)
async def test_invalid_create_names_the_field_and_writes_nothing(
    client: httpx.AsyncClient,
    desk: Desk,
    db: Database,
    case: str,
    fields: dict[str, Any],
    status: int,
    field: str,
) -> None:
    body = {"title": "Valid title", **fields}
    if "title missing" in case:
        body.pop("title")
    response = await client.post("/api/v1/incidents", json=body, headers=desk.tech.headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["field"] == field
    assert field in error["message"]
    assert await count_rows(db) == (0, 0)


async def test_assignee_must_be_staff(client: httpx.AsyncClient, desk: Desk, db: Database) -> None:
    response = await client.post(
        "/api/v1/incidents",
        json={"title": "x", "assignee_id": desk.user.id},
        headers=desk.tech.headers,
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "assignee_id"
    assert await count_rows(db) == (0, 0)


async def test_disabled_category_is_refused(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    disabled = await client.patch(
        "/api/v1/categories/inc_type_p_data_issues",
        json={"enabled": False},
        headers=desk.admin.headers,
    )
    assert disabled.status_code == 200
    response = await client.post(
        "/api/v1/incidents",
        json={"title": "x", "category": "inc_type_p_data_issues"},
        headers=desk.tech.headers,
    )
    assert response.status_code == 422
    assert "disabled" in response.json()["error"]["message"]
    assert await count_rows(db) == (0, 0)


async def test_fault_time_within_clock_skew_is_accepted(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    soon = (clock.now() + timedelta(minutes=4)).isoformat()
    created = await create_incident(client, desk.tech, fault_occurred_at=soon)
    assert created["fault_occurred_at"] is not None


@pytest.mark.parametrize(
    ("content", "code"),
    [(b'{"title": ', "malformed_json"), (b"[1, 2]", "validation_error"), (b"", "validation_error")],
)
async def test_malformed_bodies(
    client: httpx.AsyncClient, desk: Desk, db: Database, content: bytes, code: str
) -> None:
    response = await client.post(
        "/api/v1/incidents",
        content=content,
        headers={**desk.tech.headers, "Content-Type": "application/json"},
    )
    assert response.status_code in (400, 422)
    assert response.json()["error"]["code"] == code
    assert await count_rows(db) == (0, 0)


async def test_patch_records_old_and_new_values(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    created = await create_incident(
        client, desk.tech, level="P3", category="inc_type_p_config_issues"
    )
    number = created["number"]
    clock.advance(timedelta(minutes=5))
    response = await client.patch(
        f"/api/v1/incidents/{number}",
        json={"level": "P1", "title": "Mail is down for everyone", "comment": "wider impact"},
        headers={**desk.tech.headers, "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["level"] == "level_10"
    assert updated["version"] == 2
    assert updated["updated_at"] != created["updated_at"]
    history = (
        await client.get(f"/api/v1/incidents/{number}/history", headers=desk.tech.headers)
    ).json()
    assert [row["action"] for row in history] == ["create_incident", "update_incident"]
    update = history[1]
    assert update["comment"] == "wider impact"
    assert update["operator_id"] == desk.tech.id
    assert {c["field"]: (c["old"], c["new"]) for c in update["changes"]} == {
        "title": ("Mail is down", "Mail is down for everyone"),
        "level": ("level_30", "level_10"),
    }


async def test_patch_without_change_writes_no_history(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    created = await create_incident(client, desk.tech, level="P3")
    response = await client.patch(
        f"/api/v1/incidents/{created['number']}",
        json={"level": "level_30", "title": created["title"]},
        headers=desk.tech.headers,
    )
    assert response.status_code == 200
    assert response.json()["version"] == 1
    history = (
        await client.get(
            f"/api/v1/incidents/{created['number']}/history", headers=desk.tech.headers
        )
    ).json()
    assert len(history) == 1


async def test_patch_with_stale_etag_is_refused(client: httpx.AsyncClient, desk: Desk) -> None:
    created = await create_incident(client, desk.tech)
    url = f"/api/v1/incidents/{created['number']}"
    first = await client.patch(url, json={"title": "one"}, headers=desk.tech.headers)
    assert first.status_code == 200
    stale = await client.patch(
        url, json={"title": "two"}, headers={**desk.tech.headers, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "precondition_failed"
    current = (await client.get(url, headers=desk.tech.headers)).json()
    assert current["title"] == "one"


async def test_patch_owner_switches_between_person_and_shift(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    created = await create_incident(client, desk.tech, assignee_id=desk.tech.id)
    url = f"/api/v1/incidents/{created['number']}"
    shift = await client.patch(
        url, json={"assignee_scene": "noc", "assignee_role": "duty"}, headers=desk.tech.headers
    )
    assert shift.status_code == 200, shift.text
    assert shift.json()["owner_type"] == "shift"
    assert shift.json()["assignee_id"] is None
    person = await client.patch(url, json={"assignee_id": desk.tech2.id}, headers=desk.tech.headers)
    assert person.json()["owner_type"] == "individual"
    assert person.json()["assignee_scene"] is None
    cleared = await client.patch(url, json={"owner_type": None}, headers=desk.tech.headers)
    assert cleared.json()["owner_type"] is None
    assert cleared.json()["assignee_id"] is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": None}, "title"),
        ({"level": None}, "level"),
        ({"title": TOO_LONG_TITLE}, "title"),
        ({"category": "nope"}, "category"),
        ({"status": "INCIDENT_STATUS_COMPLETED"}, "status"),
        ({"fault_occurred_at": "2030-01-01T00:00:00Z"}, "fault_occurred_at"),
        ({"assignee_scene": "noc"}, "assignee_role"),
    ],
)
async def test_invalid_patch_changes_nothing(
    client: httpx.AsyncClient, desk: Desk, fields: dict[str, Any], field: str
) -> None:
    created = await create_incident(client, desk.tech)
    url = f"/api/v1/incidents/{created['number']}"
    response = await client.patch(url, json=fields, headers=desk.tech.headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert (await client.get(url, headers=desk.tech.headers)).json() == created
    history = (await client.get(f"{url}/history", headers=desk.tech.headers)).json()
    assert len(history) == 1


async def test_unknown_incident_is_404(client: httpx.AsyncClient, desk: Desk) -> None:
    response = await client.get("/api/v1/incidents/IM000", headers=desk.tech.headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_user_ids_are_32_hex(desk: Desk) -> None:
    assert all(is_hex32(actor.id) for actor in (desk.admin, desk.tech, desk.user))


async def test_concurrent_creates_all_land_with_their_history(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    async def one(i: int) -> httpx.Response:
        actor = desk.tech if i % 2 else desk.user
        return await client.post(
            "/api/v1/incidents", json={"title": f"burst {i}"}, headers=actor.headers
        )

    responses = await asyncio.gather(*(one(i) for i in range(40)))
    assert [r.status_code for r in responses] == [201] * 40
    assert len({r.json()["number"] for r in responses}) == 40
    assert await count_rows(db) == (40, 40)
