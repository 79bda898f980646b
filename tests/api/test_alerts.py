"""Alert receivers through the ASGI stack, on both databases, with real payload shapes."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from opsdesk.alerts.models import Alert, AlertGroup, ConversionRule
from opsdesk.core import job_admin
from opsdesk.core.database import Database
from opsdesk.incidents.events import INCIDENT_CHANGED
from opsdesk.incidents.models import Incident, IncidentHistory
from tests.factories import Desk


async def make_integration(
    client: httpx.AsyncClient, desk: Desk, kind: str, name: str | None = None, **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/integrations",
        json={"name": name or f"{kind} source", "kind": kind, **extra},
        headers=desk.admin.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def am_alert(name: str, status: str = "firing", **labels: str) -> dict[str, Any]:
    all_labels = {"alertname": name, "severity": "critical", "instance": "db1:9100", **labels}
    return {
        "status": status,
        "labels": all_labels,
        "annotations": {"summary": f"{name} on {all_labels['instance']}"},
        "startsAt": "2026-03-02T09:58:00Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-03-02T10:05:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up+%3D%3D+0",
    }


def am_payload(
    alerts: list[dict[str, Any]], group: str = '{}:{alertname="DiskFull"}'
) -> dict[str, Any]:
    firing = any(alert["status"] == "firing" for alert in alerts)
    return {
        "version": "4",
        "groupKey": group,
        "truncatedAlerts": 0,
        "status": "firing" if firing else "resolved",
        "receiver": "opsdesk",
        "groupLabels": {"alertname": "DiskFull"},
        "commonLabels": {"alertname": "DiskFull"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": alerts,
    }


async def count(db: Database, model: Any, *where: Any) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def changed_jobs(db: Database) -> int:
    async with db.read() as session:
        return len(
            [
                job
                for job in await job_admin.list_jobs(session, state="ready", limit=1000, offset=0)
                if job.kind == INCIDENT_CHANGED
            ]
        )


async def test_alertmanager_firing_repeat_resolved(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    integration = await make_integration(client, desk, "alertmanager")
    url = f"/api/v1/alerts/alertmanager/{integration['key']}"
    before_jobs = await changed_jobs(db)
    first = await client.post(url, json=am_payload([am_alert("DiskFull")]))
    assert first.status_code == 200, first.text
    [number] = first.json()["incidents"]
    async with db.read() as session:
        incident = await session.scalar(select(Incident).where(Incident.number == number))
    assert incident is not None
    assert incident.title == "DiskFull on db1:9100"
    assert incident.level == "level_20"  # critical → P2
    assert incident.source == "incident_source_alarm"
    assert incident.channel == "monitoring"
    assert await changed_jobs(db) == before_jobs + 1
    # COC's forward_rule_id: the integration's default conversion rule opened it.
    async with db.read() as session:
        rule_id = await session.scalar(select(ConversionRule.id))
    assert rule_id is not None and incident.forward_rule_id == rule_id
    native = await client.get(f"/api/v1/incidents/{incident.number}", headers=desk.admin.headers)
    assert native.json()["forward_rule_id"] == rule_id
    listed = await client.post(
        "/v2/incidents/list", json={"page": 1, "per_page": 10}, headers=desk.admin.headers
    )
    tickets = listed.json()["data"]["tickets"]
    assert [t["forward_rule_id"] for t in tickets] == [str(rule_id)]

    again = await client.post(url, json=am_payload([am_alert("DiskFull")]))
    assert again.status_code == 200 and again.json()["incidents"] == []
    async with db.read() as session:
        alert = await session.scalar(select(Alert))
    assert alert is not None and alert.count == 2 and alert.status == "firing"
    assert await count(db, Incident) == 1

    resolved = await client.post(url, json=am_payload([am_alert("DiskFull", status="resolved")]))
    assert resolved.status_code == 200
    async with db.read() as session:
        alert = await session.scalar(select(Alert))
        notes = list(
            await session.scalars(
                select(IncidentHistory.comment).where(
                    IncidentHistory.incident_id == incident.id,
                    IncidentHistory.action == "incident_work_log",
                )
            )
        )
    assert alert is not None and alert.status == "resolved" and alert.resolved_at is not None
    assert notes == ["1 alert(s) resolved: DiskFull on db1:9100. Still firing: 0."]
    # The same resolved alert again is not noted twice.
    await client.post(url, json=am_payload([am_alert("DiskFull", status="resolved")]))
    assert await count(db, IncidentHistory, IncidentHistory.action == "incident_work_log") == 1


async def test_grafana_payload_opens_an_incident(client: httpx.AsyncClient, desk: Desk) -> None:
    integration = await make_integration(client, desk, "grafana")
    payload = {
        "receiver": "opsdesk",
        "status": "firing",
        "orgId": 1,
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "HighLatency",
                    "grafana_folder": "api",
                    "severity": "warning",
                },
                "annotations": {"summary": "p99 latency above 2 s"},
                "startsAt": "2026-03-02T09:58:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://grafana/alerting/grafana/abc/view",
                "fingerprint": "a1b2c3d4e5f60718",
                "silenceURL": "http://grafana/alerting/silence/new",
                "dashboardURL": "http://grafana/d/x",
                "panelURL": "http://grafana/d/x?viewPanel=2",
                "imageURL": "",
                "values": {"B": 2.4, "C": 1},
                "valueString": "[ var='B' value=2.4 ]",
            }
        ],
        "groupLabels": {"alertname": "HighLatency"},
        "commonLabels": {"alertname": "HighLatency"},
        "commonAnnotations": {},
        "externalURL": "http://grafana/",
        "version": "1",
        "groupKey": '{}:{alertname="HighLatency"}',
        "truncatedAlerts": 0,
        "title": "[FIRING:1] HighLatency",
        "state": "alerting",
        "message": "**Firing** ...",
    }
    response = await client.post(f"/api/v1/alerts/grafana/{integration['key']}", json=payload)
    assert response.status_code == 200, response.text
    assert len(response.json()["incidents"]) == 1
    groups = await client.get("/api/v1/alert-groups", headers=desk.tech.headers)
    [group] = groups.json()
    assert group["title"] == "p99 latency above 2 s" and group["firing"] == 1
    detail = await client.get(f"/api/v1/alert-groups/{group['id']}", headers=desk.tech.headers)
    assert detail.json()["alerts"][0]["dedup_key"] == "a1b2c3d4e5f60718"
    assert detail.json()["alerts"][0]["link"] == "http://grafana/alerting/grafana/abc/view"


@pytest.mark.parametrize(
    ("mutate", "status", "field"),
    [
        (lambda p: p.update(extra=1), 422, "extra"),
        (lambda p: p["alerts"][0].update(status="flapping"), 422, "alerts[0].status"),
        (lambda p: p["alerts"][0].update(labels={}), 422, "alerts[0].labels"),
        (lambda p: p["alerts"][0]["labels"].update(port=9100), 422, "alerts[0].labels.port"),
        (lambda p: p["alerts"][0].update(color="red"), 422, "alerts[0].color"),
        (lambda p: p.pop("alerts"), 422, "alerts"),
    ],
)
async def test_bad_alertmanager_payloads_name_the_field(
    client: httpx.AsyncClient, desk: Desk, db: Database, mutate: Any, status: int, field: str
) -> None:
    integration = await make_integration(client, desk, "alertmanager")
    payload = am_payload([am_alert("DiskFull")])
    mutate(payload)
    response = await client.post(f"/api/v1/alerts/alertmanager/{integration['key']}", json=payload)
    assert response.status_code == status
    assert response.json()["error"]["field"] == field
    assert await count(db, Alert) == 0 and await count(db, Incident) == 0


async def test_bad_keys_are_refused(client: httpx.AsyncClient, desk: Desk, db: Database) -> None:
    generic = await make_integration(client, desk, "generic")
    body = am_payload([am_alert("DiskFull")])
    unknown = await client.post("/api/v1/alerts/alertmanager/" + "0" * 32, json=body)
    assert unknown.status_code == 401
    assert unknown.json()["error"]["field"] == "integration_key"
    # A generic key does not open the Alertmanager door.
    wrong_kind = await client.post(f"/api/v1/alerts/alertmanager/{generic['key']}", json=body)
    assert wrong_kind.status_code == 401
    await client.patch(
        f"/api/v1/integrations/{generic['id']}", json={"active": False}, headers=desk.admin.headers
    )
    inactive = await client.post(f"/api/v1/alerts/generic/{generic['key']}", json={"summary": "x"})
    assert inactive.status_code == 401
    assert await count(db, Alert) == 0


async def test_only_admins_manage_integrations(client: httpx.AsyncClient, desk: Desk) -> None:
    response = await client.post(
        "/api/v1/integrations", json={"name": "x", "kind": "generic"}, headers=desk.tech.headers
    )
    assert response.status_code == 403
    bad_kind = await client.post(
        "/api/v1/integrations", json={"name": "x", "kind": "nagios"}, headers=desk.admin.headers
    )
    assert bad_kind.status_code == 422 and bad_kind.json()["error"]["field"] == "kind"
    anonymous = await client.get("/api/v1/alert-groups")
    assert anonymous.status_code == 401
    end_user = await client.get("/api/v1/alert-groups", headers=desk.user.headers)
    assert end_user.status_code == 403


async def test_storm_of_ten_thousand_opens_one_incident(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    integration = await make_integration(client, desk, "alertmanager", rate_limit_per_s=0)
    url = f"/api/v1/alerts/alertmanager/{integration['key']}"
    before_jobs = await changed_jobs(db)
    posts = [
        am_payload([am_alert("DiskFull", instance=f"node{post}-{i}") for i in range(500)])
        for post in range(20)
    ]
    responses = await asyncio.gather(*(client.post(url, json=body) for body in posts))
    assert all(response.status_code == 200 for response in responses)
    assert sum(len(r.json()["incidents"]) for r in responses) == 1
    assert await count(db, Incident) == 1
    assert await count(db, Alert) == 10_000
    assert await count(db, AlertGroup) == 1
    assert await changed_jobs(db) == before_jobs + 1
    async with db.read() as session:
        group = await session.scalar(select(AlertGroup))
    assert group is not None and group.alert_count == 10_000


async def test_rate_limit_answers_429_with_retry_after(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    integration = await make_integration(client, desk, "generic", rate_limit_per_s=1)
    url = f"/api/v1/alerts/generic/{integration['key']}"
    first = await client.post(url, json={"summary": "s0"})
    assert first.status_code == 200
    # Sent together, they reach the limiter within microseconds of each other.
    burst = await asyncio.gather(
        *(client.post(url, json={"summary": f"s{i}"}) for i in range(1, 6))
    )
    limited = [r for r in burst if r.status_code == 429]
    assert limited, [r.status_code for r in burst]
    assert int(limited[0].headers["retry-after"]) >= 1
    assert limited[0].json()["error"]["field"] == "integration_key"
    stored = 1 + sum(1 for r in burst if r.status_code == 200)
    assert await count(db, Alert) == stored
