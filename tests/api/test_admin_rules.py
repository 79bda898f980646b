"""Assignment rule admin pages: add, errors beside the field, move up and down, the tester."""

from __future__ import annotations

import httpx
import pytest

from opsdesk.assignment import service as assignment_service
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from tests.api.admin_pages import NOT_ADMINS, as_admin, as_someone, error_beside
from tests.factories import Desk


def rule_form(csrf: str, name: str, **changes: object) -> dict[str, object]:
    return {
        "csrf_token": csrf,
        "name": name,
        "enabled": "on",
        "on_create": "on",
        "on_reopen": "on",
        "keywords": "",
        "sources": "",
        "required_skills": "",
        "target_type": "shift",
        "strategy": "",
        "target_workgroup": "",
        "target_shift": "dba/primary",
        "target_user_id": "",
        **changes,
    }


async def rule_ids(db: Database, desk: Desk) -> list[tuple[int, str]]:
    async with db.read() as session:
        rules = await assignment_service.list_rules(session=session, caller=desk.admin.caller)
    return [(rule.id, rule.name) for rule in rules]


async def test_an_admin_adds_rules_orders_them_and_tries_them_out(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    csrf = await as_admin(client)
    no_group = await client.post(
        "/admin/rules", data=rule_form(csrf, "Network", target_type="workgroup")
    )
    assert no_group.status_code == 422
    assert "Required" in error_beside(no_group.text, "target_workgroup")
    no_shift = await client.post(
        "/admin/rules", data=rule_form(csrf, "Nights", target_shift="dba/nobody")
    )
    assert no_shift.status_code == 422 and error_beside(no_shift.text, "target_shift")
    short_word = await client.post("/admin/rules", data=rule_form(csrf, "Short", keywords="x, vpn"))
    assert short_word.status_code == 422 and error_beside(short_word.text, "keywords")

    first = await client.post(
        "/admin/rules", data=rule_form(csrf, "Databases", keywords="database, oracle")
    )
    assert first.status_code == 303
    second = await client.post(
        "/admin/rules", data=rule_form(csrf, "Everything else", target_shift="noc/duty")
    )
    assert second.status_code == 303
    [(db_rule, _), (rest, _)] = await rule_ids(db, desk)

    tried = await client.get("/admin/rules", params={"test": "1", "title": "Oracle database down"})
    assert f'<tr id="rule-{db_rule}" class="rule-chosen">' in tried.text
    assert "rule #" in tried.text and "Databases" in tried.text

    moved = await client.post(
        f"/admin/rules/{rest}/move", data={"csrf_token": csrf, "direction": "up"}
    )
    assert moved.status_code == 303
    assert [name for _id, name in await rule_ids(db, desk)] == ["Everything else", "Databases"]
    tried = await client.get("/admin/rules", params={"test": "1", "title": "Oracle database down"})
    assert f'<tr id="rule-{rest}" class="rule-chosen">' in tried.text
    back = await client.post(
        f"/admin/rules/{rest}/move", data={"csrf_token": csrf, "direction": "down"}
    )
    assert back.status_code == 303
    assert [name for _id, name in await rule_ids(db, desk)] == ["Databases", "Everything else"]

    page = await client.get(f"/admin/rules/{db_rule}")
    assert page.status_code == 200 and 'value="database, oracle"' in page.text
    edited = await client.post(
        f"/admin/rules/{db_rule}",
        data=rule_form(
            csrf,
            "DBs",
            keywords="postgres",
            sources=["incident_source_alarm"],
            target_type="person",
            target_user_id=desk.tech.id,
            target_shift="",
        ),
    )
    assert edited.status_code == 303
    async with db.read() as session:
        rule = await assignment_service.get_rule(
            session=session, caller=desk.admin.caller, rule_id=db_rule
        )
    assert (rule.name, rule.target_type, rule.target_user_id, rule.target_scene) == (
        "DBs",
        "person",
        desk.tech.id,
        None,
    )
    assert rule.conditions == {"keywords": ["postgres"], "sources": ["incident_source_alarm"]}
    deleted = await client.post(f"/admin/rules/{db_rule}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 303
    assert [name for _id, name in await rule_ids(db, desk)] == ["Everything else"]
    nothing = await client.get(
        "/admin/rules", params={"test": "1", "title": "x", "trigger": "reopen"}
    )
    assert 'id="tester-result"' in nothing.text


@pytest.mark.parametrize("who", NOT_ADMINS)
async def test_rule_pages_are_for_admins_only(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock, who: str
) -> None:
    csrf = await as_someone(client, desk, db, clock, who)
    assert (await client.get("/admin/rules")).status_code == 403
    posted = await client.post("/admin/rules", data=rule_form(csrf, "Sneaky"))
    assert posted.status_code == 403
    assert await rule_ids(db, desk) == []
