"""Incident watchers through the ASGI stack: add, remove, list, permissions and their mails."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from opsdesk.collaboration.models import IncidentWatcher
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.jobs import Job
from opsdesk.core.settings import Settings
from opsdesk.incidents.events import INCIDENT_CHANGED
from opsdesk.incidents.models import IncidentHistory
from opsdesk.notify.mail import MAIL_JOB
from opsdesk.worker.handlers import default_handlers
from opsdesk.worker.runner import Worker
from tests.api.test_collaboration import history_rows, reported_by, resolve, url
from tests.factories import Actor, Desk, create_incident


async def watchers(client: httpx.AsyncClient, actor: Actor, number: str) -> dict[str, Any]:
    response = await client.get(url(number, "watchers"), headers=actor.headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def watch(
    client: httpx.AsyncClient, actor: Actor, number: str, **body: Any
) -> httpx.Response:
    return await client.post(url(number, "watchers"), json=body or None, headers=actor.headers)


async def counts(db: Database) -> tuple[int, int]:
    async with db.read() as session:
        watching = await session.scalar(select(func.count()).select_from(IncidentWatcher))
        history = await session.scalar(select(func.count()).select_from(IncidentHistory))
    return int(watching or 0), int(history or 0)


async def test_staff_add_list_and_remove_watchers_with_history_rows(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    number = await reported_by(client, desk)
    added = await watch(client, desk.tech, number)  # no body: the caller watches
    assert added.status_code == 201, added.text
    assert added.json()["watching"] is True
    other = await watch(client, desk.tech, number, user_id=desk.tech2.id)
    assert other.status_code == 201, other.text
    listed = await watchers(client, desk.manager, number)
    assert listed["watching"] is False
    # Oldest first; the fixed clock gives both one instant, so compare without order.
    assert sorted((w["user_id"], w["created_by"], w["name"]) for w in listed["items"]) == sorted(
        [(desk.tech.id, desk.tech.id, "tech"), (desk.tech2.id, desk.tech.id, "tech2")]
    )
    rows = [r for r in await history_rows(client, desk.user, number) if "watch" in r["action"]]
    assert [r["action"] for r in rows] == ["incident_watch", "incident_watch"]
    assert sorted(r["changes"][0]["new"] for r in rows) == sorted([desk.tech.id, desk.tech2.id])
    assert all(r["changes"][0]["old"] is None for r in rows)

    removed = await client.delete(
        url(number, f"watchers/{desk.tech2.id}"), headers=desk.tech.headers
    )
    assert removed.status_code == 204, removed.text
    assert [w["user_id"] for w in (await watchers(client, desk.tech, number))["items"]] == [
        desk.tech.id
    ]
    rows = await history_rows(client, desk.tech, number)
    assert rows[-1]["action"] == "incident_unwatch"
    assert rows[-1]["changes"] == [{"field": "watcher", "old": desk.tech2.id, "new": None}]


async def test_watching_and_unwatching_twice_writes_nothing_the_second_time(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    number = await reported_by(client, desk)
    assert (await watch(client, desk.user, number)).status_code == 201
    before = await counts(db)
    again = await watch(client, desk.user, number)
    assert again.status_code == 200, again.text
    assert again.json()["watching"] is True
    assert await counts(db) == before
    gone = await client.delete(url(number, f"watchers/{desk.user.id}"), headers=desk.user.headers)
    assert gone.status_code == 204
    after_removal = await counts(db)
    assert after_removal == (before[0] - 1, before[1] + 1)
    gone = await client.delete(url(number, f"watchers/{desk.user.id}"), headers=desk.user.headers)
    assert gone.status_code == 204
    assert await counts(db) == after_removal


async def test_end_users_watch_only_themselves_and_see_only_themselves(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    number = await reported_by(client, desk)
    assert (await watch(client, desk.tech, number)).status_code == 201
    mine = await watchers(client, desk.user, number)
    assert mine == {"watching": False, "items": []}  # the technician is not shown
    assert (await watch(client, desk.user, number, user_id=desk.user.id)).status_code == 201
    mine = await watchers(client, desk.user, number)
    assert mine["watching"] is True and [w["user_id"] for w in mine["items"]] == [desk.user.id]

    before = await counts(db)
    for response in (
        await watch(client, desk.user, number, user_id=desk.tech2.id),
        await client.delete(url(number, f"watchers/{desk.tech.id}"), headers=desk.user.headers),
    ):
        assert response.status_code == 403, response.text
        assert response.json()["error"]["field"] == "user_id"
    # Someone else's incident does not exist for an end user.
    for response in (
        await watch(client, desk.other_user, number),
        await client.get(url(number, "watchers"), headers=desk.other_user.headers),
        await client.delete(
            url(number, f"watchers/{desk.other_user.id}"), headers=desk.other_user.headers
        ),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["field"] == "number"
    assert await counts(db) == before


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"user_id": "0" * 32}, 404, "user_id"),
        ({"user_id": ""}, 422, "user_id"),
        ({"user_id": "x" * 33}, 422, "user_id"),
        ({"user": "someone"}, 422, "user"),
    ],
)
async def test_bad_watcher_input_names_the_field(
    client: httpx.AsyncClient,
    desk: Desk,
    db: Database,
    body: dict[str, Any],
    status: int,
    field: str,
) -> None:
    number = await reported_by(client, desk)
    before = await counts(db)
    response = await client.post(url(number, "watchers"), json=body, headers=desk.tech.headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field
    assert await counts(db) == before


async def test_staff_cannot_make_an_end_user_watch_an_incident_they_cannot_see(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock
) -> None:
    number = await reported_by(client, desk)
    refused = await watch(client, desk.tech, number, user_id=desk.other_user.id)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == "user_id"
    deactivated = await client.delete(f"/api/v1/users/{desk.tech2.id}", headers=desk.admin.headers)
    assert deactivated.status_code == 200
    gone = await watch(client, desk.tech, number, user_id=desk.tech2.id)
    assert gone.status_code == 404 and gone.json()["error"]["field"] == "user_id"
    assert (await watch(client, desk.tech, number, user_id=desk.user.id)).status_code == 201


async def _run_incident_events(db: Database, clock: FixedClock, settings: Settings) -> None:
    """What the worker does with the queued incident events (the mails it queues stay)."""
    handlers = {INCIDENT_CHANGED: default_handlers(settings)[INCIDENT_CHANGED]}
    # One at a time: two events of one incident refreshing its clocks at once race on the
    # first insert of its SLA rows (the loser is retried in production; here it would fail).
    worker = Worker(
        db=db, clock=clock, handlers=handlers, settings=settings, worker_id="t:1", concurrency=1
    )
    async with db.read() as session:
        waiting = await session.scalar(
            select(func.count()).where(Job.kind == INCIDENT_CHANGED, Job.state == "ready")
        )
    assert waiting
    await worker.run_once()


async def _mails(db: Database, event: str) -> list[str]:
    async with db.read() as session:
        rows = await session.scalars(select(Job).where(Job.kind == MAIL_JOB).order_by(Job.id))
        return sorted(job.payload["to"] for job in rows if job.payload["event"] == event)


async def test_watchers_are_mailed_public_replies_and_the_resolution(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock, settings: Settings
) -> None:
    created = await create_incident(client, desk.tech, reporter_id=desk.user.id)
    number = created["number"]
    assert (await watch(client, desk.manager, number)).status_code == 201
    assert (await watch(client, desk.tech, number, user_id=desk.tech2.id)).status_code == 201
    assert (await watch(client, desk.tech2, number, user_id=desk.user.id)).status_code == 201
    stopped = await client.delete(
        url(number, f"watchers/{desk.tech2.id}"), headers=desk.tech2.headers
    )
    assert stopped.status_code == 204
    reply = await client.post(
        url(number, "conversations"), json={"body": "Looking at it"}, headers=desk.tech.headers
    )
    assert reply.status_code == 201, reply.text
    await resolve(client, desk, number)
    await _run_incident_events(db, clock, settings)
    # The reporter watches too but is mailed once; tech2 stopped watching; tech (the actor)
    # is not told about what they did.
    assert await _mails(db, "public_reply") == ["manager@desk.test", "user@desk.test"]
    assert await _mails(db, "resolved") == ["manager@desk.test", "user@desk.test"]


async def test_without_watchers_only_the_reporter_hears_of_the_resolution(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock, settings: Settings
) -> None:
    number = await reported_by(client, desk)
    await resolve(client, desk, number)
    await _run_incident_events(db, clock, settings)
    assert await _mails(db, "resolved") == ["user@desk.test"]
