"""Merge, undo and split from the pages, and bulk merge in the queue (SQLite and PostgreSQL)."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from opsdesk.auth.roles import Role
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.incidents.models import Incident
from tests.api.test_desk_pages import csrf_of, results, sign_in, staff
from tests.factories import Desk, create_incident


async def merged_into(db: Database) -> dict[str, int | None]:
    async with db.read() as session:
        rows = await session.execute(select(Incident.number, Incident.merged_into_id))
        return {str(number): merged for number, merged in rows}


async def test_merge_banner_undo_and_split_pages(
    client: httpx.AsyncClient, db: Database, clock: FixedClock, desk: Desk
) -> None:
    tech = await staff(db, clock, Role.TECHNICIAN, "merge-tech@desk.test")
    primary = (await create_incident(client, tech, title="Mail is down"))["number"]
    secondary = (await create_incident(client, tech, title="No mail"))["number"]
    csrf = await sign_in(client, tech.caller.email)
    page = await client.get(f"/incidents/{secondary}")
    assert 'id="merge-into-form"' in page.text
    answer = await client.post(
        f"/incidents/{secondary}/merge",
        data={"csrf_token": csrf, "mode": "into", "target": primary},
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/incidents/{primary}"
    shown = (await client.get(f"/incidents/{primary}")).text
    assert f"Merged {secondary} into {primary}." in shown
    assert 'id="merged-here"' in shown
    banner = (await client.get(f"/incidents/{secondary}")).text
    assert 'id="merged-banner"' in banner and "Merged into" in banner
    assert re.search(r"Undo until \d{4}-\d\d-\d\d", banner)
    assert 'id="merge-into-form"' not in banner  # read-only
    # Merging into a merged incident is refused on the page, with the reason.
    third = (await create_incident(client, tech, title="Third"))["number"]
    refused = await client.post(
        f"/incidents/{third}/merge", data={"csrf_token": csrf, "mode": "into", "target": secondary}
    )
    assert refused.status_code == 409
    assert "is itself merged into" in refused.text
    undo = await client.post(f"/incidents/{secondary}/unmerge", data={"csrf_token": csrf})
    assert undo.status_code == 303, undo.text
    restored = (await client.get(f"/incidents/{secondary}")).text
    assert "Merge undone" in restored and 'id="merged-banner"' not in restored
    assert (await merged_into(db))[secondary] is None
    # Merge others into this, then split.
    others = await client.post(
        f"/incidents/{primary}/merge",
        data={"csrf_token": csrf, "mode": "others", "target": f"{secondary}, {third}"},
    )
    assert others.status_code == 303
    state = await merged_into(db)
    assert state[secondary] is not None and state[secondary] == state[third]
    reply = await client.post(
        f"/api/v1/incidents/{primary}/conversations",
        json={"body": "DNS part"},
        headers=tech.headers,
    )
    entry = reply.json()["id"]
    split_page = await client.get(f"/incidents/{primary}/split")
    assert split_page.status_code == 200 and f'id="split-entry-{entry}"' in split_page.text
    split = await client.post(
        f"/incidents/{primary}/split",
        data={
            "csrf_token": csrf,
            "title": "DNS",
            "description": "only DNS",
            "conversation_ids": [str(entry)],
        },
    )
    assert split.status_code == 303, split.text
    new_page = (await client.get(split.headers["location"])).text
    assert f"Split from {primary}" in new_page
    empty = await client.post(
        f"/incidents/{primary}/split", data={"csrf_token": csrf, "title": " "}
    )
    assert empty.status_code == 422 and "title" in empty.text


async def test_the_reporter_sees_where_a_merged_report_went_on(
    client: httpx.AsyncClient, db: Database, clock: FixedClock, desk: Desk
) -> None:
    user = await staff(db, clock, Role.END_USER, "merge-user@desk.test")
    tech = await staff(db, clock, Role.TECHNICIAN, "merge-tech2@desk.test")
    primary = (await create_incident(client, tech, title="Mail is down"))["number"]
    mine = (await create_incident(client, user, title="No mail"))["number"]
    merged = await client.post(
        f"/api/v1/incidents/{primary}/merge", json={"secondaries": [mine]}, headers=tech.headers
    )
    assert merged.status_code == 200
    await sign_in(client, user.caller.email)
    page = (await client.get(f"/incidents/{mine}")).text
    assert "Merged into" in page and f'href="/incidents/{primary}"' in page
    assert "Undo" not in page and "merge-forms" not in page
    assert (await client.get(f"/incidents/{primary}")).status_code == 200
    csrf = csrf_of(page)
    refused = await client.post(f"/incidents/{mine}/unmerge", data={"csrf_token": csrf})
    assert refused.status_code == 403


async def test_bulk_merge_picks_the_primary_among_the_selected(
    client: httpx.AsyncClient, db: Database, clock: FixedClock, desk: Desk
) -> None:
    tech = await staff(db, clock, Role.TECHNICIAN, "bulk-merge@desk.test")
    numbers = [(await create_incident(client, tech, title=f"Dup {i}"))["number"] for i in range(3)]
    csrf = await sign_in(client, tech.caller.email)
    stranger = await client.post(
        "/queue/bulk",
        data={
            "csrf_token": csrf,
            "action": "merge",
            "numbers": numbers[:2],
            "merge_primary": numbers[2],
        },
    )
    assert stranger.status_code == 422 and "not among the selected" in stranger.text
    answer = await client.post(
        "/queue/bulk",
        data={
            "csrf_token": csrf,
            "action": "merge",
            "numbers": numbers,
            "merge_primary": numbers[1],
        },
    )
    assert answer.status_code == 200, answer.text
    rows = results(answer.text)
    assert {kind for kind, _n, _m in rows} == {"done"}
    state = await merged_into(db)
    assert state[numbers[0]] is not None and state[numbers[1]] is None
    again = await client.post(
        "/queue/bulk",
        data={"csrf_token": csrf, "action": "merge", "numbers": numbers},
    )
    assert {kind for kind, _n, _m in results(again.text)} == {"refused"}
    assert csrf_of(again.text)
