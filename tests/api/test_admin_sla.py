"""SLA admin pages: policies, calendars, holiday import (country and iCal), errors beside fields."""

from __future__ import annotations

import re

import httpx
import pytest

from opsdesk.assignment import workgroups as assignment_workgroups
from opsdesk.assignment.schemas import WorkgroupCreate, WorkgroupUpdate
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.sla import configuration as sla_configuration
from opsdesk.sla.models import SlaPolicyRow
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


def steps_of(row: SlaPolicyRow) -> list[tuple[float, list[tuple[str, str | None]]]]:
    return [
        (float(step["percent"]), [(a["kind"], a.get("workgroup")) for a in step["actions"]])
        for step in row.thresholds
    ]


async def stored(db: Database, desk: Desk, key: str) -> SlaPolicyRow:
    async with db.read() as session:
        return await sla_configuration.get_policy(
            session=session, caller=desk.admin.caller, key=key
        )


async def test_an_admin_adds_edits_and_deletes_escalation_steps(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock
) -> None:
    async with db.write() as session:
        await assignment_workgroups.create_workgroup(
            session=session,
            caller=desk.admin.caller,
            data=WorkgroupCreate(key="dba", name="Database team"),
            now=clock.now(),
        )
    csrf = await as_admin(client)
    url = "/admin/sla/policies/default-p3"
    before = steps_of(await stored(db, desk, "default-p3"))
    assert [percent for percent, _ in before] == [50, 75, 100]
    page = await client.get(url)
    assert 'id="steps"' in page.text and 'id="add-step"' in page.text
    assert f'href="{url}/steps/75"' in page.text
    assert "Notify the incident managers" in page.text

    # Refusals: the API's reasons, beside the field, and nothing written.
    step = {"csrf_token": csrf, "percent": "90", "actions": ["notify_group"], "workgroup": ""}
    refusals = {
        "percent": [{"percent": p} for p in ("0", "soon", "", "75", "inf", "nan")],
        "actions": [{"actions": ["shout"]}],
        "workgroup": [{"workgroup": "nobody-here"}, {"actions": ["reassign"]}],
    }
    for field, changes in refusals.items():
        for change in changes:
            refused = await client.post(f"{url}/steps", data={**step, **change})
            assert refused.status_code == 422, change
            assert error_beside(refused.text, field), change
            assert 'id="f-name-error"' not in refused.text  # not on the policy's own form
    assert "only once" in error_beside(
        (await client.post(f"{url}/steps", data={**step, "percent": "75"})).text, "percent"
    )
    kept = await client.post(f"{url}/steps", data={**step, "percent": "soon"})
    assert 'name="percent" type="number" value="soon"' in kept.text
    assert steps_of(await stored(db, desk, "default-p3")) == before

    added = await client.post(f"{url}/steps", data={**step, "percent": "87.5", "workgroup": "dba"})
    assert (added.status_code, added.headers["location"]) == (303, url)
    listing = await client.get(url)
    assert "Step at 87.5 % added." in listing.text and "Reassign to Database team" in listing.text
    assert steps_of(await stored(db, desk, "default-p3"))[2] == (
        87.5,
        [("notify_group", None), ("reassign", "dba")],
    )

    edit = await client.get(f"{url}/steps/87.5")
    assert edit.status_code == 200 and 'id="edit-step"' in edit.text
    assert '<option value="dba" selected>' in edit.text
    assert 'value="notify_group" checked' in edit.text
    clash = await client.post(f"{url}/steps/87.5", data={**step, "percent": "50"})
    assert clash.status_code == 422 and "only once" in error_beside(clash.text, "percent")
    saved = await client.post(
        f"{url}/steps/87.5",
        data={"csrf_token": csrf, "percent": "120", "actions": ["raise_level", "notify_manager"]},
    )
    assert (saved.status_code, saved.headers["location"]) == (303, url)
    after = steps_of(await stored(db, desk, "default-p3"))
    assert after[-1] == (120, [("raise_level", None), ("notify_manager", None)])
    assert 87.5 not in [percent for percent, _ in after]

    deleted = await client.post(f"{url}/steps/50/delete", data={"csrf_token": csrf})
    assert (deleted.status_code, deleted.headers["location"]) == (303, url)
    assert [p for p, _ in steps_of(await stored(db, desk, "default-p3"))] == [75, 100, 120]
    assert (await client.get(f"{url}/steps/50")).status_code == 404
    gone = await client.post(f"{url}/steps/50", data={**step, "percent": "55"})
    assert gone.status_code == 404
    assert (await client.get("/admin/sla/policies/nope/steps/50")).status_code == 404
    assert (
        await client.post(f"{url}/steps/x/delete", data={"csrf_token": csrf})
    ).status_code == 404


