"""Major incidents and war rooms through the HTTP API: declare, team, paging rows, war-room
statuses and timeline, children, permissions, bad input, and the rules the worker applies
(P1, alert storm) and its update reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from opsdesk.core import jobs
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from opsdesk.desk import queues
from opsdesk.notify.mail import MAIL_JOB
from opsdesk.worker.handlers import default_handlers
from opsdesk.worker.runner import Worker
from tests.api.test_alerts import am_alert, am_payload, make_integration
from tests.factories import Desk, create_incident


async def _run_worker(db: Database, clock: FixedClock, settings: Settings) -> None:
    handlers = default_handlers(settings)
    handlers.pop(MAIL_JOB)  # mails stay queued: these tests read the queue
    worker = Worker(db=db, clock=clock, handlers=handlers, settings=settings)
    try:
        await worker.ensure_recurring()
        while await worker.run_once():
            pass
    finally:
        await worker.close()


async def _mails(db: Database, event: str) -> list[str]:
    async with db.read() as session:
        rows = await session.scalars(select(jobs.Job).where(jobs.Job.kind == MAIL_JOB))
        return sorted(row.payload["to"] for row in rows if row.payload.get("event") == event)


async def _payloads(db: Database, event: str) -> list[dict[str, Any]]:
    async with db.read() as session:
        rows = await session.scalars(select(jobs.Job).where(jobs.Job.kind == MAIL_JOB))
        return [dict(row.payload) for row in rows if row.payload.get("event") == event]


def _names_the_incident(mail: dict[str, Any], number: str) -> bool:
    """The incident's number in the subject (the [#NUMBER] tag replies are matched by) and
    in both bodies."""
    return mail["subject"].startswith(f"[#{number}] ") and all(
        number in mail[part] for part in ("text", "html")
    )


async def _workgroup(client: httpx.AsyncClient, desk: Desk, key: str, members: list[str]) -> None:
    response = await client.post(
        "/api/v1/workgroups",
        json={"key": key, "name": key, "members": members},
        headers=desk.admin.headers,
    )
    assert response.status_code == 201, response.text


async def _declare(
    client: httpx.AsyncClient, desk: Desk, number: str, **body: Any
) -> httpx.Response:
    return await client.post(
        f"/api/v1/incidents/{number}/major", json=body, headers=desk.tech.headers
    )


async def test_declare_assembles_pages_and_downgrades(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    await _workgroup(client, desk, "webops", [desk.tech2.id])
    number = (await create_incident(client, desk.tech, title="Website down", level="P2"))["number"]
    declared = await _declare(
        client,
        desk,
        number,
        reason="external website down",
        manager_id=desk.manager.id,
        technical_workgroups=["webops"],
    )
    assert declared.status_code == 201, declared.text
    body = declared.json()
    assert body["active"] and body["how"] == "manual" and body["manager_id"] == desk.manager.id
    team = {(m["user_id"], m["role"], m["source"]) for m in body["team"]}
    assert team == {
        (desk.manager.id, "incident_manager", "declaration"),
        (desk.tech2.id, "technical_lead", "workgroup:webops"),
    }
    assert all(m["paged_at"] is not None for m in body["team"])
    assert body["war_room_status"] == "started" and body["war_room_number"].startswith("WR")
    assert body["update_due_at"] is not None  # P2: every 30 minutes by default
    # Paged through the notification path: one mail per member, in the outbox.
    assert await _mails(db, "major_paged") == ["manager@desk.test", "tech2@desk.test"]
    paged = {mail["to"]: mail for mail in await _payloads(db, "major_paged")}
    for address, role in (
        ("manager@desk.test", "incident manager"),
        ("tech2@desk.test", "technical lead"),
    ):
        mail = paged[address]
        assert _names_the_incident(mail, number), mail["subject"]
        assert mail["subject"] == f"[#{number}] Major incident: you are {role} for Website down"
        assert f"Incident {number} is a major incident" in mail["text"]
    # Idempotent: declaring again changes nothing.
    again = await _declare(client, desk, number, reason="again")
    assert again.status_code == 200 and again.json()["reason"] == "external website down"
    assert await _mails(db, "major_paged") == ["manager@desk.test", "tech2@desk.test"]
    incident = await client.get(f"/api/v1/incidents/{number}", headers=desk.tech.headers)
    assert incident.json()["major"] is True
    history = await client.get(f"/api/v1/incidents/{number}/history", headers=desk.tech.headers)
    assert "Declared major incident (by hand): external website down" in history.text

    # Only the paged person acknowledges their page.
    member = next(m for m in body["team"] if m["user_id"] == desk.tech2.id)
    url = f"/api/v1/incidents/{number}/major/team/{member['id']}/ack"
    assert (await client.post(url, headers=desk.tech.headers)).status_code == 403
    acked = await client.post(url, headers=desk.tech2.headers)
    assert acked.status_code == 200 and acked.json()["acknowledged_at"] is not None

    # Team: a technician who is not the manager may not change it; the manager may.
    team_url = f"/api/v1/incidents/{number}/major/team"
    add = {"user_id": desk.tech.id, "role": "communications_lead"}
    assert (await client.post(team_url, json=add, headers=desk.tech.headers)).status_code == 403
    added = await client.post(team_url, json=add, headers=desk.manager.headers)
    assert added.status_code == 201, added.text
    twice = await client.post(team_url, json=add, headers=desk.manager.headers)
    assert twice.status_code == 409 and "user_id" in twice.text
    bad_role = await client.post(
        team_url, json={"user_id": desk.tech.id, "role": "mascot"}, headers=desk.manager.headers
    )
    assert bad_role.status_code == 422 and "role" in bad_role.text
    end_user = await client.post(
        team_url,
        json={"user_id": desk.user.id, "role": "technical_lead"},
        headers=desk.manager.headers,
    )
    assert end_user.status_code == 422 and "user_id" in end_user.text
    comms = next(m for m in added.json() if m["role"] == "communications_lead")
    removed = await client.delete(f"{team_url}/{comms['id']}", headers=desk.manager.headers)
    assert removed.status_code == 204
    listed = await client.get(team_url, headers=desk.tech.headers)
    assert {m["role"] for m in listed.json()} == {"incident_manager", "technical_lead"}

    # The major-incidents queue holds it.
    async with db.read() as session:
        page = await queues.list_queue(
            session=session,
            caller=desk.tech.caller,
            request=queues.QueueRequest(queue=queues.Queue.MAJOR, filters=queues.parse_filters({})),
            now=datetime.now(UTC),
        )
    assert [item.number for item in page.items] == [number]

    # Downgrade: incident managers (or the major manager) only.
    url = f"/api/v1/incidents/{number}/major"
    assert (await client.delete(url, headers=desk.tech.headers)).status_code == 403
    # Who is asking first, then the reason, which the war room and the history keep.
    for blank in ({}, {"reason": "  "}):
        refused = await client.delete(url, params=blank, headers=desk.manager.headers)
        assert refused.status_code == 422 and refused.json()["error"]["field"] == "reason"
    assert (await client.get(url, headers=desk.tech.headers)).json()["active"] is True
    down = await client.delete(url, params={"reason": "false alarm"}, headers=desk.manager.headers)
    assert down.status_code == 200 and down.json()["active"] is False
    assert down.json()["downgrade_reason"] == "false alarm"
    incident = await client.get(f"/api/v1/incidents/{number}", headers=desk.tech.headers)
    assert incident.json()["major"] is False


async def test_downgrade_closes_the_war_room_and_its_timeline_says_why(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    number = (await create_incident(client, desk.tech, title="Login slow", level="P2"))["number"]
    declared = await _declare(client, desk, number, reason="logins time out")
    assert declared.status_code == 201, declared.text
    room_url = f"/api/v1/war-rooms/{declared.json()['war_room_id']}"
    moved = await client.patch(
        room_url, json={"status": "fault_delimitation"}, headers=desk.manager.headers
    )
    assert moved.status_code == 200, moved.text
    clock.advance(timedelta(minutes=3))

    # No fault cause or impact was written: a downgraded incident's room closes all the same.
    url = f"/api/v1/incidents/{number}/major"
    reason = "a slow health check, not an outage"
    down = await client.delete(url, params={"reason": reason}, headers=desk.manager.headers)
    assert down.status_code == 200, down.text
    assert down.json()["active"] is False and down.json()["war_room_id"] is None
    room = (await client.get(room_url, headers=desk.tech.headers)).json()
    assert room["status"] == "closed" and room["closed_at"] is not None
    timeline = (await client.get(f"{room_url}/timeline", headers=desk.tech.headers)).json()
    last = timeline[-1]
    assert (last["kind"], last["status_from"], last["status_to"]) == (
        "status",
        "fault_delimitation",
        "closed",
    )
    assert last["body"] == f"Downgraded from major incident: {reason}"
    assert last["author_id"] == desk.manager.id
    history = await client.get(f"/api/v1/incidents/{number}/history", headers=desk.tech.headers)
    assert (
        f"Fault delimitation → WarRoom closed: Downgraded from major incident: {reason}"
        in history.text
    )
    closed_note = await client.post(
        f"{room_url}/timeline", json={"body": "anyone?"}, headers=desk.tech.headers
    )
    assert closed_note.status_code == 422 and "war_room_id" in closed_note.text
    listed = await client.get(
        "/api/v1/war-rooms", params={"status": "closed"}, headers=desk.tech.headers
    )
    assert [r["number"] for r in listed.json()["items"]] == [room["number"]]

    # Declared again, it gets a new room; a downgrade without a reason is refused and the
    # room stays open.
    again = await _declare(client, desk, number, reason="logins fail now")
    assert again.status_code == 201, again.text
    second_url = f"/api/v1/war-rooms/{again.json()['war_room_id']}"
    assert second_url != room_url
    assert (await client.delete(url, headers=desk.manager.headers)).status_code == 422
    assert (await client.get(second_url, headers=desk.tech.headers)).json()["status"] != "closed"
    down = await client.delete(url, params={"reason": "recovered"}, headers=desk.manager.headers)
    assert down.status_code == 200
    second = (await client.get(second_url, headers=desk.tech.headers)).json()
    assert second["status"] == "closed"
    entries = (await client.get(f"{second_url}/timeline", headers=desk.tech.headers)).json()
    assert (entries[-1]["status_to"], entries[-1]["body"]) == (
        "closed",
        "Downgraded from major incident: recovered",
    )


async def test_war_room_statuses_timeline_and_children(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    number = (await create_incident(client, desk.tech, title="Checkout fails", level="P2"))[
        "number"
    ]
    created = await client.post(
        "/api/v1/war-rooms",
        json={"incident_number": number, "title": "Checkout bridge", "manager_id": desk.manager.id},
        headers=desk.tech.headers,
    )
    assert created.status_code == 201, created.text
    room = created.json()
    assert (room["status"], room["title"]) == ("started", "Checkout bridge")
    again = await client.post(
        "/api/v1/war-rooms", json={"incident_number": number}, headers=desk.tech.headers
    )
    assert again.status_code == 409 and "incident_number" in again.text
    url = f"/api/v1/war-rooms/{room['id']}"
    # A technician who is not the manager may not move it; the manager may.
    move = {"status": "fault_delimitation", "note": "narrowed to the payment API"}
    assert (await client.patch(url, json=move, headers=desk.tech.headers)).status_code == 403
    moved = await client.patch(url, json=move, headers=desk.manager.headers)
    assert moved.status_code == 200 and moved.json()["status"] == "fault_delimitation"
    bad = await client.patch(url, json={"status": "exploded"}, headers=desk.manager.headers)
    assert bad.status_code == 422 and "status" in bad.text
    back = await client.patch(url, json={"status": "started"}, headers=desk.manager.headers)
    assert back.status_code == 422 and "cannot go from fault_delimitation" in back.text
    clock.advance(timedelta(minutes=5))
    note = await client.post(
        f"{url}/timeline", json={"body": "failing over to site B"}, headers=desk.tech.headers
    )
    assert note.status_code == 201, note.text
    empty = await client.post(f"{url}/timeline", json={"body": ""}, headers=desk.tech.headers)
    assert empty.status_code == 422 and "body" in empty.text
    recovered = await client.patch(url, json={"status": "recovered"}, headers=desk.manager.headers)
    assert recovered.json()["recovered_at"] is not None
    closing = await client.patch(url, json={"status": "closed"}, headers=desk.manager.headers)
    assert closing.status_code == 422 and "fault_cause" in closing.text
    closed = await client.patch(
        url,
        json={"status": "closed", "fault_cause": "expired cert", "fault_impact": "no checkout"},
        headers=desk.manager.headers,
    )
    assert closed.status_code == 200 and closed.json()["closed_at"] is not None
    timeline = (await client.get(f"{url}/timeline", headers=desk.tech.headers)).json()
    assert [e["kind"] for e in timeline if e["kind"] != "member"] == [
        "created",
        "status",
        "note",
        "status",
        "status",
    ]
    history = await client.get(f"/api/v1/incidents/{number}/history", headers=desk.tech.headers)
    assert "Fault delimitation → Fault recovered" in history.text

    # Child incidents: linked through relations' parent/child.
    child = (await create_incident(client, desk.tech, title="Checkout error for a shop"))["number"]
    linked = await client.post(f"{url}/children", json={"number": child}, headers=desk.tech.headers)
    assert linked.status_code == 201, linked.text
    links = await client.get(f"/api/v1/incidents/{number}/links", headers=desk.tech.headers)
    assert [c["number"] for c in links.json()["children"]] == [child]
    listed = await client.get(
        "/api/v1/war-rooms", params={"status": "closed"}, headers=desk.tech.headers
    )
    assert [r["number"] for r in listed.json()["items"]] == [room["number"]]
    assert (
        await client.get("/api/v1/war-rooms/999999", headers=desk.tech.headers)
    ).status_code == 404


async def test_end_users_and_unknown_incidents(client: httpx.AsyncClient, desk: Desk) -> None:
    mine = (await create_incident(client, desk.user, title="My laptop"))["number"]
    for method, url, body in (
        ("POST", f"/api/v1/incidents/{mine}/major", {}),
        ("GET", f"/api/v1/incidents/{mine}/major", None),
        ("GET", "/api/v1/war-rooms", None),
        ("POST", "/api/v1/war-rooms", {"incident_number": mine}),
    ):
        answer = await client.request(method, url, json=body, headers=desk.user.headers)
        assert answer.status_code == 403, (url, answer.text)
    coc = await client.post("/v1/external/warrooms/list", json={}, headers=desk.user.headers)
    assert (coc.status_code, coc.json()["error_code"]) == (400, "GOM.10000403")  # COC's way
    missing = await _declare(client, desk, "INC00000000000000")
    assert missing.status_code == 404
    never = await client.get(f"/api/v1/incidents/{mine}/major", headers=desk.tech.headers)
    assert never.status_code == 404
    bad = await _declare(client, desk, mine, manager_id=desk.user.id)
    assert bad.status_code == 422 and "manager_id" in bad.text
    shift = await _declare(client, desk, mine, technical_shifts=[{"scene": "noc", "role": "ghost"}])
    assert shift.status_code == 422 and "technical_shifts.0" in shift.text


async def test_rules_declare_p1_and_alert_storms_and_remind_the_manager(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock, settings: Settings
) -> None:
    rules = settings.model_copy(
        update={"major_auto_levels": "P1", "major_alert_storm": 5, "major_update_minutes": "P1=15"}
    )
    p1 = (await create_incident(client, desk.tech, title="Core network down", level="P1"))["number"]
    p3 = (await create_incident(client, desk.tech, title="Printer jam", level="P3"))["number"]
    await _run_worker(db, clock, rules)
    major = await client.get(f"/api/v1/incidents/{p1}/major", headers=desk.tech.headers)
    assert major.status_code == 200, major.text
    assert (major.json()["how"], major.json()["rule"]) == ("rule", "level")
    assert major.json()["manager_id"] == desk.manager.id  # the first incident manager
    assert (
        await client.get(f"/api/v1/incidents/{p3}/major", headers=desk.tech.headers)
    ).status_code == 404

    # Reminders: none before 15 minutes; one after; a note resets the clock.
    await _run_worker(db, clock, rules)
    assert await _mails(db, "major_update_due") == []
    clock.advance(timedelta(minutes=16))
    await _run_worker(db, clock, rules)
    assert await _mails(db, "major_update_due") == ["manager@desk.test"]
    (due,) = await _payloads(db, "major_update_due")
    assert _names_the_incident(due, p1), due["subject"]
    assert due["subject"].endswith(
        "Update due: no update on major incident Core network down for 15 minutes"
    )
    assert f"No update has been posted on major incident {p1} for 15 minutes" in due["text"]
    await _run_worker(db, clock, rules)
    assert len(await _mails(db, "major_update_due")) == 1  # once per interval
    room = major.json()["war_room_id"]
    note = await client.post(
        f"/api/v1/war-rooms/{room}/timeline",
        json={"body": "ISP engaged"},
        headers=desk.tech.headers,
    )
    assert note.status_code == 201
    clock.advance(timedelta(minutes=10))
    await _run_worker(db, clock, rules)
    assert len(await _mails(db, "major_update_due")) == 1
    clock.advance(timedelta(minutes=6))
    await _run_worker(db, clock, rules)
    assert len(await _mails(db, "major_update_due")) == 2
    # A stakeholder update (status page) counts as an update too: posted 10 minutes after
    # the last reminder, it moves the next one from 15 to 25 minutes after that reminder.
    clock.advance(timedelta(minutes=10))
    posted = await client.post(
        "/api/v1/status-updates",
        json={
            "incident": p1,
            "state": "identified",
            "title": "Network trouble",
            "message": "A provider link is down; traffic is being moved.",
        },
        headers=desk.tech.headers,
    )
    assert posted.status_code == 201, posted.text
    clock.advance(timedelta(minutes=6))
    await _run_worker(db, clock, rules)
    assert len(await _mails(db, "major_update_due")) == 2
    clock.advance(timedelta(minutes=10))
    await _run_worker(db, clock, rules)
    assert len(await _mails(db, "major_update_due")) == 3

    # A downgraded incident is not declared again by a rule.
    downgraded = await client.delete(
        f"/api/v1/incidents/{p1}/major",
        params={"reason": "one site only"},
        headers=desk.manager.headers,
    )
    assert downgraded.status_code == 200, downgraded.text
    await client.patch(
        f"/api/v1/incidents/{p1}",
        json={"title": "Core network down (site A)"},
        headers=desk.tech.headers,
    )
    await _run_worker(db, clock, rules)
    again = await client.get(f"/api/v1/incidents/{p1}/major", headers=desk.tech.headers)
    assert again.json()["active"] is False

    # Alert storm: a group reaching the threshold declares its incident.
    integration = await make_integration(client, desk, "alertmanager", rate_limit_per_s=0)
    url = f"/api/v1/alerts/alertmanager/{integration['key']}"
    storm = rules.model_copy(update={"major_auto_levels": ""})
    first = await client.post(url, json=am_payload([am_alert("DiskFull", instance="n0")]))
    assert first.status_code == 200, first.text
    (number,) = first.json()["incidents"]
    await _run_worker(db, clock, storm)
    quiet = await client.get(f"/api/v1/incidents/{number}/major", headers=desk.tech.headers)
    assert quiet.status_code == 404
    more = am_payload([am_alert("DiskFull", instance=f"n{i}") for i in range(1, 6)])
    assert (await client.post(url, json=more)).status_code == 200
    clock.advance(timedelta(minutes=2))  # the sweep's next turn
    await _run_worker(db, clock, storm)
    stormed = await client.get(f"/api/v1/incidents/{number}/major", headers=desk.tech.headers)
    assert stormed.status_code == 200, stormed.text
    assert stormed.json()["rule"] == "alert_storm"
    assert "6 alerts in one group" in stormed.json()["reason"]
