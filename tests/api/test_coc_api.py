"""The COC-compatible routes: envelope, errors, detail, ListIncidents and histories."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from opsdesk.core.clock import FixedClock
from tests.factories import Actor, Desk, create_incident


def coc_headers(actor: Actor) -> dict[str, str]:
    return {"X-Auth-Token": actor.token}


async def coc(
    client: httpx.AsyncClient,
    actor: Actor,
    method: str,
    path: str,
    body: Any = None,
    status: int = 200,
) -> dict[str, Any]:
    response = await client.request(method, path, json=body, headers=coc_headers(actor))
    assert response.status_code == status, response.text
    payload: dict[str, Any] = response.json()
    assert set(payload) == {"provider_code", "error_code", "error_msg", "data"}
    assert payload["provider_code"] == "049"
    if status == 200:
        assert (payload["error_code"], payload["error_msg"]) == ("GOM.00000000", None)
    return payload


SEED_REQUEST = {
    "sort_filter": {
        "operator": "desc",
        "field": "start_time",
        "name": "start_time",
        "values": ["start_time"],
    }
}


async def test_seed_histories_request_returns_the_seed_shape(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    created = await create_incident(client, desk.user, title="Checkout fails")
    number = created["number"]
    clock.advance(timedelta(minutes=3))
    accepted = await client.post(
        f"/api/v1/incidents/{number}/actions/accept", json={}, headers=desk.tech.headers
    )
    assert accepted.status_code == 200, accepted.text
    data = (
        await coc(client, desk.tech, "POST", f"/v2/incidents/{number}/histories", SEED_REQUEST)
    )["data"]
    assert data["total"] == 2
    first, last = data["info"]
    assert first["action"] == "incident_accept"
    assert last["action"] == "create_incident"
    assert first["start_time"] > last["start_time"]  # newest first
    for row in data["info"]:
        assert isinstance(row["start_time"], int)
        assert isinstance(row["action_name_en"], str)
        assert isinstance(row["action_name_zh"], str)
        assert row["status"].startswith("INCIDENT_STATUS_")
        assert isinstance(row["enum_data_list"], list)
    assert first["status"] == "INCIDENT_STATUS_ACKNOWLEDGED"
    assert first["enum_data_list"][0]["prop_id"] == "operator"
    assert first["enum_data_list"][0]["biz_id"] == desk.tech.id
    # Filters narrow the history; the body may repeat the incident id, as Terraform does.
    only_create = await coc(
        client,
        desk.tech,
        "POST",
        f"/v2/incidents/{number}/histories",
        {
            "incident_id": number,
            "string_filters": [{"field": "action", "operator": "=", "values": ["create_incident"]}],
        },
    )
    assert [row["action"] for row in only_create["data"]["info"]] == ["create_incident"]


async def test_detail_and_errors_in_the_envelope(client: httpx.AsyncClient, desk: Desk) -> None:
    created = await create_incident(
        client, desk.tech, title="VPN down", level="P2", region="cn-north-4"
    )
    data = (await coc(client, desk.tech, "GET", f"/v1/external/incident/{created['number']}"))[
        "data"
    ]
    assert data["incident_num"] == created["number"]
    assert data["incident_level"] == "level_20"
    assert data["region"] == ["cn-north-4"]
    assert data["enterprise_project"] == ["0"]
    assert isinstance(data["create_time"], int)
    assert data["status"] == "INCIDENT_STATUS_TRIGGERED"
    # Someone else's incident does not exist for an end user.
    missing = await coc(
        client, desk.user, "GET", f"/v1/external/incident/{created['number']}", status=400
    )
    assert missing["error_code"] == "GOM.10000404"
    assert missing["data"] is None
    unauthenticated = await client.get(f"/v1/external/incident/{created['number']}")
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error_code"] == "common.01010001"


async def test_list_incidents_filters_pages_and_refuses_bad_parameters(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    numbers = []
    for n, level in enumerate(("P1", "P2", "P1")):
        numbers.append(
            (await create_incident(client, desk.tech, title=f"t{n}", level=level))["number"]
        )
        clock.advance(timedelta(minutes=1))
    body = {
        "page": 1,
        "per_page": 1,
        "contain_total": True,
        "string_filters": [{"field": "level_id", "operator": "=", "values": ["level_10"]}],
        "sort_filter": {"operator": "desc", "field": "create_time", "values": ["create_time"]},
    }
    data = (await coc(client, desk.tech, "POST", "/v2/incidents/list", body))["data"]
    assert data["total"] == 2
    (ticket,) = data["tickets"]
    assert ticket["ticket_id"] == numbers[2]
    assert all(
        isinstance(value, str)
        for value in ticket.values()
        if value is not None and not isinstance(value, list)
    )
    assert ticket["is_service_interrupt"] == "false"
    for bad, words in (
        ({"per_page": 201}, "per_page"),
        (
            {"string_filters": [{"field": "level_id", "operator": "~", "values": ["x"]}]},
            "string_filters[0].operator",
        ),
        (
            {"string_filters": [{"field": "nope", "operator": "=", "values": ["x"]}]},
            "string_filters[0].field",
        ),
        ({"condition": "a | (b"}, "condition"),
    ):
        error = await coc(client, desk.tech, "POST", "/v2/incidents/list", bad, status=400)
        assert error["error_code"] == "GOM.00007256"
        assert words in error["error_msg"]
    not_json = await client.post("/v2/incidents/list", content=b"{", headers=coc_headers(desk.tech))
    assert not_json.status_code == 400
    assert not_json.json()["error_code"] == "GOM.00007256"