async def test_a_step_elsewhere_that_went_bad_is_named_above_the_form(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock
) -> None:
    """A step whose workgroup was disabled since: the page says which, and it can be fixed."""
    async with db.write() as session:
        await assignment_workgroups.create_workgroup(
            session=session,
            caller=desk.admin.caller,
            data=WorkgroupCreate(key="dba", name="Database team"),
            now=clock.now(),
        )
    csrf = await as_admin(client)
    url = "/admin/sla/policies/default-p3"
    step = {"csrf_token": csrf, "percent": "150", "workgroup": "dba"}
    assert (await client.post(f"{url}/steps", data=step)).status_code == 303
    async with db.write() as session:
        await assignment_workgroups.update_workgroup(
            session=session,
            caller=desk.admin.caller,
            key="dba",
            data=WorkgroupUpdate(enabled=False),
            now=clock.now(),
        )
    other = await client.post(f"{url}/steps", data={**step, "percent": "60", "workgroup": ""})
    assert other.status_code == 422
    assert "The step at 150 %: No workgroup" in other.text
    policy_form = await client.post(
        url,
        data={
            "csrf_token": csrf,
            "name": "P3",
            "order": "1030",
            "calendar": "business-hours",
            "response_min": "120",
            "resolution_min": "1620",
            "levels": ["level_30"],
        },
    )
    assert policy_form.status_code == 422 and "No workgroup" in policy_form.text
    fixed = await client.post(f"{url}/steps/150", data={"csrf_token": csrf, "percent": "150"})
    assert fixed.status_code == 303
    assert steps_of(await stored(db, desk, "default-p3"))[-1] == (150, [])


@pytest.mark.parametrize("who", NOT_ADMINS)
async def test_only_admins_change_escalation_steps(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock, who: str
) -> None:
    csrf = await as_someone(client, desk, db, clock, who)
    url = "/admin/sla/policies/default-p3"
    before = steps_of(await stored(db, desk, "default-p3"))
    assert (await client.get(f"{url}/steps/50")).status_code == 403
    step = {"csrf_token": csrf, "percent": "60", "actions": ["notify_group"]}
    assert (await client.post(f"{url}/steps", data=step)).status_code == 403
    assert (await client.post(f"{url}/steps/50", data=step)).status_code == 403
    assert (await client.post(f"{url}/steps/50/delete", data=step)).status_code == 403
    assert steps_of(await stored(db, desk, "default-p3")) == before


def pause_boxes(html: str) -> dict[str, bool]:
    """The pause checkboxes of the policy form: phase → ticked."""
    return {
        phase: bool(ticked)
        for phase, ticked in re.findall(
            r'<input type="checkbox" id="pause-[^"]*" name="pause_phases" value="([^"]*)"'
            r"( checked)?>",
            html,
        )
    }


P3_FORM = {
    "name": "Default P3",
    "order": "1030",
    "calendar": "business-hours",
    "response_min": "120",
    "resolution_min": "1620",
    "levels": ["level_30"],
    "active": "on",
}


