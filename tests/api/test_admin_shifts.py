"""Shift admin pages: scene, role, rotation and override forms, and the duty calendar."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest

from opsdesk.assignment import shifts as assignment_shifts
from opsdesk.assignment.schemas import RotationCreate
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from tests.api.admin_pages import NOT_ADMINS, as_admin, as_someone, error_beside
from tests.factories import Desk


def calendar_names(html: str) -> list[str]:
    table = html.split('id="duty-calendar"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<strong>([^<]+)</strong>", table)


async def test_an_admin_builds_a_rotation_and_the_calendar_shows_who_is_on_duty(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock
) -> None:
    csrf = await as_admin(client)
    scene = {"csrf_token": csrf, "key": "night", "name": "DBA on call", "kind": "rotating"}
    bad_zone = await client.post("/admin/shifts", data={**scene, "time_zone": "Mars/Olympus"})
    assert bad_zone.status_code == 422
    assert "IANA time zone" in error_beside(bad_zone.text, "time_zone")
    made = await client.post("/admin/shifts", data={**scene, "time_zone": "UTC"})
    assert (made.status_code, made.headers["location"]) == (303, "/admin/shifts/night")
    bad_role = await client.post(
        "/admin/shifts/night/roles", data={"csrf_token": csrf, "role_key": "a b", "role_name": "P"}
    )
    assert bad_role.status_code == 422 and error_beside(bad_role.text, "role_key")
    role = await client.post(
        "/admin/shifts/night/roles",
        data={"csrf_token": csrf, "role_key": "primary", "role_name": "Primary"},
    )
    assert (role.status_code, role.headers["location"]) == (303, "/admin/shifts/night/primary")

    rotation = {
        "csrf_token": csrf,
        "name": "Weekly",
        "priority": "100",
        "start_date": clock.now().date().isoformat(),
        "end_date": "",
        "handoff": "00:00",
        "turn_days": "7",
        "window_start": "",
        "window_end": "",
        "weekdays": [str(day) for day in range(1, 8)],
    }
    nobody = await client.post("/admin/shifts/night/primary/rotations", data=rotation)
    assert nobody.status_code == 422 and error_beside(nobody.text, "members")
    no_days = await client.post(
        "/admin/shifts/night/primary/rotations",
        data={**rotation, "weekdays": [], f"member-{desk.tech.id}": "1"},
    )
    assert no_days.status_code == 422 and "weekday" in error_beside(no_days.text, "weekdays")
    assert f'name="member-{desk.tech.id}" value="1"' in no_days.text  # kept as typed
    half_window = await client.post(
        "/admin/shifts/night/primary/rotations",
        data={**rotation, "window_start": "08:00", f"member-{desk.tech.id}": "1"},
    )
    assert half_window.status_code == 422 and error_beside(half_window.text, "window_end")
    added = await client.post(
        "/admin/shifts/night/primary/rotations",
        data={**rotation, f"member-{desk.tech.id}": "2", f"member-{desk.tech2.id}": "1"},
    )
    assert added.status_code == 303
    async with db.read() as session:
        [row] = await assignment_shifts.list_rotations(
            session=session, caller=desk.admin.caller, scene_key="night", role_key="primary"
        )
    assert row.members == [desk.tech2.id, desk.tech.id]
    page = await client.get("/admin/shifts/night/primary")
    names = calendar_names(page.text)
    assert len(re.findall(r"data-date=", page.text)) == 28
    assert {desk.tech.caller.name, desk.tech2.caller.name} <= set(names)

    override = await client.post(
        "/admin/shifts/night/primary/overrides",
        data={
            "csrf_token": csrf,
            "user_id": desk.manager.id,
            "starts_at": "2020-01-01T00:00",
            "ends_at": "2040-01-01T00:00",
            "reason": "covering",
        },
    )
    assert override.status_code == 422 and "366 days" in error_beside(override.text, "ends_at")
    start = clock.now() - timedelta(days=1)
    covered = await client.post(
        "/admin/shifts/night/primary/overrides",
        data={
            "csrf_token": csrf,
            "user_id": desk.manager.id,
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start + timedelta(days=60)).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert covered.status_code == 303
    after = await client.get("/admin/shifts/night/primary")
    assert "Override added." in after.text and desk.manager.caller.name in calendar_names(
        after.text
    )
    again = await client.post("/admin/shifts", data={**scene, "time_zone": "UTC"})
    assert again.status_code == 422 and "already exists" in error_beside(again.text, "key")


@pytest.mark.parametrize("who", NOT_ADMINS)
async def test_shift_pages_are_for_admins_only(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock, who: str
) -> None:
    csrf = await as_someone(client, desk, db, clock, who)
    assert (await client.get("/admin/shifts")).status_code == 403
    posted = await client.post(
        "/admin/shifts", data={"csrf_token": csrf, "key": "x", "name": "X", "time_zone": "UTC"}
    )
    assert posted.status_code == 403


async def test_an_admin_edits_a_rotation_and_a_refused_edit_changes_nothing(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock
) -> None:
    csrf = await as_admin(client)
    today = clock.now().date()
    rotation = {
        "csrf_token": csrf,
        "name": "Weekly",
        "priority": "100",
        "start_date": today.isoformat(),
        "end_date": "",
        "handoff": "09:00",
        "turn_days": "7",
        "window_start": "",
        "window_end": "",
        "weekdays": [str(day) for day in range(1, 8)],
        f"member-{desk.tech.id}": "1",
        f"member-{desk.tech2.id}": "2",
    }
    added = await client.post("/admin/shifts/dba/primary/rotations", data=rotation)
    assert added.status_code == 303
    async with db.read() as session:
        [row] = await assignment_shifts.list_rotations(
            session=session, caller=desk.admin.caller, scene_key="dba", role_key="primary"
        )
    url = f"/admin/shifts/dba/primary/rotations/{row.id}"
    listing = await client.get("/admin/shifts/dba/primary")
    assert f'href="{url}"' in listing.text
    page = await client.get(url)
    assert page.status_code == 200 and 'id="edit-rotation"' in page.text
    assert f'name="member-{desk.tech2.id}" value="2"' in page.text  # the order as stored
    assert 'name="handoff" type="time" value="09:00"' in page.text

    # Each refusal names its field, keeps what was typed, and writes nothing.
    refusals = {
        "end_date": {"end_date": (today - timedelta(days=1)).isoformat()},
        "window_end": {"window_start": "08:00"},
        "turn_days": {"turn_days": "0"},
        "handoff": {"handoff": ""},
        "weekdays": {"weekdays": []},
        "members": {f"member-{desk.tech.id}": "", f"member-{desk.tech2.id}": ""},
    }
    for field, change in refusals.items():
        refused = await client.post(url, data={**rotation, "name": "Changed", **change})
        assert refused.status_code == 422, field
        assert error_beside(refused.text, field), field
        assert 'name="name" type="text" value="Changed"' in refused.text
    not_staff = await client.post(url, data={**rotation, f"member-{desk.user.id}": "3"})
    assert not_staff.status_code == 422
    assert "not an active technician" in error_beside(not_staff.text, "members")
    async with db.read() as session:
        [same] = await assignment_shifts.list_rotations(
            session=session, caller=desk.admin.caller, scene_key="dba", role_key="primary"
        )
    assert (same.name, same.members, same.turn_days, same.end_date) == (
        "Weekly",
        [desk.tech.id, desk.tech2.id],
        7,
        None,
    )

    saved = await client.post(
        url,
        data={
            **rotation,
            "name": "Daily",
            "turn_days": "1",
            "handoff": "08:30",
            "end_date": (today + timedelta(days=30)).isoformat(),
            "window_start": "08:00",
            "window_end": "20:00",
            "weekdays": ["1", "2", "3", "4", "5"],
            f"member-{desk.tech.id}": "2",
            f"member-{desk.tech2.id}": "1",
            f"member-{desk.manager.id}": "3",
        },
    )
    assert (saved.status_code, saved.headers["location"]) == (303, "/admin/shifts/dba/primary")
    assert "Rotation Daily saved." in (await client.get(saved.headers["location"])).text
    async with db.read() as session:
        [edited] = await assignment_shifts.list_rotations(
            session=session, caller=desk.admin.caller, scene_key="dba", role_key="primary"
        )
    assert edited.id == row.id
    assert (edited.name, edited.turn_days, f"{edited.handoff:%H:%M}") == ("Daily", 1, "08:30")
    assert edited.members == [desk.tech2.id, desk.tech.id, desk.manager.id]
    assert edited.weekdays == [1, 2, 3, 4, 5] and edited.end_date == today + timedelta(days=30)
    assert (f"{edited.window_start:%H:%M}", f"{edited.window_end:%H:%M}") == ("08:00", "20:00")

    # Blank last day and window clear them again.
    cleared = await client.post(url, data={**rotation, "name": "Daily"})
    assert cleared.status_code == 303
    async with db.read() as session:
        [again] = await assignment_shifts.list_rotations(
            session=session, caller=desk.admin.caller, scene_key="dba", role_key="primary"
        )
    assert (again.end_date, again.window_start, again.window_end) == (None, None, None)

    assert (
        await client.get(f"/admin/shifts/dba/primary/rotations/{row.id + 99}")
    ).status_code == 404
    assert (await client.get(f"/admin/shifts/noc/duty/rotations/{row.id}")).status_code == 404
    elsewhere = await client.post(f"/admin/shifts/noc/duty/rotations/{row.id}", data=rotation)
    assert elsewhere.status_code == 404


@pytest.mark.parametrize("who", NOT_ADMINS)
async def test_only_admins_edit_a_rotation(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock, who: str
) -> None:
    async with db.write() as session:
        row = await assignment_shifts.add_rotation(
            session=session,
            caller=desk.admin.caller,
            scene_key="dba",
            role_key="primary",
            data=RotationCreate(
                name="Weekly", members=[desk.tech.id], start_date=clock.now().date()
            ),
            now=clock.now(),
        )
    csrf = await as_someone(client, desk, db, clock, who)
    url = f"/admin/shifts/dba/primary/rotations/{row.id}"
    assert (await client.get(url)).status_code == 403
    posted = await client.post(
        url,
        data={
            "csrf_token": csrf,
            "name": "Taken over",
            "start_date": clock.now().date().isoformat(),
            "handoff": "09:00",
            "turn_days": "7",
            "priority": "100",
            "weekdays": ["1"],
            f"member-{desk.tech.id}": "1",
        },
    )
    assert posted.status_code == 403
    async with db.read() as session:
        [same] = await assignment_shifts.list_rotations(
            session=session, caller=desk.admin.caller, scene_key="dba", role_key="primary"
        )
    assert same.name == "Weekly"
