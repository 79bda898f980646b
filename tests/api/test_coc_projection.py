"""``fields`` on the COC list and histories: only the named keys (and the row's key) come
back; an unknown name is COC's parameter error naming ``fields``."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from opsdesk.api.coc.fields import HISTORY_FIELDS, TICKET_FIELDS, V1_HISTORY_FIELDS
from opsdesk.core.clock import FixedClock
from tests.api.coc_sdk_models import MODELS
from tests.api.test_coc_api import coc
from tests.factories import Desk, create_incident

ALL_TICKET_KEYS = {
    "ticket_id",
    "title",
    "description",
    "level_id",
    "mtm_type",
    "mtm_region",
    "source_id",
    "forward_rule_id",
    "enterprise_project_id",
    "current_cloud_service_id",
    "is_service_interrupt",
    "work_flow_status",
    "phase",
    "assignee",
    "creator",
    "operator",
    "create_time",
    "update_time",
    "start_time",
    "handle_time",
    "incident_ownership",
    "enum_data_list",
}


def test_the_selectable_fields_are_the_keys_of_the_sdk_models() -> None:
    assert set(MODELS["CocIncidentDataV2"]) == TICKET_FIELDS == ALL_TICKET_KEYS
    # Plus action_id, where an automation step names itself (as in COC's published example).
    assert set(MODELS["CocTicketHistoryBaseInfoV2"]) | {"action_id"} == HISTORY_FIELDS
    assert set(MODELS["TicketHistoryInfo"]) >= V1_HISTORY_FIELDS


async def test_list_returns_only_the_named_fields_and_the_ticket_id(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    vpn = await create_incident(client, desk.tech, title="VPN down", level="P2")
    await create_incident(client, desk.tech, title="Printer jam")
    full = (await coc(client, desk.tech, "POST", "/v2/incidents/list", {}))["data"]
    assert [set(ticket) for ticket in full["tickets"]] == [ALL_TICKET_KEYS] * 2

    body = {
        "fields": ["title", "level_id", "handle_time"],
        "string_filters": [{"field": "title", "operator": "like", "values": ["vpn"]}],
    }
    data = (await coc(client, desk.tech, "POST", "/v2/incidents/list", body))["data"]
    assert data["total"] == 1
    assert data["tickets"] == [
        {
            "ticket_id": vpn["number"],
            "title": "VPN down",
            "level_id": "level_20",
            "handle_time": None,
        }
    ]
    # Counts and groups are not rows: they are not projected.
    grouped = (
        await coc(
            client,
            desk.tech,
            "POST",
            "/v2/incidents/list",
            {"fields": ["ticket_id"], "group_by_filter": {"field": "level_id"}},
        )
    )["data"]
    assert [set(ticket) for ticket in grouped["tickets"]] == [{"ticket_id"}] * 2
    assert sum(group["count"] for group in grouped["group_by"]) == 2


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        (["title", "password"], "fields[1]: unknown field 'password'"),
        # Filterable, but not a key of COC's ticket.
        (["workgroup"], "fields[0]: unknown field 'workgroup'"),
        ([3], "fields[0]: must be a string"),
        ("title", "fields: must be an array"),
    ],
)
async def test_list_refuses_an_unknown_field_with_the_parameter_error(
    client: httpx.AsyncClient, desk: Desk, fields: object, bad: str
) -> None:
    error = await coc(client, desk.tech, "POST", "/v2/incidents/list", {"fields": fields}, 400)
    assert error["error_code"] == "GOM.00007256"
    assert error["error_msg"].startswith(f"Parameter error: {bad}"), error


async def test_histories_return_only_the_named_fields(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    created = await create_incident(client, desk.user, title="Checkout fails")
    number = created["number"]
    started = clock.now()
    clock.advance(timedelta(minutes=5))
    step = await client.post(
        f"/api/v1/incidents/{number}/automation-steps",
        json={
            "step_id": "main",
            "name_en": "Contingency plan",
            "outcome": "failed",
            "started_at": (started + timedelta(seconds=1)).isoformat(),
            "finished_at": (started + timedelta(minutes=4)).isoformat(),
            "comment": "quota exceeded",
        },
        headers=desk.tech.headers,
    )
    assert step.status_code == 201, step.text
    clock.advance(timedelta(minutes=1))
    accepted = await client.post(
        f"/api/v1/incidents/{number}/actions/accept", json={}, headers=desk.tech.headers
    )
    assert accepted.status_code == 200, accepted.text

    body = {"fields": ["action", "status"], "sort_filter": {"field": "start_time"}}
    data = (await coc(client, desk.tech, "POST", f"/v2/incidents/{number}/histories", body))["data"]
    assert data["total"] == 3
    # An automation step names itself in action_id: asking for the action brings it along.
    assert data["info"] == [
        {"action": "incident_accept", "status": "INCIDENT_STATUS_ACKNOWLEDGED"},
        {"action_id": "main", "status": "INCIDENT_STATUS_TRIGGERED"},
        {"action": "create_incident", "status": "INCIDENT_STATUS_TRIGGERED"},
    ]
    timed = (
        await coc(
            client,
            desk.tech,
            "POST",
            f"/v2/incidents/{number}/histories",
            {"fields": ["start_time", "enum_data_list"]},
        )
    )["data"]["info"]
    assert [set(row) for row in timed] == [{"start_time", "enum_data_list"}] * 3

    error = await coc(
        client,
        desk.tech,
        "POST",
        f"/v2/incidents/{number}/histories",
        {"fields": ["start_time", "ticket_id"]},
        400,
    )
    assert error["error_code"] == "GOM.00007256"
    assert error["error_msg"] == "Parameter error: fields[1]: unknown field 'ticket_id'"

    # v1 rows keep their key: the row id and the incident number.
    v1 = (
        await coc(
            client,
            desk.tech,
            "POST",
            "/v1/external/incident/list-histories",
            {
                "string_filters": [{"field": "ticket_id", "operator": "=", "values": [number]}],
                "fields": ["comment"],
            },
        )
    )["data"]["info"]
    assert len(v1) == 3
    assert all(set(row) <= {"id", "ticket_id", "comment"} for row in v1)
    assert all({"id", "ticket_id"} <= set(row) for row in v1)
    assert {row.get("comment") for row in v1} >= {"quota exceeded"}


async def test_native_search_projects_and_refuses_unknown_fields(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    await create_incident(client, desk.tech, title="VPN down", level="P1")
    page = await client.post(
        "/api/v1/incidents/search",
        json={"fields": ["title", "workgroup"]},
        headers=desk.tech.headers,
    )
    assert page.status_code == 200, page.text
    assert [set(item) for item in page.json()["items"]] == [{"number", "title", "workgroup"}]
    refused = await client.post(
        "/api/v1/incidents/search", json={"fields": ["handle_time"]}, headers=desk.tech.headers
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "fields[0]"
