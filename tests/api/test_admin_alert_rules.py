"""Alert conversion rules in the admin pages: add, errors beside the field, order, tester,
settings and key rotation; the rule then decides the incident a real post opens."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select

from opsdesk.alerts.models import ConversionRule
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.incidents.models import Incident
from tests.api.admin_pages import NOT_ADMINS, as_admin, as_someone, error_beside
from tests.api.test_alerts import am_alert, am_payload, make_integration
from tests.factories import Desk


def rule_form(csrf: str, name: str, **changes: str) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "name": name,
        "position": "10",
        "enabled": "on",
        "creates_incident": "on",
        "conditions": "severity eq critical\nenv in prod, staging",
        "level": "level_10",
        "category": "",
        "application": "",
        "owner": "shift:dba/primary",
        **changes,
    }


async def rules_of(db: Database, integration_id: int) -> list[tuple[int, str]]:
    async with db.read() as session:
        rows = await session.scalars(
            select(ConversionRule)
            .where(ConversionRule.integration_id == integration_id)
            .order_by(ConversionRule.position, ConversionRule.id)
        )
        return [(rule.id, rule.name) for rule in rows]


async def test_an_admin_adds_a_rule_that_decides_the_incident(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    integration = await make_integration(client, desk, "alertmanager")
    page_url = f"/admin/integrations/{integration['id']}"
    csrf = await as_admin(client)
    page = await client.get(page_url)
    assert page.status_code == 200 and "Default" in page.text  # the default rule is listed

    bad_line = await client.post(
        f"{page_url}/rules", data=rule_form(csrf, "Prod", conditions="severity critical")
    )
    assert bad_line.status_code == 422
    assert "Line 1" in error_beside(bad_line.text, "conditions")
    bad_regex = await client.post(
        f"{page_url}/rules", data=rule_form(csrf, "Prod", conditions="alertname regex (")
    )
    assert bad_regex.status_code == 422 and error_beside(bad_regex.text, "conditions")
    bad_level = await client.post(f"{page_url}/rules", data=rule_form(csrf, "Prod", level="nope"))
    assert bad_level.status_code == 422 and "nope" in error_beside(bad_level.text, "level")
    bad_owner = await client.post(
        f"{page_url}/rules", data=rule_form(csrf, "Prod", owner="shift:dba/nobody")
    )
    assert bad_owner.status_code == 422 and error_beside(bad_owner.text, "owner")
    assert len(await rules_of(db, integration["id"])) == 1  # nothing half-written

    added = await client.post(f"{page_url}/rules", data=rule_form(csrf, "Prod critical"))
    assert added.status_code == 303
    (rule_id, _), (default_id, _) = await rules_of(db, integration["id"])

    tried = await client.get(
        page_url,
        params={"test": "1", "severity": "critical", "labels": "env=prod, alertname=DiskFull"},
    )
    assert "Prod critical" in re.sub(r"\s+", " ", tried.text.split('id="alert-tester-result"')[1])

    fired = await client.post(
        f"/api/v1/alerts/alertmanager/{integration['key']}",
        json=am_payload([am_alert("DiskFull", env="prod")]),
    )
    assert fired.status_code == 200, fired.text
    async with db.read() as session:
        incident = await session.scalar(select(Incident))
    assert incident is not None
    assert incident.level == "level_10"
    assert incident.forward_rule_id == rule_id
    assert (incident.assignee_scene, incident.assignee_role) == ("dba", "primary")

    # Move the default rule up: it now takes every alert first.
    moved = await client.post(
        f"{page_url}/rules/{default_id}/move", data={"csrf_token": csrf, "direction": "up"}
    )
    assert moved.status_code == 303
    assert [rid for rid, _ in await rules_of(db, integration["id"])] == [default_id, rule_id]

    edit = await client.get(f"{page_url}/rules/{rule_id}")
    assert edit.status_code == 200 and "severity eq critical" in edit.text
    saved = await client.post(
        f"{page_url}/rules/{rule_id}", data=rule_form(csrf, "Prod critical", position="5")
    )
    assert saved.status_code == 303
    deleted = await client.post(f"{page_url}/rules/{rule_id}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 303
    assert [rid for rid, _ in await rules_of(db, integration["id"])] == [default_id]
    missing = await client.get(f"{page_url}/rules/{rule_id}")
    assert missing.status_code == 404


async def test_settings_and_key_rotation(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    integration = await make_integration(client, desk, "alertmanager")
    page_url = f"/admin/integrations/{integration['id']}"
    csrf = await as_admin(client)
    bad = await client.post(
        page_url,
        data={
            "csrf_token": csrf,
            "name": "Prometheus",
            "rate_limit_per_s": "-3",
            "group_by": "alertname",
            "group_window_s": "600",
        },
    )
    assert bad.status_code == 422
    assert 'id="s-rate_limit_per_s-error"' in bad.text
    good = await client.post(
        page_url,
        data={
            "csrf_token": csrf,
            "name": "Prometheus",
            "rate_limit_per_s": "50",
            "group_by": "alertname, cluster",
            "group_window_s": "600",
        },
    )
    assert good.status_code == 303
    listed = await client.get("/api/v1/integrations", headers=desk.admin.headers)
    (row,) = listed.json()
    assert (row["name"], row["rate_limit_per_s"], row["group_by"]) == (
        "Prometheus",
        50,
        ["alertname", "cluster"],
    )

    rotated = await client.post(f"{page_url}/rotate-key", data={"csrf_token": csrf})
    assert rotated.status_code == 303
    shown = await client.get(page_url)
    new_key = re.search(r'id="new-key".*?<code>([0-9a-f]+)</code>', shown.text, re.S)
    assert new_key is not None
    old = await client.post(
        f"/api/v1/alerts/alertmanager/{integration['key']}", json=am_payload([am_alert("X")])
    )
    assert old.status_code == 401
    new = await client.post(
        f"/api/v1/alerts/alertmanager/{new_key.group(1)}", json=am_payload([am_alert("X")])
    )
    assert new.status_code == 200
    assert "new-key" not in (await client.get(page_url)).text  # shown once


@pytest.mark.parametrize("who", NOT_ADMINS)
async def test_only_admins_see_or_change_rules(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock, who: str
) -> None:
    integration = await make_integration(client, desk, "alertmanager")
    page_url = f"/admin/integrations/{integration['id']}"
    csrf = await as_someone(client, desk, db, clock, who)
    assert (await client.get(page_url)).status_code == 403
    refused = await client.post(f"{page_url}/rules", data=rule_form(csrf, "Sneaky"))
    assert refused.status_code == 403
    assert len(await rules_of(db, integration["id"])) == 1
