"""COC alarm routes and COC's custom-event receiver, through the ASGI stack."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from opsdesk.alerts.models import Alert
from opsdesk.core.database import Database
from opsdesk.incidents.models import Incident, IncidentHistory
from tests.api.test_alerts import count, make_integration
from tests.factories import Desk


def custom_event(**changes: Any) -> dict[str, Any]:
    event = {
        "alarmId": "ces-cpu-0001",
        "alarmName": "CPU usage high",
        "alarmLevel": "Major",
        "time": 1772445600000,
        "nameSpace": "SYS.ECS",
        "regionId": "cn-north-4",
        "resourceName": "ecs-web-01",
        "resourceId": "4f1c",
        "alarmDesc": "CPU usage above 90% for 5 minutes",
        "URL": "https://console.example.com/ces",
        "alarmStatus": "alarm",
        "alarmSource": "CES",
        "additional": {"threshold": 90},
    }
    return event | changes


async def alarm_of(
    client: httpx.AsyncClient, desk: Desk, kind: str = "coc"
) -> tuple[dict[str, Any], str]:
    integration = await make_integration(client, desk, kind)
    response = await client.post(
        f"/v1/event/huawei/custom/{integration['key']}", json=custom_event()
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "error_code": "COC.00000000",
        "error_msg": "success",
        "data": None,
        "provider_code": "049",
    }
    groups = (await client.get("/api/v1/alert-groups", headers=desk.tech.headers)).json()
    return integration, str(groups[0]["id"])


async def test_custom_event_opens_an_incident_and_show_alarm(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    integration, alarm_id = await alarm_of(client, desk)
    await client.post(f"/v1/event/huawei/custom/{integration['key']}", json=custom_event())
    shown = await client.get(f"/v1/alarm-mgmt/alarm/{alarm_id}", headers=desk.tech.headers)
    assert shown.status_code == 200, shown.text
    data = shown.json()["data"]
    async with db.read() as session:
        incident = await session.scalar(select(Incident))
    assert incident is not None and incident.level == "level_30"  # Major → error → P3
    assert data["id"] == alarm_id and data["status"] == "alarming"
    assert data["importance"] == "major" and data["converge_count"] == 2
    assert data["associate_event_id"] == incident.number
    assert data["come_from"] == "coc" and data["transfer_rule"] is not None


async def test_custom_event_errors_in_cocs_shape(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    integration = await make_integration(client, desk, "coc")
    url = f"/v1/event/huawei/custom/{integration['key']}"
    missing = await client.post(url, json={"alarmLevel": "Major"})
    assert missing.status_code == 400
    assert missing.json()["error_code"] == "COC.00000001"
    assert missing.json()["error_msg"].startswith("alarmId must not be null | alarmName must not")
    level = await client.post(url, json=custom_event(alarmLevel="Severe"))
    assert level.status_code == 400 and "alarmLevel" in level.json()["error_msg"]
    unknown = await client.post(url, json=custom_event(colour="red"))
    assert unknown.status_code == 400 and "colour: unknown field" in unknown.json()["error_msg"]
    bad_key = await client.post("/v1/event/huawei/custom/" + "0" * 32, json=custom_event())
    assert bad_key.status_code == 401 and bad_key.json()["error_code"] == "common.01010001"
    assert await count(db, Alert) == 0


async def test_transfer_alarm_to_incident_and_clear(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    integration = await make_integration(client, desk, "generic")
    # A rule that keeps alerts as alarms only: converting is left to people (COC's way).
    rules = await client.get(
        f"/api/v1/integrations/{integration['id']}/rules", headers=desk.admin.headers
    )
    default = rules.json()[0]
    await client.put(
        f"/api/v1/integrations/{integration['id']}/rules/{default['id']}",
        json={"name": "Alarms only", "creates_incident": False},
        headers=desk.admin.headers,
    )
    await client.post(
        f"/api/v1/alerts/generic/{integration['key']}", json={"summary": "Queue backlog"}
    )
    groups = (await client.get("/api/v1/alert-groups", headers=desk.tech.headers)).json()
    alarm_id = str(groups[0]["id"])
    assert groups[0]["incident"] is None
    body = {
        "alarm_ids": alarm_id,
        "current_cloud_service_id": "app_email",
        "description": "Backlog on the mail queue",
        "is_service_interrupt": False,
        "level_id": "level_30",
        "mtm_type": "inc_type_p_performance_issues",
        "title": "Mail queue backlog",
        "source_id": "incident_source_alarm",
    }
    converted = await client.post(
        "/v1/alarm-mgmt/alarms-linked-incident", json=body, headers=desk.tech.headers
    )
    assert converted.status_code == 200, converted.text
    [number] = converted.json()["data"]
    assert number.startswith("IM")
    twice = await client.post(
        "/v1/alarm-mgmt/alarms-linked-incident", json=body, headers=desk.tech.headers
    )
    assert twice.status_code == 400 and number in twice.json()["error_msg"]
    cleared = await client.post(
        "/v1/alarm-mgmt/alarms/cancel",
        json={"alarm_ids": alarm_id, "remarks": "Queue drained"},
        headers=desk.tech.headers,
    )
    assert cleared.status_code == 200 and cleared.json()["data"] == [alarm_id]
    histories = await client.get(
        f"/v1/alarm-mgmt/alarm/{alarm_id}/handle-histories?offset=0&limit=10",
        headers=desk.tech.headers,
    )
    assert histories.json()["resolved_record"]["remarks"] == "Queue drained"
    shown = await client.get(f"/v1/alarm-mgmt/alarm/{alarm_id}", headers=desk.tech.headers)
    assert shown.json()["data"]["status"] == "resolved"
    async with db.read() as session:
        notes = list(
            await session.scalars(
                select(IncidentHistory.comment).where(IncidentHistory.action == "incident_work_log")
            )
        )
    assert notes == [f"Alarm {alarm_id} cleared by {desk.tech.caller.name}: Queue drained"]


async def test_alarm_routes_refuse_bad_input(client: httpx.AsyncClient, desk: Desk) -> None:
    _integration, alarm_id = await alarm_of(client, desk)
    base = {
        "alarm_ids": alarm_id,
        "current_cloud_service_id": "app_email",
        "description": "x",
        "is_service_interrupt": False,
        "level_id": "level_30",
        "mtm_type": "inc_type_p_performance_issues",
        "title": "t",
    }
    url = "/v1/alarm-mgmt/alarms-linked-incident"
    missing = await client.post(url, json={"alarm_ids": alarm_id}, headers=desk.tech.headers)
    assert missing.status_code == 400 and missing.json()["error_code"] == "GOM.00007256"
    unknown = await client.post(url, json=base | {"colour": 1}, headers=desk.tech.headers)
    assert unknown.status_code == 400 and "colour" in unknown.json()["error_msg"]
    not_ids = await client.post(url, json=base | {"alarm_ids": "abc"}, headers=desk.tech.headers)
    assert not_ids.status_code == 400 and "alarm_ids" in not_ids.json()["error_msg"]
    nobody = await client.post(url, json=base | {"alarm_ids": "999999"}, headers=desk.tech.headers)
    assert nobody.status_code == 400 and nobody.json()["error_code"] == "GOM.10000404"
    bad_level = await client.post(url, json=base | {"level_id": "P9"}, headers=desk.tech.headers)
    assert bad_level.status_code == 400 and "level_id" in bad_level.json()["error_msg"]
    end_user = await client.get(f"/v1/alarm-mgmt/alarm/{alarm_id}", headers=desk.user.headers)
    assert end_user.status_code == 400 and end_user.json()["error_code"] == "GOM.10000403"
    anonymous = await client.get(f"/v1/alarm-mgmt/alarm/{alarm_id}")
    assert anonymous.status_code == 401
    unknown_alarm = await client.get("/v1/alarm-mgmt/alarm/abc", headers=desk.tech.headers)
    assert unknown_alarm.json()["error_code"] == "GOM.10000404"
