"""The message after a post: its kind sets its class, its icon, its read-out label and its
ARIA role (status for success and info, alert for warning and error)."""

from __future__ import annotations

import re

import httpx

from opsdesk.assignment import shifts as assignment_shifts
from opsdesk.auth import service as auth_service
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.web.common import Flash, _flash_of
from tests.api.admin_pages import as_admin
from tests.factories import Desk


def flash_of(html: str) -> tuple[str, str, str]:
    """(class of the box, role of its text, text as read out) of the page's flash message."""
    found = re.search(r'<div class="(notice [^"]*\bflash)" id="flash"[^>]*>(.*?)</div>', html, re.S)
    assert found, "no flash message on the page"
    words = re.search(r'<p class="flash-text" role="(\w+)">(.*?)</p>', found.group(2), re.S)
    assert words, "a flash message without its text"
    text = re.sub(r"<[^>]+>", "", words.group(2))
    return found.group(1), words.group(1), " ".join(text.split())


async def test_a_rotation_saved_without_a_departed_member_warns_with_role_alert(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock
) -> None:
    csrf = await as_admin(client)
    rotation = {
        "csrf_token": csrf,
        "name": "Weekly",
        "priority": "100",
        "start_date": clock.now().date().isoformat(),
        "end_date": "",
        "handoff": "09:00",
        "turn_days": "7",
        "window_start": "",
        "window_end": "",
        "weekdays": [str(day) for day in range(1, 8)],
    }
    both = {f"member-{desk.tech.id}": "1", f"member-{desk.tech2.id}": "2"}
    added = await client.post("/admin/shifts/dba/primary/rotations", data={**rotation, **both})
    assert added.status_code == 303
    added_page = await client.get(added.headers["location"])
    assert flash_of(added_page.text) == (
        "notice notice-success flash",
        "status",
        "Rotation Weekly added.",
    )
    async with db.read() as session:
        [row] = await assignment_shifts.list_rotations(
            session=session, caller=desk.admin.caller, scene_key="dba", role_key="primary"
        )
        tech2 = await auth_service.get_user(session=session, user_id=desk.tech2.id)
    url = f"/admin/shifts/dba/primary/rotations/{row.id}"

    # A plain save is still a success.
    saved = await client.post(url, data={**rotation, **both})
    kind, role, text = flash_of((await client.get(saved.headers["location"])).text)
    assert (kind, role, text) == (
        "notice notice-success flash",
        "status",
        "Rotation Weekly saved.",
    )

    deactivated = await client.post(
        f"/admin/users/{desk.tech2.id}/deactivate", data={"csrf_token": csrf}
    )
    assert deactivated.status_code == 303
    # The form no longer offers tech2, so saving it leaves them out: a warning, not a success.
    left_out = await client.post(url, data={**rotation, f"member-{desk.tech.id}": "1"})
    assert (left_out.status_code, left_out.headers["location"]) == (
        303,
        "/admin/shifts/dba/primary",
    )
    page = await client.get(left_out.headers["location"])
    kind, role, text = flash_of(page.text)
    assert kind == "notice notice-warning flash"
    assert role == "alert"
    assert text.startswith("Warning: Rotation Weekly saved; left out, no longer active staff:")
    assert tech2.name in text
    # The dismiss button waits for flash.js: without JavaScript no dead control shows.
    assert re.search(r"<button [^>]*data-flash-dismiss hidden", page.text)
    assert '<script src="/static/flash.js' in page.text
    # Shown once.
    assert 'id="flash"' not in (await client.get(left_out.headers["location"])).text


async def test_a_queued_test_is_info_and_a_refusal_an_error_with_role_alert(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    csrf = await as_admin(client)
    made = await client.post(
        "/admin/webhooks",
        data={
            "csrf_token": csrf,
            "url": "https://hooks.example.com/opsdesk",
            "secret": "s" * 20,
            "events": ["incident.created"],
            "description": "chat bridge",
        },
    )
    assert made.status_code == 303
    tested = await client.post(made.headers["location"] + "/test", data={"csrf_token": csrf})
    assert tested.status_code == 303
    kind, role, text = flash_of((await client.get(tested.headers["location"])).text)
    assert (kind, role) == ("notice notice-info flash", "status")
    assert text.startswith("Note: Test delivery")

    refused = await client.post(
        "/admin/notifications/bouncing/clear", data={"csrf_token": csrf, "address": "nobody"}
    )
    assert refused.status_code == 303
    kind, role, text = flash_of((await client.get(refused.headers["location"])).text)
    assert (kind, role) == ("notice notice-error flash", "alert")
    assert text.startswith("Error: Not cleared:")


def test_a_message_kept_before_kinds_existed_is_a_success() -> None:
    assert _flash_of("Saved.") == Flash("Saved.", "success")
    assert _flash_of({"message": "Careful.", "kind": "warning"}) == Flash("Careful.", "warning")
    assert _flash_of({"message": "Odd.", "kind": "shouting"}) == Flash("Odd.", "success")
    assert _flash_of(None) is None and _flash_of({"kind": "error"}) is None
    assert Flash("x", "error").role == "alert" and Flash("x", "info").role == "status"
