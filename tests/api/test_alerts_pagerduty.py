"""PagerDuty Events API v2 compatibility, the generic webhook and conversion rules."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from opsdesk.alerts.models import Alert, AlertGroup
from opsdesk.core.database import Database
from opsdesk.incidents.models import Incident
from tests.api.test_alerts import count, make_integration
from tests.factories import Desk


def trigger(key: str, dedup_key: str | None = "disk-db1", **payload: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "routing_key": key,
        "event_action": "trigger",
        "payload": {
            "summary": "Disk on db1 is 95% full",
            "source": "db1.example.com",
            "severity": "error",
            "component": "postgres",
            "group": "prod-datapipe",
            "class": "disk",
            "custom_details": {"free space": "1 GB"},
            **payload,
        },
        "links": [{"href": "https://monitoring.example.com/db1", "text": "Dashboard"}],
        "client": "Sample Monitoring Service",
        "client_url": "https://monitoring.example.com",
    }
    if dedup_key is not None:
        event["dedup_key"] = dedup_key
    return event


async def incident_of(db: Database) -> Incident:
    async with db.read() as session:
        incident = await session.scalar(select(Incident))
    assert incident is not None
    return incident


async def test_trigger_repeat_acknowledge_resolve(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    integration = await make_integration(client, desk, "pagerduty")
    key = integration["key"]
    first = await client.post("/v2/enqueue", json=trigger(key))
    assert first.status_code == 202
    assert first.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "disk-db1",
    }
    incident = await incident_of(db)
    assert incident.level == "level_30"  # error → P3
    assert incident.title == "Disk on db1 is 95% full"
    again = await client.post("/v2/enqueue", json=trigger(key))
    assert again.status_code == 202
    assert await count(db, Incident) == 1
    async with db.read() as session:
        alert = await session.scalar(select(Alert))
    assert alert is not None and alert.count == 2
    assert alert.link == "https://monitoring.example.com/db1"

    ack = {"routing_key": key, "dedup_key": "disk-db1", "event_action": "acknowledge"}
    assert (await client.post("/v2/enqueue", json=ack)).status_code == 202
    incident = await incident_of(db)
    assert incident.status == "INCIDENT_STATUS_ACKNOWLEDGED"

    resolve = {"routing_key": key, "dedup_key": "disk-db1", "event_action": "resolve"}
    assert (await client.post("/v2/enqueue", json=resolve)).status_code == 202
    async with db.read() as session:
        alert = await session.scalar(select(Alert))
    assert alert is not None and alert.status == "resolved"


async def test_trigger_without_dedup_key_gets_one(client: httpx.AsyncClient, desk: Desk) -> None:
    integration = await make_integration(client, desk, "pagerduty")
    response = await client.post("/v2/enqueue", json=trigger(integration["key"], dedup_key=None))
    assert response.status_code == 202
    assert len(response.json()["dedup_key"]) == 32


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ({"event_action": "explode"}, "event_action: must be trigger, acknowledge or resolve"),
        ({"event_action": "resolve", "dedup_key": None}, "dedup_key: is required for resolve"),
        ({"payload": {"summary": "x", "source": "y", "severity": "fatal"}}, "payload.severity"),
        ({"payload": {"source": "y", "severity": "info"}}, "payload.summary: is required"),
        ({"colour": "red"}, "colour: unknown field"),
        ({"routing_key": "f" * 32}, "routing_key: no active PagerDuty integration"),
    ],
)
async def test_bad_events_get_pagerdutys_400(
    client: httpx.AsyncClient, desk: Desk, db: Database, event: dict[str, Any], error: str
) -> None:
    integration = await make_integration(client, desk, "pagerduty")
    body = trigger(integration["key"]) | event
    if body.get("dedup_key") is None:
        body.pop("dedup_key", None)
        if body["event_action"] == "resolve":
            body["dedup_key"] = None
    response = await client.post("/v2/enqueue", json=body)
    assert response.status_code == 400
    assert response.json()["status"] == "invalid event"
    assert response.json()["message"] == "Event object is invalid"
    assert response.json()["errors"][0].startswith(error)
    assert await count(db, Alert) == 0


async def test_malformed_json_is_a_pagerduty_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v2/enqueue", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["status"] == "invalid event"


async def test_generic_webhook_single_and_list(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    integration = await make_integration(client, desk, "generic", group_by=["service"])
    url = f"/api/v1/alerts/generic/{integration['key']}"
    one = await client.post(
        url,
        json={
            "summary": "Checkout error rate 12%",
            "severity": "critical",
            "source": "nagios",
            "labels": {"service": "checkout", "host": "web1"},
            "details": {"rate": 0.12},
            "link": "https://nagios.example.com/web1",
        },
    )
    assert one.status_code == 200 and len(one.json()["incidents"]) == 1
    many = await client.post(
        url,
        json={
            "alerts": [
                {
                    "summary": "Checkout error rate 12%",
                    "labels": {"service": "checkout", "host": "web2"},
                },
                {"summary": "Search slow", "severity": "info", "labels": {"service": "search"}},
            ]
        },
    )
    assert many.status_code == 200
    assert len(many.json()["incidents"]) == 1  # checkout's group already has one
    assert await count(db, AlertGroup) == 2
    async with db.read() as session:
        levels = sorted(await session.scalars(select(Incident.level)))
    assert levels == ["level_20", "level_40"]
    bad = await client.post(url, json={"summary": "x", "status": "maybe"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "status"
    unknown = await client.post(url, json={"alerts": [{"summary": "x", "priority": 1}]})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "alerts[0].priority"


async def test_rules_choose_level_owner_and_auto_resolve(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    integration = await make_integration(client, desk, "generic", group_by=["service"])
    rule = await client.post(
        f"/api/v1/integrations/{integration['id']}/rules",
        json={
            "name": "Payments page the on-call",
            "position": 1,
            "conditions": [{"key": "service", "op": "eq", "value": "payments"}],
            "level": "level_10",
            "category": "inc_type_p_reliability_issues",
            "assignee_id": desk.tech.id,
            "auto_resolve": True,
        },
        headers=desk.admin.headers,
    )
    assert rule.status_code == 201, rule.text
    quiet = await client.post(
        f"/api/v1/integrations/{integration['id']}/rules",
        json={
            "name": "Ignore test",
            "position": 2,
            "conditions": [{"key": "env", "op": "eq", "value": "test"}],
            "creates_incident": False,
        },
        headers=desk.admin.headers,
    )
    assert quiet.status_code == 201
    url = f"/api/v1/alerts/generic/{integration['key']}"
    payments = {"summary": "Payments down", "labels": {"service": "payments"}}
    opened = await client.post(url, json=payments)
    [number] = opened.json()["incidents"]
    ignored = await client.post(url, json={"summary": "t", "labels": {"env": "test"}})
    assert ignored.json()["incidents"] == []
    incident = await incident_of(db)
    assert incident.number == number and incident.level == "level_10"
    assert incident.assignee_id == desk.tech.id
    await client.post(url, json=payments | {"status": "resolved"})
    incident = await incident_of(db)
    assert incident.status == "INCIDENT_STATUS_RESOLVED"
    assert incident.category == "inc_type_p_reliability_issues"
    # Firing again after the auto-resolve opens a new incident for a new group.
    again = await client.post(url, json=payments)
    assert len(again.json()["incidents"]) == 1


async def test_bad_rules_name_the_field(client: httpx.AsyncClient, desk: Desk) -> None:
    integration = await make_integration(client, desk, "generic")
    url = f"/api/v1/integrations/{integration['id']}/rules"
    six = [{"key": "a", "op": "eq", "value": "b"}] * 6
    too_many = await client.post(
        url, json={"name": "x", "conditions": six}, headers=desk.admin.headers
    )
    assert too_many.status_code == 422 and "at most 5" in too_many.json()["error"]["message"]
    bad_op = await client.post(
        url,
        json={"name": "x", "conditions": [{"key": "a", "op": "like", "value": "b"}]},
        headers=desk.admin.headers,
    )
    assert bad_op.status_code == 422 and "conditions[0].op" in bad_op.json()["error"]["message"]


async def test_concurrent_posts_for_one_group_open_one_incident(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    integration = await make_integration(
        client, desk, "generic", group_by=["service"], rate_limit_per_s=0
    )
    url = f"/api/v1/alerts/generic/{integration['key']}"
    bodies = [
        {"summary": f"api error {i}", "labels": {"service": "api", "pod": f"api-{i}"}}
        for i in range(16)
    ]
    responses = await asyncio.gather(*(client.post(url, json=body) for body in bodies))
    assert [r.status_code for r in responses] == [200] * 16
    assert sum(len(r.json()["incidents"]) for r in responses) == 1
    assert await count(db, Incident) == 1


async def test_quiet_groups_and_finished_incidents_make_way_for_new_ones(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: Any
) -> None:
    from datetime import timedelta

    integration = await make_integration(
        client, desk, "generic", group_by=["service"], group_window_s=60
    )
    url = f"/api/v1/alerts/generic/{integration['key']}"
    rules = await client.get(
        f"/api/v1/integrations/{integration['id']}/rules", headers=desk.admin.headers
    )
    await client.post(
        f"/api/v1/integrations/{integration['id']}/rules",
        json={
            "name": "Batch jobs stay alerts",
            "position": 1,
            "conditions": [{"key": "service", "op": "eq", "value": "batch"}],
            "creates_incident": False,
        },
        headers=desk.admin.headers,
    )
    assert rules.status_code == 200
    batch = {"summary": "nightly job late", "labels": {"service": "batch"}}
    await client.post(url, json=batch)
    await client.post(url, json=batch)
    clock.advance(timedelta(minutes=2))
    await client.post(url, json=batch)  # quiet past its window: a new group
    assert await count(db, AlertGroup) == 2
    # An incident that is rejected no longer holds its group.
    web = {"summary": "web down", "labels": {"service": "web"}}
    [number] = (await client.post(url, json=web)).json()["incidents"]
    rejected = await client.post(
        f"/api/v1/incidents/{number}/actions/reject",
        json={"reason": "duplicate of another incident"},
        headers=desk.tech.headers,
    )
    assert rejected.status_code == 200, rejected.text
    again = await client.post(url, json=web)
    assert len(again.json()["incidents"]) == 1
    assert await count(db, AlertGroup) == 4
    # A group without an incident is not closed because another group's incident ended.
    await client.post(url, json=batch)
    assert await count(db, AlertGroup) == 4
    async with db.read() as session:
        alert = await session.scalar(select(Alert).where(Alert.summary == "web down"))
    assert alert is not None and alert.count == 2
