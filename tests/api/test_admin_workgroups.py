"""Workgroup and technician admin pages: create, members in order, capacity, absences."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from opsdesk.assignment import technicians as assignment_technicians
from opsdesk.assignment import workgroups as assignment_workgroups
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from tests.api.admin_pages import NOT_ADMINS, as_admin, as_someone, error_beside
from tests.factories import Desk


async def test_an_admin_creates_a_workgroup_orders_its_members_and_edits_it(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    csrf = await as_admin(client)
    form = {
        "csrf_token": csrf,
        "key": "net-ops",
        "name": "Network operations",
        "strategy": "round_robin",
        "max_open_per_member": "",
        "skills": "network, vpn",
        "description": "",
    }
    bad = await client.post("/admin/workgroups", data={**form, "max_open_per_member": "0"})
    assert bad.status_code == 422 and error_beside(bad.text, "max_open_per_member")
    assert 'value="Network operations"' in bad.text
    twice = await client.post("/admin/workgroups", data={**form, "skills": "vpn, vpn"})
    assert twice.status_code == 422 and "once" in error_beside(twice.text, "skills")
    made = await client.post("/admin/workgroups", data={**form, "members": [desk.tech.id]})
    assert (made.status_code, made.headers["location"]) == (303, "/admin/workgroups/net-ops")
    again = await client.post("/admin/workgroups", data=form)
    assert again.status_code == 422 and "already exists" in error_beside(again.text, "key")

    members = await client.post(
        "/admin/workgroups/net-ops/members",
        data={"csrf_token": csrf, f"place-{desk.tech.id}": "2", f"place-{desk.tech2.id}": "1"},
    )
    assert members.status_code == 303
    edited = await client.post(
        "/admin/workgroups/net-ops",
        data={**form, "name": "NetOps", "strategy": "least_loaded", "max_open_per_member": "4"},
    )
    assert edited.status_code == 303
    async with db.read() as session:
        group = await assignment_workgroups.get_workgroup(
            session=session, caller=desk.admin.caller, key="net-ops"
        )
    assert group.members == [desk.tech2.id, desk.tech.id]
    assert (group.name, group.strategy, group.max_open_per_member, group.skills) == (
        "NetOps",
        "least_loaded",
        4,
        ["network", "vpn"],
    )
    assert group.enabled is False  # "enabled" was not ticked in this form
    assert group.does_work_orders is False
    flagged = await client.post(
        "/admin/workgroups/net-ops", data={**form, "enabled": "on", "does_work_orders": "on"}
    )
    assert flagged.status_code == 303
    page = await client.get("/admin/workgroups/net-ops")
    assert 'name="does_work_orders" value="on" checked' in page.text
    listed = await client.get("/admin/workgroups")
    assert "<td>Yes</td>" in listed.text

    end_user = await client.post(
        "/admin/workgroups/net-ops/members",
        data={"csrf_token": csrf, f"place-{desk.user.id}": "1"},
    )
    assert end_user.status_code == 422 and error_beside(end_user.text, "members")
    page = await client.get("/admin/workgroups/net-ops")
    assert page.status_code == 200 and f'name="place-{desk.tech2.id}" value="1"' in page.text
    deleted = await client.post("/admin/workgroups/net-ops/delete", data={"csrf_token": csrf})
    assert (deleted.status_code, deleted.headers["location"]) == (303, "/admin/workgroups")


async def test_an_admin_sets_capacity_and_absences_of_a_technician(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock
) -> None:
    csrf = await as_admin(client)
    url = f"/admin/technicians/{desk.tech.id}"
    assert desk.tech.caller.name in (await client.get("/admin/technicians")).text
    bad = await client.post(url, data={"csrf_token": csrf, "skills": "dba", "max_open": "-1"})
    assert bad.status_code == 422 and error_beside(bad.text, "max_open")
    saved = await client.post(
        url, data={"csrf_token": csrf, "skills": "dba, linux", "max_open": "3"}
    )
    assert saved.status_code == 303
    backwards = await client.post(
        f"{url}/absences",
        data={"csrf_token": csrf, "starts_at": "2030-01-02T09:00", "ends_at": "2030-01-01T09:00"},
    )
    assert backwards.status_code == 422 and "after" in error_beside(backwards.text, "ends_at")
    garbled = await client.post(
        f"{url}/absences", data={"csrf_token": csrf, "starts_at": "soon", "ends_at": ""}
    )
    assert garbled.status_code == 422 and error_beside(garbled.text, "starts_at")
    added = await client.post(
        f"{url}/absences",
        data={
            "csrf_token": csrf,
            "starts_at": "2030-01-01T09:00",
            "ends_at": "2030-01-05T17:00",
            "reason": "holiday",
        },
    )
    assert added.status_code == 303
    async with db.read() as session:
        person = await assignment_technicians.get_technician(
            session=session, caller=desk.admin.caller, user_id=desk.tech.id, now=clock.now()
        )
        [absence] = await assignment_technicians.list_absences(
            session=session, caller=desk.admin.caller, user_id=desk.tech.id, now=clock.now()
        )
    assert (person.skills, person.max_open, person.available) == (["dba", "linux"], 3, False)
    assert absence.starts_at.astimezone(UTC) == datetime(2030, 1, 1, 9, tzinfo=UTC)
    assert "holiday" in (await client.get(url)).text
    removed = await client.post(f"{url}/absences/{absence.id}/delete", data={"csrf_token": csrf})
    assert removed.status_code == 303
    assert (await client.get(f"/admin/technicians/{desk.user.id}")).status_code == 404


@pytest.mark.parametrize("who", NOT_ADMINS)
async def test_workgroup_and_technician_pages_are_for_admins_only(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock, who: str
) -> None:
    csrf = await as_someone(client, desk, db, clock, who)
    for path in ("/admin/workgroups", "/admin/technicians", f"/admin/technicians/{desk.tech.id}"):
        assert (await client.get(path)).status_code == 403, path
    posted = await client.post(
        "/admin/workgroups", data={"csrf_token": csrf, "key": "x", "name": "X"}
    )
    assert posted.status_code == 403
    capacity = await client.post(
        f"/admin/technicians/{desk.tech.id}", data={"csrf_token": csrf, "max_open": "1"}
    )
    assert capacity.status_code == 403