async def test_an_admin_sees_and_edits_a_policys_pause_phases(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    csrf = await as_admin(client)
    url = "/admin/sla/policies/default-p3"
    page = await client.get(url)
    # The lifecycle's choices, then the default's phase that no incident can be in.
    assert pause_boxes(page.text) == {
        "pause_requested": False,
        "paused": True,
        "level_change_requested": False,
        "rejected": True,
        "awaiting_requester": True,
    }
    assert 'id="pauses-resolution"' in page.text and "On Hold, Rejected, awaiting_requester" in (
        page.text
    )
    assert "recomputes the clocks of every incident not yet closed" in page.text

    form = {"csrf_token": csrf, **P3_FORM, "pauses_shown": "1"}
    saved = await client.post(url, data={**form, "pause_phases": ["pause_requested", "paused"]})
    assert (saved.status_code, saved.headers["location"]) == (303, "/admin/sla")
    row = await stored(db, desk, "default-p3")
    assert row.pause_phases == ["pause_requested", "paused"]
    assert [float(step["percent"]) for step in row.thresholds] == [50, 75, 100]
    page = await client.get(url)
    assert [phase for phase, ticked in pause_boxes(page.text).items() if ticked] == [
        "pause_requested",
        "paused",
    ]
    assert "awaiting_requester" not in pause_boxes(page.text)  # unticked, so gone
    assert "In Progress (pause awaiting approval), On Hold, Draft" in page.text

    # A form without the pause boxes (the overview's, an older page) keeps the pauses.
    kept = await client.post(url, data={"csrf_token": csrf, **P3_FORM, "name": "P3"})
    assert kept.status_code == 303
    row = await stored(db, desk, "default-p3")
    assert (row.name, row.pause_phases) == ("P3", ["pause_requested", "paused"])
    # With the boxes shown and none ticked, the clocks never pause (but in a draft).
    cleared = await client.post(url, data=form)
    assert cleared.status_code == 303
    assert (await stored(db, desk, "default-p3")).pause_phases == []


async def test_a_refused_pause_phase_is_named_beside_the_boxes_and_changes_nothing(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    csrf = await as_admin(client)
    url = "/admin/sla/policies/default-p3"
    before = await stored(db, desk, "default-p3")
    before_values = (before.name, before.response_s, list(before.pause_phases))
    form = {"csrf_token": csrf, **P3_FORM, "pauses_shown": "1", "name": "Renamed"}
    for phase in ("in_progress", "new"):
        refused = await client.post(url, data={**form, "pause_phases": ["paused", phase]})
        assert refused.status_code == 422
        assert "cannot pause the clock" in error_beside(refused.text, "pause_phases")
        assert 'id="pause-phases"' in refused.text
        # The form shows what was sent, the refused phase ticked beside its error.
        assert pause_boxes(refused.text)[phase] and pause_boxes(refused.text)["paused"]
        assert not pause_boxes(refused.text)["rejected"]
        assert 'value="Renamed"' in refused.text
    # Another field refused: the ticked boxes come back as sent, nothing is written either.
    other = await client.post(
        url, data={**form, "response_min": "soon", "pause_phases": ["level_change_requested"]}
    )
    assert other.status_code == 422 and error_beside(other.text, "response_min")
    assert [phase for phase, ticked in pause_boxes(other.text).items() if ticked] == [
        "level_change_requested"
    ]
    after = await stored(db, desk, "default-p3")
    assert (after.name, after.response_s, list(after.pause_phases)) == before_values


@pytest.mark.parametrize("who", NOT_ADMINS)
async def test_only_admins_change_pause_phases(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock, who: str
) -> None:
    csrf = await as_someone(client, desk, db, clock, who)
    url = "/admin/sla/policies/default-p3"
    before = list((await stored(db, desk, "default-p3")).pause_phases)
    assert (await client.get(url)).status_code == 403
    form = {"csrf_token": csrf, **P3_FORM, "pauses_shown": "1", "pause_phases": ["paused"]}
    assert (await client.post(url, data=form)).status_code == 403
    assert list((await stored(db, desk, "default-p3")).pause_phases) == before
