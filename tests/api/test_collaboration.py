"""Conversations, work logs and feedback on incidents, through the ASGI stack."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from opsdesk.collaboration.models import ConversationEntry, Feedback, WorkLogEntry
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.incidents.fields import Status
from opsdesk.incidents.models import IncidentHistory
from tests.factories import Actor, Desk, create_incident


def url(number: str, what: str) -> str:
    return f"/api/v1/incidents/{number}/{what}"


async def act(
    client: httpx.AsyncClient, actor: Actor, number: str, action: str, **params: Any
) -> None:
    response = await client.post(
        url(number, f"actions/{action}"), json=params, headers=actor.headers
    )
    assert response.status_code == 200, response.text


async def resolve(client: httpx.AsyncClient, desk: Desk, number: str) -> None:
    await act(client, desk.tech, number, "accept")
    await act(
        client,
        desk.tech,
        number,
        "resolve",
        cause="Idle timeout on the VPN gateway",
        solution="Raised the idle timeout",
        category="inc_type_p_function_issues",
    )


async def complete(client: httpx.AsyncClient, desk: Desk, number: str) -> None:
    """Resolve, then the reporter (``desk.user``) confirms: the incident is closed."""
    await resolve(client, desk, number)
    await act(client, desk.user, number, "confirm", accepted=True)


async def reported_by(client: httpx.AsyncClient, desk: Desk) -> str:
    """An incident the end user ``desk.user`` reported."""
    created = await create_incident(client, desk.user, title="VPN drops every hour")
    number: str = created["number"]
    return number


async def history_actions(client: httpx.AsyncClient, actor: Actor, number: str) -> list[str]:
    response = await client.get(url(number, "history"), headers=actor.headers)
    assert response.status_code == 200, response.text
    return [row["action"] for row in response.json()]


async def history_rows(client: httpx.AsyncClient, actor: Actor, number: str) -> list[Any]:
    response = await client.get(url(number, "history"), headers=actor.headers)
    assert response.status_code == 200, response.text
    rows: list[Any] = response.json()
    return rows


async def row_counts(db: Database) -> dict[str, int]:
    counts = {}
    async with db.read() as session:
        for name, model in (
            ("conversations", ConversationEntry),
            ("work_logs", WorkLogEntry),
            ("feedback", Feedback),
            ("history", IncidentHistory),
        ):
            counts[name] = await session.scalar(select(func.count()).select_from(model)) or 0
    return counts


async def version_of(client: httpx.AsyncClient, actor: Actor, number: str) -> int:
    response = await client.get(f"/api/v1/incidents/{number}", headers=actor.headers)
    assert response.status_code == 200, response.text
    version: int = response.json()["version"]
    return version


def error_of(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


# --- Conversations ---


async def test_public_reply_reaches_the_reporter_with_one_history_row(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    number = await reported_by(client, desk)
    before = await history_actions(client, desk.tech, number)
    version = await version_of(client, desk.tech, number)
    clock.advance(timedelta(minutes=5))

    response = await client.post(
        url(number, "conversations"),
        json={"body": "  We are looking into it.  "},
        headers=desk.tech.headers,
    )
    assert response.status_code == 201, response.text
    entry = response.json()
    assert set(entry) == {"id", "body", "internal", "author_id", "created_at", "attachment_ids"}
    assert entry["body"] == "We are looking into it."
    assert entry["internal"] is False
    assert entry["author_id"] == desk.tech.id
    assert entry["created_at"].startswith("2026-03-02T10:05:00")

    listed = await client.get(url(number, "conversations"), headers=desk.user.headers)
    assert listed.status_code == 200
    assert listed.json() == [entry]

    rows = await history_rows(client, desk.user, number)
    assert [row["action"] for row in rows] == [*before, "incident_reply"]
    assert rows[-1]["comment"] == "We are looking into it."
    assert rows[-1]["operator_id"] == desk.tech.id
    assert rows[-1]["internal"] is False

    incident = (await client.get(f"/api/v1/incidents/{number}", headers=desk.user.headers)).json()
    assert incident["version"] == version + 1
    assert incident["updated_at"].startswith("2026-03-02T10:05:00")


async def test_reporter_replies_and_the_conversation_is_oldest_first(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    number = await reported_by(client, desk)
    bodies = [(desk.tech, "Please restart the client."), (desk.user, "Restarted, still drops.")]
    for actor, body in bodies:
        clock.advance(timedelta(minutes=1))
        response = await client.post(
            url(number, "conversations"), json={"body": body}, headers=actor.headers
        )
        assert response.status_code == 201, response.text
    listed = (await client.get(url(number, "conversations"), headers=desk.tech.headers)).json()
    assert [(item["author_id"], item["body"]) for item in listed] == [
        (actor.id, body) for actor, body in bodies
    ]


async def test_internal_note_is_hidden_from_the_reporter_everywhere(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    number = await reported_by(client, desk)
    before = await history_actions(client, desk.tech, number)
    clock.advance(timedelta(minutes=1))
    note = await client.post(
        url(number, "conversations"),
        json={"body": "Looks like the firewall again", "internal": True},
        headers=desk.tech.headers,
    )
    assert note.status_code == 201, note.text
    assert note.json()["internal"] is True
    clock.advance(timedelta(minutes=1))
    reply = await client.post(
        url(number, "conversations"), json={"body": "Fixing it now"}, headers=desk.tech.headers
    )
    assert reply.status_code == 201

    staff_view = (await client.get(url(number, "conversations"), headers=desk.tech.headers)).json()
    assert [item["body"] for item in staff_view] == [
        "Looks like the firewall again",
        "Fixing it now",
    ]
    user_view = (await client.get(url(number, "conversations"), headers=desk.user.headers)).json()
    assert [item["body"] for item in user_view] == ["Fixing it now"]

    staff_rows = await history_rows(client, desk.tech, number)
    assert [row["action"] for row in staff_rows] == [*before, "incident_note", "incident_reply"]
    assert staff_rows[-2]["internal"] is True
    assert staff_rows[-2]["comment"] == "Looks like the firewall again"
    user_rows = await history_rows(client, desk.user, number)
    assert [row["action"] for row in user_rows] == [*before, "incident_reply"]
    assert all("firewall" not in row["comment"] for row in user_rows)


async def test_end_user_cannot_post_an_internal_note(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    number = await reported_by(client, desk)
    counts = await row_counts(db)
    response = await client.post(
        url(number, "conversations"),
        json={"body": "let me see the notes", "internal": True},
        headers=desk.user.headers,
    )
    assert response.status_code == 403
    assert error_of(response)["field"] == "internal"
    assert "internal" in error_of(response)["message"]
    assert await row_counts(db) == counts


async def test_another_end_user_gets_404_everywhere(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    number = await reported_by(client, desk)
    await resolve(client, desk, number)
    counts = await row_counts(db)
    stranger = desk.other_user.headers
    requests = [
        client.get(url(number, "conversations"), headers=stranger),
        client.post(url(number, "conversations"), json={"body": "hi"}, headers=stranger),
        client.get(url(number, "worklogs"), headers=stranger),
        client.post(
            url(number, "worklogs"),
            json={"description": "x", "time_spent_minutes": 5},
            headers=stranger,
        ),
        client.get(url(number, "feedback"), headers=stranger),
        client.put(url(number, "feedback"), json={"rating": 1}, headers=stranger),
    ]
    for request in requests:
        response = await request
        assert response.status_code == 404, response.text
        assert error_of(response)["message"] == f"no incident {number}"
    assert await row_counts(db) == counts


async def test_unknown_incident_is_404(client: httpx.AsyncClient, desk: Desk) -> None:
    response = await client.post(
        url("IM000", "conversations"), json={"body": "hi"}, headers=desk.tech.headers
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"body": ""}, "body"),
        ({"body": "   \n "}, "body"),
        ({"body": "x" * 20_001}, "body"),
        ({}, "body"),
        ({"body": "hi", "internal": "maybe"}, "internal"),
        ({"body": "hi", "visibility": "public"}, "visibility"),
    ],
)
async def test_conversation_body_is_validated(
    client: httpx.AsyncClient, desk: Desk, db: Database, body: dict[str, Any], field: str
) -> None:
    number = await reported_by(client, desk)
    counts = await row_counts(db)
    response = await client.post(url(number, "conversations"), json=body, headers=desk.tech.headers)
    assert response.status_code == 422, response.text
    assert error_of(response)["field"] == field
    assert error_of(response)["message"].startswith(f"{field}: ")
    assert await row_counts(db) == counts


async def test_longest_body_is_accepted(client: httpx.AsyncClient, desk: Desk) -> None:
    number = await reported_by(client, desk)
    response = await client.post(
        url(number, "conversations"), json={"body": "x" * 20_000}, headers=desk.tech.headers
    )
    assert response.status_code == 201


async def test_completed_incident_refuses_replies_notes_and_work_logs(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    number = await reported_by(client, desk)
    await complete(client, desk, number)
    counts = await row_counts(db)
    version = await version_of(client, desk.tech, number)
    attempts = [
        (desk.user, "conversations", {"body": "still broken"}),
        (desk.tech, "conversations", {"body": "closing remark"}),
        (desk.tech, "conversations", {"body": "note", "internal": True}),
        (desk.tech, "worklogs", {"description": "late entry", "time_spent_minutes": 10}),
    ]
    for actor, what, body in attempts:
        response = await client.post(url(number, what), json=body, headers=actor.headers)
        assert response.status_code == 409, response.text
        assert "reopen it first" in error_of(response)["message"]
        assert error_of(response)["field"] == "status"
    assert await row_counts(db) == counts
    assert await version_of(client, desk.tech, number) == version


async def test_conversations_need_a_caller(client: httpx.AsyncClient, desk: Desk) -> None:
    number = await reported_by(client, desk)
    response = await client.get(url(number, "conversations"))
    assert response.status_code == 401


# --- Work logs ---


async def test_work_logs_add_up_and_stay_internal(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock, db: Database
) -> None:
    number = await reported_by(client, desk)
    before = await history_actions(client, desk.tech, number)
    clock.advance(timedelta(hours=1))
    first = await client.post(
        url(number, "worklogs"),
        json={
            "description": "Traced the drops to the firewall",
            "time_spent_minutes": 45,
            "started_at": "2026-03-02T10:10:00+00:00",
        },
        headers=desk.tech.headers,
    )
    assert first.status_code == 201, first.text
    entry = first.json()
    assert set(entry) == {
        "id",
        "description",
        "time_spent_minutes",
        "started_at",
        "author_id",
        "created_at",
    }
    assert entry["time_spent_minutes"] == 45
    assert entry["started_at"].startswith("2026-03-02T10:10:00")
    assert entry["author_id"] == desk.tech.id
    assert entry["created_at"].startswith("2026-03-02T11:00:00")
    clock.advance(timedelta(minutes=30))
    second = await client.post(
        url(number, "worklogs"),
        json={"description": "Raised the idle timeout", "time_spent_minutes": 30},
        headers=desk.tech2.headers,
    )
    assert second.status_code == 201, second.text
    assert second.json()["started_at"] is None

    listed = await client.get(url(number, "worklogs"), headers=desk.manager.headers)
    assert listed.status_code == 200
    assert listed.json() == {"items": [entry, second.json()], "total_minutes": 75}

    async with db.read() as session:
        seconds = list(await session.scalars(select(WorkLogEntry.time_spent_s)))
    assert sorted(seconds) == [30 * 60, 45 * 60]

    staff_rows = await history_rows(client, desk.tech, number)
    assert [row["action"] for row in staff_rows] == [
        *before,
        "incident_work_log",
        "incident_work_log",
    ]
    assert staff_rows[-2]["comment"] == "45 min: Traced the drops to the firewall"
    assert staff_rows[-1]["comment"] == "30 min: Raised the idle timeout"
    assert all(row["internal"] for row in staff_rows[-2:])
    assert await history_actions(client, desk.user, number) == before


async def test_empty_work_log_totals_zero(client: httpx.AsyncClient, desk: Desk) -> None:
    number = await reported_by(client, desk)
    listed = await client.get(url(number, "worklogs"), headers=desk.tech.headers)
    assert listed.json() == {"items": [], "total_minutes": 0}


async def test_end_user_cannot_see_or_post_work_logs(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    number = await reported_by(client, desk)
    logged = await client.post(
        url(number, "worklogs"),
        json={"description": "Checked logs", "time_spent_minutes": 5},
        headers=desk.tech.headers,
    )
    assert logged.status_code == 201
    counts = await row_counts(db)
    listed = await client.get(url(number, "worklogs"), headers=desk.user.headers)
    assert listed.status_code == 403
    assert "staff" in error_of(listed)["message"]
    posted = await client.post(
        url(number, "worklogs"),
        json={"description": "I tried rebooting", "time_spent_minutes": 5},
        headers=desk.user.headers,
    )
    assert posted.status_code == 403
    assert await row_counts(db) == counts


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"description": "x", "time_spent_minutes": 0}, "time_spent_minutes"),
        ({"description": "x", "time_spent_minutes": 10_081}, "time_spent_minutes"),
        ({"description": "x", "time_spent_minutes": "45"}, "time_spent_minutes"),
        ({"description": "x", "time_spent_minutes": 1.5}, "time_spent_minutes"),
        ({"description": "x"}, "time_spent_minutes"),
        ({"description": " ", "time_spent_minutes": 5}, "description"),
        ({"description": "x" * 10_001, "time_spent_minutes": 5}, "description"),
        (
            {"description": "x", "time_spent_minutes": 5, "started_at": "2026-03-02T09:00:00"},
            "started_at",
        ),
        (
            {"description": "x", "time_spent_minutes": 5, "started_at": "2026-03-02T10:06:00Z"},
            "started_at",
        ),
        ({"description": "x", "time_spent_minutes": 5, "hours": 1}, "hours"),
    ],
)
async def test_work_log_body_is_validated(
    client: httpx.AsyncClient, desk: Desk, db: Database, body: dict[str, Any], field: str
) -> None:
    number = await reported_by(client, desk)
    counts = await row_counts(db)
    response = await client.post(url(number, "worklogs"), json=body, headers=desk.tech.headers)
    assert response.status_code == 422, response.text
    assert error_of(response)["field"] == field
    assert await row_counts(db) == counts


async def test_work_log_limits_and_clock_skew_are_accepted(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    number = await reported_by(client, desk)
    for minutes, started_at in ((1, "2026-03-02T10:04:00Z"), (10_080, "2026-02-23T10:00:00Z")):
        response = await client.post(
            url(number, "worklogs"),
            json={"description": "edge", "time_spent_minutes": minutes, "started_at": started_at},
            headers=desk.tech.headers,
        )
        assert response.status_code == 201, response.text
    listed = (await client.get(url(number, "worklogs"), headers=desk.tech.headers)).json()
    assert listed["total_minutes"] == 10_081


# --- Feedback ---


@pytest.mark.parametrize("rating", [0, 6, -1, True, "4", 4.5, None])
async def test_feedback_rating_is_1_to_5(
    client: httpx.AsyncClient, desk: Desk, db: Database, rating: Any
) -> None:
    number = await reported_by(client, desk)
    await resolve(client, desk, number)
    counts = await row_counts(db)
    response = await client.put(
        url(number, "feedback"), json={"rating": rating}, headers=desk.user.headers
    )
    assert response.status_code == 422, response.text
    assert error_of(response)["field"] == "rating"
    assert error_of(response)["message"].startswith("rating: ")
    assert await row_counts(db) == counts


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rating": 4, "comment": "x" * 2001}, "comment"),
        ({"rating": 4, "stars": 4}, "stars"),
        ({"comment": "no rating"}, "rating"),
    ],
)
async def test_feedback_body_is_validated(
    client: httpx.AsyncClient, desk: Desk, db: Database, body: dict[str, Any], field: str
) -> None:
    number = await reported_by(client, desk)
    await resolve(client, desk, number)
    response = await client.put(url(number, "feedback"), json=body, headers=desk.user.headers)
    assert response.status_code == 422, response.text
    assert error_of(response)["field"] == field


async def test_reporter_rates_a_resolved_incident_and_may_change_the_answer(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock
) -> None:
    number = await reported_by(client, desk)
    await resolve(client, desk, number)
    before = await history_actions(client, desk.user, number)
    clock.advance(timedelta(hours=1))
    first = await client.put(
        url(number, "feedback"),
        json={"rating": 4, "comment": "quick fix"},
        headers=desk.user.headers,
    )
    assert first.status_code == 200, first.text
    given = first.json()
    assert given == {
        "rating": 4,
        "comment": "quick fix",
        "reporter_id": desk.user.id,
        "created_at": given["created_at"],
        "updated_at": given["created_at"],
    }
    assert given["created_at"].startswith("2026-03-02T11:00:00")

    clock.advance(timedelta(hours=1))
    second = await client.put(
        url(number, "feedback"), json={"rating": 2}, headers=desk.user.headers
    )
    assert second.status_code == 200, second.text
    changed = second.json()
    assert (changed["rating"], changed["comment"]) == (2, "")
    assert changed["created_at"] == given["created_at"]
    assert changed["updated_at"].startswith("2026-03-02T12:00:00")

    for reader in (desk.user, desk.tech, desk.admin):
        fetched = await client.get(url(number, "feedback"), headers=reader.headers)
        assert fetched.status_code == 200
        assert fetched.json() == changed
    assert (await row_counts(db))["feedback"] == 1

    rows = await history_rows(client, desk.user, number)
    assert [row["action"] for row in rows] == [*before, "incident_feedback", "incident_feedback"]
    assert [row["comment"] for row in rows[-2:]] == ["rating 4/5: quick fix", "rating 2/5"]
    assert all(row["operator_id"] == desk.user.id for row in rows[-2:])


async def test_feedback_is_taken_on_completed_incidents_too(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    number = await reported_by(client, desk)
    await complete(client, desk, number)
    response = await client.put(
        url(number, "feedback"), json={"rating": 5}, headers=desk.user.headers
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("steps", "status"),
    [
        ([], Status.TRIGGERED),
        ([("accept", {})], Status.ACKNOWLEDGED),
        ([("reject", {"reason": "duplicate"})], Status.REJECTED),
    ],
)
async def test_feedback_waits_for_resolution(
    client: httpx.AsyncClient,
    desk: Desk,
    db: Database,
    steps: list[tuple[str, dict[str, Any]]],
    status: Status,
) -> None:
    number = await reported_by(client, desk)
    for action, params in steps:
        await act(client, desk.tech, number, action, **params)
    counts = await row_counts(db)
    response = await client.put(
        url(number, "feedback"), json={"rating": 5}, headers=desk.user.headers
    )
    assert response.status_code == 409, response.text
    assert str(status) in error_of(response)["message"]
    assert error_of(response)["field"] == "status"
    assert await row_counts(db) == counts


async def test_only_the_reporter_gives_feedback(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    # Staff created it on the reporter's behalf: creating it does not make them the reporter.
    created = await create_incident(client, desk.tech, reporter_id=desk.user.id)
    number = created["number"]
    await resolve(client, desk, number)
    counts = await row_counts(db)
    for actor in (desk.tech, desk.manager, desk.admin):
        response = await client.put(
            url(number, "feedback"), json={"rating": 5}, headers=actor.headers
        )
        assert response.status_code == 403, response.text
        assert "only the reporter" in error_of(response)["message"]
    assert await row_counts(db) == counts
    response = await client.put(
        url(number, "feedback"), json={"rating": 5}, headers=desk.user.headers
    )
    assert response.status_code == 200


async def test_creator_who_is_not_the_reporter_may_neither_give_nor_read_feedback(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    # An end user sees incidents they created; feedback still belongs to the reporter alone.
    number = await reported_by(client, desk)
    moved = await client.patch(
        f"/api/v1/incidents/{number}",
        json={"reporter_id": desk.other_user.id},
        headers=desk.tech.headers,
    )
    assert moved.status_code == 200, moved.text
    await resolve(client, desk, number)
    refused = await client.put(
        url(number, "feedback"), json={"rating": 5}, headers=desk.user.headers
    )
    assert refused.status_code == 403
    given = await client.put(
        url(number, "feedback"), json={"rating": 5}, headers=desk.other_user.headers
    )
    assert given.status_code == 200, given.text
    unread = await client.get(url(number, "feedback"), headers=desk.user.headers)
    assert unread.status_code == 403


async def test_feedback_not_yet_given_is_404(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    number = await reported_by(client, desk)
    await resolve(client, desk, number)
    for reader in (desk.user, desk.tech):
        response = await client.get(url(number, "feedback"), headers=reader.headers)
        assert response.status_code == 404
        assert error_of(response)["message"] == f"incident {number} has no feedback yet"


# --- Automation steps ---


def step_body(clock: FixedClock, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "step_id": "restart-pod",
        "name_en": "Restart pod: succeeded",
        "name_zh": "重启实例成功",
        "outcome": "succeeded",
        "started_at": (clock.now() - timedelta(minutes=2)).isoformat(),
        "finished_at": (clock.now() - timedelta(minutes=1)).isoformat(),
        "comment": "pod web-1 restarted",
    }
    body.update(overrides)
    return body


async def test_automation_step_is_a_history_row_at_its_own_time(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    number = await reported_by(client, desk)
    clock.advance(timedelta(minutes=5))
    before = await version_of(client, desk.tech, number)
    response = await client.post(
        url(number, "automation-steps"), json=step_body(clock), headers=desk.tech.headers
    )
    assert response.status_code == 201, response.text
    out = response.json()
    assert (out["step_id"], out["outcome"], out["name_zh"]) == (
        "restart-pod",
        "succeeded",
        "重启实例成功",
    )
    assert await version_of(client, desk.tech, number) == before + 1
    rows = await history_rows(client, desk.tech, number)
    step = rows[-1]
    assert step["action"] == "automation_step"
    assert step["action_name_en"] == "Restart pod: succeeded"
    assert step["stop_time_ms"] - step["start_time_ms"] == 60_000
    assert step["comment"] == "pod web-1 restarted"
    # The reporter sees it too: it is part of what happened to their incident.
    assert "automation_step" in await history_actions(client, desk.user, number)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"step_id": "bad id with spaces"}, "step_id"),
        ({"step_id": "x" * 65}, "step_id"),
        ({"name_en": ""}, "name_en"),
        ({"outcome": "exploded"}, "outcome"),
        ({"comment": "c" * 256}, "comment"),
        ({"finished_at": None}, "finished_at"),
        ({"started_at": "2026-03-02T09:00:00+00:00"}, "started_at"),  # before the incident
        ({"started_at": "2026-03-02T11:00:00+00:00"}, "started_at"),  # in the future
        ({"finished_at": "2026-03-02T10:00:30+00:00"}, "finished_at"),  # before started_at
        ({"started_at": "2026-03-02T10:01:00"}, "started_at"),  # no time zone
        ({"unknown": 1}, "unknown"),
    ],
)
async def test_bad_automation_steps_are_refused_and_store_nothing(
    client: httpx.AsyncClient,
    desk: Desk,
    clock: FixedClock,
    db: Database,
    overrides: dict[str, Any],
    field: str,
) -> None:
    number = await reported_by(client, desk)
    clock.advance(timedelta(minutes=5))
    body = step_body(
        clock,
        started_at="2026-03-02T10:01:00+00:00",
        finished_at="2026-03-02T10:02:00+00:00",
    )
    body.update(overrides)
    counts = await row_counts(db)
    response = await client.post(
        url(number, "automation-steps"), json=body, headers=desk.tech.headers
    )
    assert response.status_code == 422, response.text
    assert field in response.text
    assert await row_counts(db) == counts


async def test_running_step_needs_no_finish_and_end_users_cannot_report_steps(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    number = await reported_by(client, desk)
    clock.advance(timedelta(minutes=5))
    running = step_body(clock, outcome="running", finished_at=None)
    response = await client.post(
        url(number, "automation-steps"), json=running, headers=desk.tech.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["finished_at"] is None
    refused = await client.post(
        url(number, "automation-steps"), json=running, headers=desk.user.headers
    )
    assert refused.status_code == 403
