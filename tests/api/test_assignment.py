"""Priority matrix, workgroups, shifts and assignment rules through the HTTP API."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import httpx

from opsdesk.auth.roles import Role
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from tests.factories import Actor, Desk, create_incident, make_actor


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def history(client: httpx.AsyncClient, actor: Actor, number: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await ok(
        await client.get(f"/api/v1/incidents/{number}/history", headers=actor.headers)
    )
    return rows


async def make_group(
    client: httpx.AsyncClient, desk: Desk, key: str, members: list[str], **fields: Any
) -> dict[str, Any]:
    body = {"key": key, "name": key.upper(), "members": members, **fields}
    group: dict[str, Any] = await ok(
        await client.post("/api/v1/workgroups", json=body, headers=desk.admin.headers), 201
    )
    return group


async def add_rule(client: httpx.AsyncClient, desk: Desk, **fields: Any) -> dict[str, Any]:
    rule: dict[str, Any] = await ok(
        await client.post("/api/v1/assignment-rules", json=fields, headers=desk.admin.headers),
        201,
    )
    return rule


# Priority matrix -------------------------------------------------------------------------


async def test_default_matrix_is_the_itil_grid(client: httpx.AsyncClient, desk: Desk) -> None:
    matrix = await ok(await client.get("/api/v1/priority-matrix", headers=desk.user.headers))
    grid = {(c["impact"], c["urgency"]): c["level"] for c in matrix["cells"]}
    assert grid[(1, 1)] == "level_10"
    assert grid[(2, 2)] == "level_30"
    assert grid[(3, 3)] == "level_50"
    assert grid[(1, 3)] == grid[(3, 1)] == "level_30"
    assert len(grid) == 9
    created = await create_incident(client, desk.user, impact=1, urgency=2)
    assert created["level"] == "level_20"
    assert created["level_explicit"] is False


async def test_admin_edits_the_matrix_and_new_incidents_follow(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    cells = [
        {"impact": i, "urgency": u, "level": "P4" if (i, u) == (3, 3) else f"P{min(i + u - 1, 5)}"}
        for i in (1, 2, 3)
        for u in (1, 2, 3)
    ]
    refused = await client.put(
        "/api/v1/priority-matrix", json={"cells": cells}, headers=desk.manager.headers
    )
    assert refused.status_code == 403
    edited = await ok(
        await client.put(
            "/api/v1/priority-matrix", json={"cells": cells}, headers=desk.admin.headers
        )
    )
    assert {(c["impact"], c["urgency"]): c["level"] for c in edited["cells"]}[(3, 3)] == "level_40"
    created = await create_incident(client, desk.user, impact=3, urgency=3)
    assert created["level"] == "level_40"


async def test_matrix_replacement_must_be_whole_and_valid(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    full = [{"impact": i, "urgency": u, "level": "P3"} for i in (1, 2, 3) for u in (1, 2, 3)]
    cases = [
        (full[:8], "cells", "missing impact 3 x urgency 3"),
        ([*full[:8], full[0]], "cells.8", "given twice"),
        ([*full[:8], {"impact": 3, "urgency": 3, "level": "P9"}], "cells.8.level", "P1-P5"),
        ([*full[:8], {"impact": 4, "urgency": 3, "level": "P1"}], "cells.8.impact", ""),
    ]
    for cells, field, message in cases:
        response = await client.put(
            "/api/v1/priority-matrix", json={"cells": cells}, headers=desk.admin.headers
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == field, response.text
        assert message in response.json()["error"]["message"], response.text
    matrix = await ok(await client.get("/api/v1/priority-matrix", headers=desk.admin.headers))
    assert {(c["impact"], c["urgency"]): c["level"] for c in matrix["cells"]}[(1, 1)] == "level_10"


async def test_an_explicit_level_wins_over_the_matrix_and_is_recorded(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    created = await create_incident(client, desk.tech, impact=3, urgency=3, level="P2")
    assert created["level"] == "level_20"
    assert created["level_explicit"] is True
    url = f"/api/v1/incidents/{created['number']}"
    changed = await ok(await client.patch(url, json={"impact": 1}, headers=desk.tech.headers))
    assert changed["level"] == "level_20"  # staff chose it: the matrix stays out
    rows = await history(client, desk.tech, created["number"])
    first = {c["field"]: c["new"] for c in rows[0]["changes"]}
    assert first["level"] == "level_20"
    assert first["impact"] == 3

    by_matrix = await create_incident(client, desk.tech, impact=3, urgency=3)
    assert by_matrix["level"] == "level_50"
    url = f"/api/v1/incidents/{by_matrix['number']}"
    changed = await ok(await client.patch(url, json={"impact": 1}, headers=desk.tech.headers))
    assert changed["level"] == "level_30"  # recomputed: 1 x 3
    rows = await history(client, desk.tech, by_matrix["number"])
    assert {"field": "level", "old": "level_50", "new": "level_30"} in rows[-1]["changes"]


# Workgroups and rules --------------------------------------------------------------------


async def four_technicians(db: Database, clock: FixedClock, desk: Desk) -> list[Actor]:
    extra = [await make_actor(db, clock, Role.TECHNICIAN, f"t{n}@desk.test") for n in range(2)]
    return [desk.tech, desk.tech2, *extra]


async def test_round_robin_rule_spreads_100_incidents_25_each(
    client: httpx.AsyncClient, db: Database, clock: FixedClock, desk: Desk
) -> None:
    team = await four_technicians(db, clock, desk)
    await make_group(client, desk, "l1", [t.id for t in team], strategy="round_robin")
    rule = await add_rule(
        client, desk, name="all to L1", target_type="workgroup", target_workgroup="l1"
    )
    owners = Counter()
    for n in range(100):
        created = await create_incident(client, desk.user, title=f"incident {n}")
        assert created["workgroup"] == "l1"
        assert created["assignment_rule_id"] == rule["id"]
        owners[created["assignee_id"]] += 1
    assert owners == {t.id: 25 for t in team}
    rows = await history(client, desk.tech, created["number"])
    assigned = rows[-1]
    assert assigned["action"] == "incident_assign"
    assert f"rule #{rule['id']} 'all to L1'" in assigned["comment"]
    assert "round-robin" in assigned["comment"]
    assert assigned["operator_id"] is None


async def test_first_matching_rule_wins(client: httpx.AsyncClient, desk: Desk) -> None:
    await make_group(client, desk, "net", [desk.tech.id])
    await make_group(client, desk, "desk", [desk.tech2.id])
    network = await add_rule(
        client,
        desk,
        name="network",
        position=10,
        conditions={"keywords": ["vpn"], "categories": ["inc_type_p_network_issues"]},
        target_type="workgroup",
        target_workgroup="net",
    )
    catch_all = await add_rule(
        client, desk, name="rest", position=20, target_type="workgroup", target_workgroup="desk"
    )
    vpn = await create_incident(
        client, desk.user, title="VPN drops", category="inc_type_p_network_issues"
    )
    assert (vpn["workgroup"], vpn["assignee_id"]) == ("net", desk.tech.id)
    assert vpn["assignment_rule_id"] == network["id"]
    other = await create_incident(client, desk.user, title="VPN drops")  # no category
    assert other["assignment_rule_id"] == catch_all["id"]
    # Moving the catch-all first makes it win.
    await ok(
        await client.patch(
            f"/api/v1/assignment-rules/{catch_all['id']}",
            json={"position": 1},
            headers=desk.admin.headers,
        )
    )
    again = await create_incident(
        client, desk.user, title="VPN drops", category="inc_type_p_network_issues"
    )
    assert again["assignment_rule_id"] == catch_all["id"]
    dry = await ok(
        await client.post(
            "/api/v1/assignment-rules/test",
            json={"title": "vpn", "category": "inc_type_p_network_issues"},
            headers=desk.tech.headers,
        )
    )
    assert dry["rule_id"] == catch_all["id"]


async def test_least_loaded_follows_open_counts(client: httpx.AsyncClient, desk: Desk) -> None:
    for _ in range(2):
        await create_incident(client, desk.tech, assignee_id=desk.tech.id)
    await make_group(client, desk, "dba", [desk.tech.id, desk.tech2.id], strategy="least_loaded")
    await add_rule(client, desk, name="dba", target_type="workgroup", target_workgroup="dba")
    picks = [(await create_incident(client, desk.user))["assignee_id"] for _ in range(4)]
    # tech2 starts at 0 open against 2: takes two, then they alternate from 2-2.
    assert picks == [desk.tech2.id, desk.tech2.id, desk.tech.id, desk.tech2.id]
    rows = await history(client, desk.tech, (await create_incident(client, desk.user))["number"])
    assert "least-loaded, 3 open" in rows[-1]["comment"]


async def test_absent_or_unavailable_technicians_are_skipped(
    client: httpx.AsyncClient, clock: FixedClock, desk: Desk
) -> None:
    await make_group(client, desk, "l1", [desk.tech.id, desk.tech2.id])
    await add_rule(client, desk, name="l1", target_type="workgroup", target_workgroup="l1")
    now = clock.now()
    await ok(
        await client.post(
            f"/api/v1/technicians/{desk.tech.id}/absences",
            json={
                "starts_at": (now - timedelta(hours=1)).isoformat(),
                "ends_at": (now + timedelta(hours=1)).isoformat(),
                "reason": "dentist",
            },
            headers=desk.tech.headers,
        ),
        201,
    )
    picks = {(await create_incident(client, desk.user))["assignee_id"] for _ in range(3)}
    assert picks == {desk.tech2.id}
    # tech2 marks themself unavailable: nobody can take it, it waits in the group's queue.
    await ok(
        await client.patch(
            f"/api/v1/technicians/{desk.tech2.id}",
            json={"available": False},
            headers=desk.tech2.headers,
        )
    )
    queued = await create_incident(client, desk.user)
    assert (queued["workgroup"], queued["assignee_id"]) == ("l1", None)
    assert "no member can take it now" in queued["assignment_note"]
    clock.advance(timedelta(hours=2))  # the absence is over
    back = await create_incident(client, desk.user)
    assert back["assignee_id"] == desk.tech.id
    profile = await ok(
        await client.get(f"/api/v1/technicians/{desk.tech2.id}", headers=desk.tech.headers)
    )
    assert profile["available"] is False
    assert profile["workgroups"] == ["l1"]
    # Only admins change someone else's profile; a technician only their own availability.
    for body, actor in (({"available": True}, desk.tech), ({"skills": ["x"]}, desk.tech2)):
        response = await client.patch(
            f"/api/v1/technicians/{desk.tech2.id}", json=body, headers=actor.headers
        )
        assert response.status_code == 403, response.text


async def rotation_for(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock, members: list[str]
) -> None:
    await ok(
        await client.post(
            "/api/v1/shift-scenes",
            json={"key": "ops", "name": "Operations", "time_zone": "Europe/Berlin"},
            headers=desk.admin.headers,
        ),
        201,
    )
    await ok(
        await client.post(
            "/api/v1/shift-scenes/ops/roles",
            json={"key": "oncall", "name": "On call"},
            headers=desk.admin.headers,
        ),
        201,
    )
    start = clock.now().date() - timedelta(days=14)
    await ok(
        await client.post(
            "/api/v1/shift-scenes/ops/roles/oncall/rotations",
            json={
                "name": "weekly",
                "members": members,
                "start_date": start.isoformat(),
                "handoff": "00:00",
                "turn_days": 7,
            },
            headers=desk.admin.headers,
        ),
        201,
    )


async def test_rule_targeting_a_shift_lands_on_the_person_on_duty(
    client: httpx.AsyncClient, clock: FixedClock, desk: Desk
) -> None:
    await rotation_for(client, desk, clock, [desk.tech.id, desk.tech2.id])
    duty = await ok(
        await client.get("/api/v1/shift-scenes/ops/roles/oncall/on-duty", headers=desk.tech.headers)
    )
    assert duty["user_id"] == desk.tech.id  # two turns since the start: back to the first
    assert duty["reason"] == "rotation 'weekly' turn 1"
    rule = await add_rule(
        client,
        desk,
        name="P1 to on-call",
        conditions={"levels": ["level_10"]},
        target_type="shift",
        target_scene="ops",
        target_role="oncall",
    )
    assert rule["strategy"] == "on_duty"
    created = await create_incident(client, desk.tech2, level="P1")
    assert created["owner_type"] == "shift"
    assert (created["assignee_scene"], created["assignee_role"]) == ("ops", "oncall")
    assert created["assignee_id"] == desk.tech.id
    rows = await history(client, desk.tech, created["number"])
    assert "rotation 'weekly' turn 1" in rows[-1]["comment"]
    # An override for the next hours puts tech2 on duty; the next P1 goes to them.
    now = clock.now()
    override = await ok(
        await client.post(
            "/api/v1/shift-scenes/ops/roles/oncall/overrides",
            json={
                "user_id": desk.tech2.id,
                "starts_at": now.isoformat(),
                "ends_at": (now + timedelta(hours=4)).isoformat(),
                "reason": "swap",
            },
            headers=desk.manager.headers,
        ),
        201,
    )
    swapped = await create_incident(client, desk.tech, level="P1")
    assert swapped["assignee_id"] == desk.tech2.id
    assert f"override #{override['id']}: swap" in swapped["assignment_note"]
    # Forward to a shift by hand resolves who is on duty too; this one has nobody.
    forwarded = await ok(
        await client.post(
            f"/api/v1/incidents/{swapped['number']}/actions/forward",
            json={"assignee_scene": "noc", "assignee_role": "duty", "comment": "handover"},
            headers=desk.manager.headers,
        )
    )
    assert (forwarded["owner_type"], forwarded["assignee_id"]) == ("shift", None)
    assert "nobody available on duty" in forwarded["assignment_note"]
    rows = await history(client, desk.tech, swapped["number"])
    assert rows[-1]["action"] == "incident_forward"
    assert rows[-1]["operator_id"] == desk.manager.id


async def test_forward_takes_a_person_a_workgroup_or_a_shift(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    await make_group(client, desk, "dba", [desk.tech2.id], strategy="round_robin")
    created = await create_incident(client, desk.tech, assignee_id=desk.tech.id)
    url = f"/api/v1/incidents/{created['number']}/actions/forward"
    moved = await ok(
        await client.post(
            url, json={"workgroup": "dba", "comment": "database side"}, headers=desk.tech.headers
        )
    )
    assert (moved["workgroup"], moved["assignee_id"]) == ("dba", desk.tech2.id)
    assert "database side" in moved["assignment_note"]
    assert moved["assignment_note"].startswith(f"by {desk.tech.caller.name}: to workgroup dba")
    rows = await history(client, desk.tech, created["number"])
    fields = {c["field"] for c in rows[-1]["changes"]}
    assert {"workgroup", "assignee_id"} <= fields
    assert rows[-1]["operator_id"] == desk.tech.id
    # A person named with a group must be a member of it.
    refused = await client.post(
        url,
        json={"workgroup": "dba", "assignee_id": desk.tech.id, "comment": "x"},
        headers=desk.tech.headers,
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "assignee_id"
    # Unknown group or shift: 422 naming the field, nothing changes.
    for body, field in (
        ({"workgroup": "nope", "comment": "x"}, "workgroup"),
        ({"assignee_scene": "nope", "assignee_role": "x", "comment": "x"}, "assignee_scene"),
        ({"assignee_scene": "noc", "assignee_role": "nope", "comment": "x"}, "assignee_role"),
    ):
        response = await client.post(url, json=body, headers=desk.tech.headers)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == field
    assert len(await history(client, desk.tech, created["number"])) == len(rows)


async def test_reopen_runs_the_rules_again(client: httpx.AsyncClient, desk: Desk) -> None:
    created = await create_incident(client, desk.user)
    number = created["number"]
    assert created["assignee_id"] is None  # no rule yet
    base = f"/api/v1/incidents/{number}/actions"
    await ok(await client.post(f"{base}/accept", json={}, headers=desk.tech.headers))
    await ok(
        await client.post(
            f"{base}/resolve",
            json={"cause": "c", "solution": "s", "category": "inc_type_p_network_issues"},
            headers=desk.tech.headers,
        )
    )
    await make_group(client, desk, "l2", [desk.tech2.id])
    rule = await add_rule(
        client,
        desk,
        name="reopened to L2",
        on_create=False,
        target_type="workgroup",
        target_workgroup="l2",
    )
    reopened = await ok(
        await client.post(
            f"{base}/reopen", json={"reason": "still broken"}, headers=desk.user.headers
        )
    )
    assert (reopened["workgroup"], reopened["assignee_id"]) == ("l2", desk.tech2.id)
    assert reopened["assignment_rule_id"] == rule["id"]
    rows = await history(client, desk.tech, number)
    assert [r["action"] for r in rows[-2:]] == ["incident_reopen", "incident_assign"]


# Configuration: validation and permissions -----------------------------------------------


async def test_bad_configuration_is_refused_naming_the_field(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("/api/v1/workgroups", {"key": "g", "name": "G", "members": [desk.user.id]}, "members"),
        ("/api/v1/workgroups", {"key": "g", "name": "G", "strategy": "on_duty"}, "strategy"),
        ("/api/v1/workgroups", {"key": "bad key", "name": "G"}, "key"),
        ("/api/v1/shift-scenes", {"key": "s", "name": "S", "time_zone": "Mars/X"}, "time_zone"),
        (
            "/api/v1/assignment-rules",
            {"name": "r", "target_type": "workgroup", "target_workgroup": "nope"},
            "target_workgroup",
        ),
        (
            "/api/v1/assignment-rules",
            {"name": "r", "target_type": "shift", "target_scene": "noc"},
            "target_role",
        ),
        (
            "/api/v1/assignment-rules",
            {
                "name": "r",
                "target_type": "person",
                "target_user_id": desk.tech.id,
                "strategy": "round_robin",
            },
            "strategy",
        ),
        (
            "/api/v1/assignment-rules",
            {
                "name": "r",
                "target_type": "person",
                "target_user_id": desk.tech.id,
                "conditions": {"colour": ["red"]},
            },
            "conditions.colour",
        ),
        (
            "/api/v1/shift-scenes/noc/roles/duty/rotations",
            {
                "name": "r",
                "members": [desk.tech.id],
                "start_date": "2026-01-01",
                "end_date": "2025-01-01",
            },
            "end_date",
        ),
        (
            "/api/v1/shift-scenes/noc/roles/duty/overrides",
            {
                "user_id": desk.tech.id,
                "starts_at": "2026-01-02T00:00:00Z",
                "ends_at": "2026-01-01T00:00:00Z",
            },
            "ends_at",
        ),
        (
            "/api/v1/shift-scenes/noc/roles/duty/overrides",
            {
                "user_id": desk.tech.id,
                "starts_at": "2026-01-01T00:00:00",
                "ends_at": "2026-01-02T00:00:00",
            },
            "starts_at",
        ),
    ]
    for url, body, field in cases:
        response = await client.post(url, json=body, headers=desk.admin.headers)
        assert response.status_code == 422, (url, body, response.text)
        assert response.json()["error"]["field"] == field, (url, body, response.text)
    assert await ok(await client.get("/api/v1/workgroups", headers=desk.admin.headers)) == []
    assert await ok(await client.get("/api/v1/assignment-rules", headers=desk.admin.headers)) == []


async def test_who_may_configure_what(client: httpx.AsyncClient, desk: Desk) -> None:
    for actor in (desk.user, desk.tech, desk.manager):
        response = await client.post(
            "/api/v1/workgroups", json={"key": "g", "name": "G"}, headers=actor.headers
        )
        assert response.status_code == 403, response.text
    for url in ("/api/v1/workgroups", "/api/v1/assignment-rules", "/api/v1/shift-scenes"):
        response = await client.get(url, headers=desk.user.headers)
        assert response.status_code == 403, (url, response.text)
        assert (await client.get(url)).status_code == 401
    override = {
        "user_id": desk.tech.id,
        "starts_at": "2026-01-01T00:00:00Z",
        "ends_at": "2026-01-02T00:00:00Z",
    }
    url = "/api/v1/shift-scenes/noc/roles/duty/overrides"
    assert (await client.post(url, json=override, headers=desk.tech.headers)).status_code == 403
    await ok(await client.post(url, json=override, headers=desk.manager.headers), 201)


async def test_a_group_in_use_cannot_be_deleted(client: httpx.AsyncClient, desk: Desk) -> None:
    await make_group(client, desk, "l1", [desk.tech.id])
    rule = await add_rule(client, desk, name="l1", target_type="workgroup", target_workgroup="l1")
    response = await client.delete("/api/v1/workgroups/l1", headers=desk.admin.headers)
    assert response.status_code == 409
    await ok(
        await client.delete(f"/api/v1/assignment-rules/{rule['id']}", headers=desk.admin.headers),
        204,
    )
    await create_incident(client, desk.tech, workgroup="l1")
    response = await client.delete("/api/v1/workgroups/l1", headers=desk.admin.headers)
    assert response.status_code == 409
    assert "disable it instead" in response.json()["error"]["message"]
    group = await ok(await client.get("/api/v1/workgroups/l1", headers=desk.tech.headers))
    assert group["members"] == [desk.tech.id]


async def test_incidents_list_filters_by_workgroup(client: httpx.AsyncClient, desk: Desk) -> None:
    await make_group(client, desk, "l1", [desk.tech.id])
    held = await create_incident(client, desk.tech, workgroup="l1")
    loose = await create_incident(client, desk.tech)
    for query, expected in (
        ("workgroup=l1", [held["number"]]),
        ("workgroup_isnull=true", [loose["number"]]),
    ):
        page = await ok(await client.get(f"/api/v1/incidents?{query}", headers=desk.tech.headers))
        assert [item["number"] for item in page["items"]] == expected, query
    assert held["assignee_id"] == desk.tech.id  # a group alone picks its member
    assert held["assignment_note"].startswith(f"by {desk.tech.caller.name}: to workgroup l1")


async def test_once_accepted_the_group_moves_only_by_forward(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    await make_group(client, desk, "l1", [desk.tech.id])
    created = await create_incident(client, desk.tech)
    url = f"/api/v1/incidents/{created['number']}"
    await ok(await client.post(f"{url}/actions/accept", json={}, headers=desk.tech.headers))
    response = await client.patch(url, json={"workgroup": "l1"}, headers=desk.tech.headers)
    assert response.status_code == 409
    assert response.json()["error"]["field"] == "workgroup"
    assert "forward" in response.json()["error"]["message"]
