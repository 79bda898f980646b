"""SLA service against real databases: stored clocks, retroactive recomputation, the sweep."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from opsdesk.assignment import workgroups as assignment_workgroups
from opsdesk.assignment.schemas import WorkgroupCreate
from opsdesk.auth import service as auth
from opsdesk.auth.schemas import UserUpdate
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.jobs import Job
from opsdesk.incidents.lifecycle import Action
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.notify.mail import MAIL_JOB
from opsdesk.sla import clocks as sla_clocks
from opsdesk.sla import configuration as sla_configuration
from opsdesk.sla import sweep as sla_sweep
from opsdesk.sla.models import IncidentSla
from opsdesk.sla.schemas import ActionIn, PolicyIn, ThresholdIn
from tests.api.test_lifecycle_actions import ok, sample_params
from tests.factories import Desk, create_incident

MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)


async def _new(
    client: httpx.AsyncClient, db: Database, desk: Desk, **fields: Any
) -> tuple[int, str]:
    body = await create_incident(
        client, desk.tech, reporter_id=desk.user.id, assignee_id=desk.tech2.id, **fields
    )
    async with db.read() as session:
        found = await session.scalar(select(Incident.id).where(Incident.number == body["number"]))
    assert found is not None
    return int(found), str(body["number"])


async def _refresh(db: Database, incident_id: int, now: datetime) -> dict[str, IncidentSla]:
    async with db.write() as session:
        rows = await sla_clocks.refresh_incident_sla(session, incident_id=incident_id, now=now)
    return {row.target: row for row in rows}


async def _sweep(db: Database, now: datetime) -> sla_sweep.SweepResult:
    async with db.write() as session:
        return await sla_sweep.sweep_sla(session, now=now)


async def _history(db: Database, incident_id: int) -> list[IncidentHistory]:
    async with db.read() as session:
        return list(
            await session.scalars(
                select(IncidentHistory)
                .where(IncidentHistory.incident_id == incident_id)
                .order_by(IncidentHistory.id)
            )
        )


async def _mail_jobs(db: Database) -> list[Job]:
    async with db.read() as session:
        return list(await session.scalars(select(Job).where(Job.kind == MAIL_JOB)))


async def test_defaults_give_a_new_incident_both_clocks(
    client: httpx.AsyncClient, db: Database, desk: Desk, clock: FixedClock
) -> None:
    # Monday 2026-03-02 10:00 UTC; P3 runs on business hours Mon-Fri 09:00-18:00 UTC.
    incident_id, _number = await _new(client, db, desk, level="P3")
    rows = await _refresh(db, incident_id, clock.now())
    assert sorted(rows) == ["resolution", "response"]
    response, resolution = rows["response"], rows["resolution"]
    assert (response.policy, response.calendar, response.goal_s) == (
        "default-p3",
        "business-hours",
        7200,
    )
    assert response.due_at == datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert response.next_at == datetime(2026, 3, 2, 11, 0, tzinfo=UTC)  # the 50 % warning
    assert response.next_percent == 50
    # 27 business hours: Mon 8 h, Tue 9 h, Wed 9 h, then one more hour on Thursday.
    assert resolution.due_at == datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
    assert (resolution.state, resolution.elapsed_s, resolution.acted) == ("running", 0, [])

    # Idempotent: the same instant gives the same rows.
    again = await _refresh(db, incident_id, clock.now())
    assert again["resolution"].due_at == resolution.due_at
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(IncidentSla)) == 2


async def test_a_level_change_recomputes_both_clocks_from_creation(
    client: httpx.AsyncClient, db: Database, desk: Desk, clock: FixedClock
) -> None:
    incident_id, number = await _new(client, db, desk, level="P3")
    await _refresh(db, incident_id, clock.now())
    clock.advance(HOUR)
    response = await client.patch(
        f"/api/v1/incidents/{number}", json={"level": "P1"}, headers=desk.tech.headers
    )
    assert response.status_code == 200, response.text
    rows = await _refresh(db, incident_id, clock.now())
    created = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    # P1: 15 min to accept on 24x7, so it was breached 45 minutes ago; 4 h to resolve.
    assert rows["response"].policy == "default-p1"
    assert rows["response"].breached_at == created + 15 * MIN
    assert rows["response"].due_at == created + 15 * MIN
    assert rows["response"].percent == pytest.approx(400)
    assert rows["resolution"].due_at == created + 4 * HOUR
    # Every threshold already crossed is waiting to be escalated: next_at is in the past.
    assert rows["response"].next_at == created + 7.5 * MIN
    result = await _sweep(db, clock.now())
    assert result.escalations == 1  # only the highest crossed threshold: the breach
    keys = [row.action for row in await _history(db, incident_id)]
    assert keys.count("sla_breach") == 1 and "sla_warning" not in keys


async def test_pause_and_resume_hold_the_resolution_clock(
    client: httpx.AsyncClient, db: Database, desk: Desk, clock: FixedClock
) -> None:
    created = clock.now()
    incident_id, number = await _new(client, db, desk, level="P1")
    clock.advance(5 * MIN)
    await ok(client, desk.tech, number, Action.ACCEPT, {})
    clock.advance(25 * MIN)
    await ok(client, desk.tech, number, Action.PAUSE, sample_params(Action.PAUSE, desk, clock))
    await ok(client, desk.manager, number, Action.APPROVE, {"comment": "ok"})
    clock.advance(HOUR)
    paused = await _refresh(db, incident_id, clock.now())
    assert paused["response"].state == "stopped"
    assert paused["response"].elapsed_s == 300 and paused["response"].breached_at is None
    assert paused["resolution"].state == "paused"
    assert paused["resolution"].paused_s == 3600
    assert paused["resolution"].next_at is None and paused["resolution"].due_at is None
    await ok(client, desk.tech, number, Action.RESUME, {})
    resumed = await _refresh(db, incident_id, clock.now())
    assert resumed["resolution"].state == "running"
    assert resumed["resolution"].elapsed_s == 30 * 60
    assert resumed["resolution"].due_at == created + 5 * HOUR  # 4 h goal + 1 h paused


async def test_a_reopened_incident_runs_on_from_the_time_already_used(
    client: httpx.AsyncClient, db: Database, desk: Desk, clock: FixedClock
) -> None:
    incident_id, number = await _new(client, db, desk, level="P1")
    await ok(client, desk.tech, number, Action.ACCEPT, {})
    clock.advance(HOUR)
    await ok(client, desk.tech, number, Action.RESOLVE, sample_params(Action.RESOLVE, desk, clock))
    clock.advance(2 * HOUR)
    stopped = await _refresh(db, incident_id, clock.now())
    assert stopped["resolution"].state == "stopped"
    assert stopped["resolution"].elapsed_s == 3600 and stopped["resolution"].next_at is None
    await ok(client, desk.user, number, Action.REOPEN, {"reason": "it broke again"})
    running = await _refresh(db, incident_id, clock.now())
    assert running["resolution"].state == "running"
    assert running["resolution"].elapsed_s == 3600
    assert running["resolution"].due_at == clock.now() + 3 * HOUR
    # The 50 % warning (2 h) was not crossed before the resolve: it comes 1 h after reopening.
    assert running["resolution"].next_at == clock.now() + HOUR


async def test_the_sweep_escalates_each_threshold_exactly_once(
    client: httpx.AsyncClient, db: Database, desk: Desk, clock: FixedClock
) -> None:
    created = clock.now()
    incident_id, _number = await _new(client, db, desk, level="P1")
    await _refresh(db, incident_id, created)
    # Nothing is due yet.
    assert (await _sweep(db, created + 7 * MIN)).escalations == 0
    for at, percent in ((7.5, 50.0), (11.25, 75.0), (15, 100.0)):
        now = created + at * MIN
        assert (await _sweep(db, now)).escalations == 1
        for _ in range(3):
            assert (await _sweep(db, now + MIN)).escalations == 0
        async with db.read() as session:
            row = await session.get(IncidentSla, (incident_id, "response"))
            assert row is not None and percent in row.acted
    rows = [r for r in await _history(db, incident_id) if r.action.startswith("sla_")]
    assert [r.action for r in rows] == ["sla_warning", "sla_warning", "sla_breach"]
    assert all(r.operator_id is None for r in rows)
    assert [c["new"] for r in rows for c in r.changes if c["field"] == "sla_percent"] == [
        50.0,
        75.0,
        100.0,
    ]
    # Each crossing queued one notification job; run them: the assignee (tech2) is mailed.
    async with db.write() as session:
        notices = list(await session.scalars(select(Job).where(Job.kind == sla_sweep.NOTIFY_JOB)))
        assert [j.payload["event"] for j in notices] == ["sla_warning", "sla_warning", "sla_breach"]
        for job in notices:
            await sla_sweep.send_notification(session, payload=job.payload, now=clock.now())
            # A repeated job (a retry) queues nothing more.
            await sla_sweep.send_notification(session, payload=job.payload, now=clock.now())
    mails = [j for j in await _mail_jobs(db) if j.payload["event"].startswith("sla_")]
    # Whom each threshold's actions name: 50 % the assignee; 75 % and 100 % the assignee
    # and the incident managers (no workgroup here, so "group" is nobody).
    assert sorted((j.payload["event"], j.payload["to"]) for j in mails) == [
        ("sla_breach", "manager@desk.test"),
        ("sla_breach", "tech2@desk.test"),
        ("sla_warning", "manager@desk.test"),
        ("sla_warning", "tech2@desk.test"),
        ("sla_warning", "tech2@desk.test"),
    ]
    # A recompute after the escalations keeps what was done.
    again = await _refresh(db, incident_id, created + 20 * MIN)
    assert again["response"].acted == [50.0, 75.0, 100.0]
    assert again["response"].next_at is None
    assert (await _sweep(db, created + 20 * MIN)).escalations == 0


async def test_two_concurrent_sweeps_escalate_each_crossing_once(
    client: httpx.AsyncClient, db: Database, desk: Desk, clock: FixedClock
) -> None:
    created = clock.now()
    ids = [(await _new(client, db, desk, level="P1", title=f"disk {n}"))[0] for n in range(12)]
    for incident_id in ids:
        await _refresh(db, incident_id, created)
    second = Database(db.url)
    try:

        async def sweep(database: Database) -> int:
            async with database.write() as session:
                return (
                    await sla_sweep.sweep_sla(session, now=created + 8 * MIN, limit=5)
                ).escalations

        totals = 0
        for _ in range(4):
            a, b = await asyncio.gather(sweep(db), sweep(second))
            totals += a + b
    finally:
        await second.dispose()
    assert totals == 12
    async with db.read() as session:
        warnings = await session.scalar(
            select(func.count())
            .select_from(IncidentHistory)
            .where(IncidentHistory.action == "sla_warning")
        )
    assert warnings == 12


async def test_reassign_and_raise_level_actions(
    client: httpx.AsyncClient, db: Database, desk: Desk, clock: FixedClock
) -> None:
    created = clock.now()
    async with db.write() as session:
        await assignment_workgroups.create_workgroup(
            session=session,
            caller=desk.admin.caller,
            data=WorkgroupCreate(key="network", name="Network", members=[desk.tech.id]),
            now=created,
        )
        await sla_configuration.put_policy(
            session=session,
            caller=desk.admin.caller,
            key="p4-escalating",
            data=PolicyIn(
                name="P4 that escalates",
                order=1,
                calendar="24x7",
                response_s=3600,
                levels=["level_40"],
                thresholds=[
                    ThresholdIn(
                        percent=50, actions=[ActionIn(kind="reassign", workgroup="network")]
                    ),
                    ThresholdIn(percent=100, actions=[ActionIn(kind="raise_level")]),
                ],
            ),
            now=created,
        )
    incident_id, _number = await _new(client, db, desk, level="P4")
    rows = await _refresh(db, incident_id, created)
    assert rows["response"].policy == "p4-escalating" and "resolution" not in rows

    assert (await _sweep(db, created + 30 * MIN)).escalations == 1
    async with db.read() as session:
        incident = await session.get(Incident, incident_id)
        assert incident is not None
        assert incident.workgroup == "network" and incident.assignee_id == desk.tech.id
    assert (await _sweep(db, created + 60 * MIN)).escalations == 1
    async with db.read() as session:
        incident = await session.get(Incident, incident_id)
        assert incident is not None and incident.level == "level_30"
        refresh = await session.scalar(select(Job).where(Job.kind == sla_clocks.REFRESH_JOB))
        assert refresh is not None and refresh.payload == {"incident_id": incident_id}
    keys = [r.action for r in await _history(db, incident_id)]
    assert keys.count("incident_assign") >= 1
    assert keys.count("incident_change_level") == 1
    assert keys.count("sla_warning") == 1 and keys.count("sla_breach") == 1
    # The new level's policy (default P3) takes over on the next refresh.
    after = await _refresh(db, incident_id, created + 61 * MIN)
    assert after["response"].policy == "default-p3"


async def test_a_policy_naming_an_organisation_matches_its_reporters_incidents_only(
    client: httpx.AsyncClient, db: Database, desk: Desk, clock: FixedClock
) -> None:
    created = clock.now()
    async with db.write() as session:
        await auth.update_user(
            session=session,
            caller=desk.admin.caller,
            user_id=desk.user.id,
            data=UserUpdate(organisation="Acme Bank"),
            now=created,
        )
        await auth.update_user(
            session=session,
            caller=desk.admin.caller,
            user_id=desk.other_user.id,
            data=UserUpdate(organisation="Other Corp"),
            now=created,
        )
        await sla_configuration.put_policy(
            session=session,
            caller=desk.admin.caller,
            key="acme-gold",
            data=PolicyIn(
                name="Acme gold",
                order=0,
                calendar="24x7",
                response_s=600,
                organisations=["Acme Bank"],
            ),
            now=created,
        )
    acme_id, _ = await _new(client, db, desk)
    body = await create_incident(
        client, desk.tech, reporter_id=desk.other_user.id, assignee_id=desk.tech2.id
    )
    async with db.read() as session:
        other_id = await session.scalar(
            select(Incident.id).where(Incident.number == body["number"])
        )
    assert other_id is not None
    assert (await _refresh(db, acme_id, created))["response"].policy == "acme-gold"
    assert (await _refresh(db, other_id, created))["response"].policy != "acme-gold"
    # The sweep and a full recompute match on the organisation too (loaded per batch).
    await _sweep(db, created + 11 * MIN)
    async with db.write() as session:
        await sla_clocks.recompute_batch(session, after_id=0, now=created + 12 * MIN)
    async with db.read() as session:
        acme = await session.get(IncidentSla, (acme_id, "response"))
        other = await session.get(IncidentSla, (other_id, "response"))
        assert acme is not None and acme.policy == "acme-gold" and acme.breached_at is not None
        assert other is not None and other.policy != "acme-gold" and other.breached_at is None
