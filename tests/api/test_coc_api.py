"""The COC-compatible routes: envelope, errors, detail, ListIncidents and histories."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.incidents.models import IncidentHistory
from tests.factories import Actor, Desk, create_incident
from tests.unit.test_filetypes import EXE, PNG, TEXT


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


# The keys of each row of the seed's response (003, "Response Examples"), newest first.
SEED_ROW_KEYS = [
    {"action", "operator", "start_time", "action_name_zh", "action_name_en", "status",
     "enum_data_list"},
    {"action_id", "comment", "start_time", "stop_time", "action_name_zh", "action_name_en",
     "status", "enum_data_list"},
    {"action", "start_time", "stop_time", "action_name_zh", "action_name_en", "status",
     "enum_data_list"},
]  # fmt: skip


async def test_seed_histories_request_returns_the_seed_shape(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    """The seed's scenario: created, a contingency plan step failed, then accepted."""
    created = await create_incident(client, desk.user, title="Checkout fails")
    number = created["number"]
    created_at = clock.now()
    clock.advance(timedelta(minutes=9))
    step = await client.post(
        f"/api/v1/incidents/{number}/automation-steps",
        json={
            "step_id": "main",
            "name_en": "Contingency Plan Auto Execution Failure",
            "outcome": "failed",
            "started_at": (created_at + timedelta(seconds=1)).isoformat(),
            "finished_at": (created_at + timedelta(minutes=8)).isoformat(),
            "comment": "Create project failed: quota exceeded.",
        },
        headers=desk.tech.headers,
    )
    assert step.status_code == 201, step.text
    clock.advance(timedelta(minutes=1))
    accepted = await client.post(
        f"/api/v1/incidents/{number}/actions/accept", json={}, headers=desk.tech.headers
    )
    assert accepted.status_code == 200, accepted.text
    data = (
        await coc(client, desk.tech, "POST", f"/v2/incidents/{number}/histories", SEED_REQUEST)
    )["data"]
    assert set(data) == {"total", "info"}
    assert data["total"] == 3
    assert [set(row) for row in data["info"]] == SEED_ROW_KEYS
    first, step_row, last = data["info"]
    assert first["action"] == "incident_accept"
    assert last["action"] == "create_incident"
    assert step_row["action_id"] == "main"
    assert step_row["action_name_en"] == "Contingency Plan Auto Execution Failure"
    assert step_row["action_name_zh"] == "Contingency Plan Auto Execution Failure"
    assert step_row["comment"] == "Create project failed: quota exceeded."
    assert step_row["status"] == "INCIDENT_STATUS_TRIGGERED"
    assert step_row["enum_data_list"] == []
    assert step_row["stop_time"] - step_row["start_time"] == (8 * 60 - 1) * 1000
    starts = [row["start_time"] for row in data["info"]]
    assert starts == sorted(starts, reverse=True)  # newest first
    for row in data["info"]:
        assert isinstance(row["start_time"], int)
        assert isinstance(row["action_name_en"], str)
        assert isinstance(row["action_name_zh"], str)
        assert row["status"].startswith("INCIDENT_STATUS_")
        assert isinstance(row["enum_data_list"], list)
    assert first["status"] == "INCIDENT_STATUS_ACKNOWLEDGED"
    assert first["enum_data_list"][0]["prop_id"] == "operator"
    assert first["enum_data_list"][0]["biz_id"] == desk.tech.id
    assert set(first["enum_data_list"][0]) == {"name_zh", "name_en", "biz_id", "prop_id"}
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


async def tasks(client: httpx.AsyncClient, actor: Actor, number: str) -> dict[str, Any]:
    nodes = (await coc(client, actor, "GET", f"/v2/incidents/{number}/tasks"))["data"]
    assert len(nodes) == 1
    node: dict[str, Any] = nodes[0]
    return node


async def act(
    client: httpx.AsyncClient,
    actor: Actor,
    number: str,
    action: str,
    params: dict[str, Any] | None = None,
    status: int = 200,
) -> dict[str, Any]:
    node = await tasks(client, actor, number)
    keys = {op["key"]: op["task_id"] for op in node["operations"]}
    task_id = keys.get(action, next(iter(keys.values()), "none"))
    body = {"task_id": task_id, "action": action, "params": params}
    return await coc(client, actor, "POST", f"/v2/incidents/{number}/actions", body, status)


async def test_full_lifecycle_through_the_v2_actions_alone(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    created = await coc(
        client,
        desk.tech,
        "POST",
        "/v1/external/incident/create",
        {
            "incident_title": "Payment gateway timeouts",
            "incident_description": "p99 above 5 s",
            "incident_level": "level_20",
            "incident_type": "inc_type_p_function_issues",
            "incident_source": "incident_source_manual",
            "is_service_interrupt": "true",
            "creator": desk.tech.id,
            "enterprise_project": ["0"],
            "current_cloud_service": ["app_website"],
            "incident_assignee": [desk.tech.id],
            "assignee_scene": "",
            "assignee_role": "",
            "start_time": int(clock.now().timestamp() * 1000) - 60_000,
        },
    )
    number = created["data"]["incident_num"]
    assert number.startswith("IM")
    node = await tasks(client, desk.tech, number)
    assert node["key"] == "new"
    assert {"accepted", "rejected", "unAcceptedForward", "addRemark"} <= {
        op["key"] for op in node["operations"]
    }
    await act(client, desk.tech, number, "accepted")
    assert (await tasks(client, desk.tech, number))["key"] == "in_progress"
    clock.advance(timedelta(minutes=30))
    await act(
        client,
        desk.tech,
        number,
        "commitSolution",
        {
            "mtm_type": "inc_type_p_function_issues",
            "is_service_interrupt": True,
            "start_time": int(clock.now().timestamp() * 1000) - 1_800_000,
            "fault_recovery_time": int(clock.now().timestamp() * 1000),
            "cause": "connection pool exhausted",
            "solution": "raised the pool size and restarted",
            "resolve_attachments": "",
        },
    )
    assert (await tasks(client, desk.tech, number))["key"] == "resolved"
    await act(
        client,
        desk.tech,
        number,
        "confirm",
        {"virtual_confirm_result": True, "virtual_confirm_comment": "works again"},
    )
    detail = (await coc(client, desk.tech, "GET", f"/v1/external/incident/{number}"))["data"]
    assert detail["status"] == "INCIDENT_STATUS_COMPLETED"
    assert isinstance(detail["handle_time"], int)
    history = (
        await coc(client, desk.tech, "POST", f"/v2/incidents/{number}/histories", SEED_REQUEST)
    )["data"]
    assert [row["action"] for row in history["info"]] == [
        "incident_confirm",
        "incident_solution",
        "incident_accept",
        "create_incident",
    ]


async def test_reopen_resubmits_a_rejected_incident_with_corrected_fields(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock, db: Database
) -> None:
    created = await create_incident(client, desk.tech, title="Disk fulll", level="P4")
    number = created["number"]
    await act(client, desk.manager, number, "rejected", {"virtual_confirm_comment": "which host?"})
    assert (await tasks(client, desk.tech, number))["key"] == "rejected"
    before = await history_count(db)
    # A field the rules refuse is a parameter error in COC's name; nothing is stored.
    bad = await act(
        client, desk.tech, number, "ReOpen", {"level_id": "level_99", "title": "x"}, status=400
    )
    assert bad["error_code"] == "GOM.00007256"
    assert "params.level_id" in bad["error_msg"]
    assert await history_count(db) == before
    clock.advance(timedelta(minutes=4))
    await act(
        client,
        desk.tech,
        number,
        "ReOpen",
        {
            "title": "Disk full on db-7",
            "description": "/var at 100 %",
            "level_id": "level_20",
            "mtm_region": ["cn-north-4"],
            "is_service_interrupt": "true",
            "virtual_confirm_comment": "host named",
            "attachments": [],
        },
    )
    detail = (await coc(client, desk.tech, "GET", f"/v1/external/incident/{number}"))["data"]
    assert detail["status"] == "INCIDENT_STATUS_TRIGGERED"
    assert (detail["incident_title"], detail["incident_level"], detail["region"]) == (
        "Disk full on db-7",
        "level_20",
        ["cn-north-4"],
    )
    assert detail["is_service_interrupt"] is True
    history = (
        await coc(client, desk.tech, "POST", f"/v2/incidents/{number}/histories", SEED_REQUEST)
    )["data"]["info"]
    reopened = history[0]
    assert reopened["action"] == "incident_reopen"
    assert reopened["comment"] == "host named"
    assert {"prop_id": "level", "biz_id": "level_20", "name_en": "P2", "name_zh": "P2"} in (
        reopened["enum_data_list"]
    )
    # Only a rejected incident is resubmitted with fields.
    await act(client, desk.tech, number, "accepted")
    await act(
        client,
        desk.tech,
        number,
        "commitSolution",
        {
            "mtm_type": "inc_type_p_function_issues",
            "is_service_interrupt": False,
            "cause": "logs",
            "solution": "rotated",
        },
    )
    refused = await act(
        client, desk.tech, number, "ReOpen", {"title": "again", "virtual_confirm_comment": "no"},
        status=400,
    )  # fmt: skip
    assert "resubmission" in refused["error_msg"]


async def history_count(db: Database) -> int:
    async with db.read() as session:
        return await session.scalar(select(func.count()).select_from(IncidentHistory)) or 0


async def test_actions_refuse_stale_tasks_unknown_keys_and_bad_params(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    number = (await create_incident(client, desk.user, title="Wifi drops"))["number"]
    stale = await coc(
        client,
        desk.tech,
        "POST",
        f"/v2/incidents/{number}/actions",
        {"task_id": "new-0", "action": "accepted"},
        status=400,
    )
    assert stale["error_code"] == "GOM.10000409"
    assert "task_id" in stale["error_msg"]
    unknown = await act(client, desk.tech, number, "teleport", status=400)
    assert unknown["error_code"] == "GOM.00007256"
    assert "The field[action] value[teleport] invalid" in unknown["error_msg"]
    not_now = await act(client, desk.tech, number, "commitSolution", status=400)
    assert not_now["error_code"] == "GOM.10000409"
    missing = await act(client, desk.tech, number, "rejected", {}, status=400)
    assert missing["error_code"] == "GOM.00007256"
    assert "params.virtual_confirm_comment" in missing["error_msg"]
    # The reporter sees the incident and its current task, but accepting is for staff.
    task_id = (await tasks(client, desk.tech, number))["operations"][0]["task_id"]
    forbidden = await coc(
        client,
        desk.user,
        "POST",
        f"/v2/incidents/{number}/actions",
        {"task_id": task_id, "action": "accepted"},
        status=400,
    )
    assert forbidden["error_code"] == "GOM.10000403"
    assert "not for your role" in forbidden["error_msg"]
    # Nothing of the above changed the incident.
    history = (await coc(client, desk.tech, "POST", f"/v2/incidents/{number}/histories", {}))[
        "data"
    ]
    assert [row["action"] for row in history["info"]] == ["create_incident"]


async def test_v1_handle_and_create_checks(client: httpx.AsyncClient, desk: Desk) -> None:
    number = (await create_incident(client, desk.user, title="Laptop broken"))["number"]
    await coc(
        client,
        desk.tech,
        "POST",
        "/v1/external/incident/handle",
        {
            "incident_num": number,
            "operator": desk.tech.id,
            "operate_key": "acceptedIncident1",
            "parameter": {},
        },
    )
    detail = (await coc(client, desk.tech, "GET", f"/v1/external/incident/{number}"))["data"]
    assert detail["status"] == "INCIDENT_STATUS_ACKNOWLEDGED"
    assert detail["incident_assignee"] == [desk.tech.id]
    impostor = await coc(
        client,
        desk.tech,
        "POST",
        "/v1/external/incident/handle",
        {
            "incident_num": number,
            "operator": desk.tech2.id,
            "operate_key": "addRemark",
            "parameter": {"note": "x"},
        },
        status=400,
    )
    assert "operator" in impostor["error_msg"]
    for body, words in (
        ({}, "incident_title"),
        (
            {
                "incident_title": "x",
                "incident_level": "level_90",
                "incident_type": "inc_type_p_function_issues",
                "incident_source": "incident_source_manual",
                "is_service_interrupt": False,
                "creator": desk.tech.id,
            },
            "incident_level",
        ),
        (
            {
                "incident_title": "x",
                "incident_level": "level_30",
                "incident_type": "inc_type_p_function_issues",
                "incident_source": "incident_source_manual",
                "is_service_interrupt": "maybe",
                "creator": desk.tech.id,
            },
            "is_service_interrupt",
        ),
        (
            {
                "incident_title": "x",
                "incident_level": "level_30",
                "incident_type": "inc_type_p_function_issues",
                "incident_source": "incident_source_manual",
                "is_service_interrupt": False,
                "creator": desk.tech.id,
                "region": ["a", "b"],
            },
            "region",
        ),
    ):
        error = await coc(
            client, desk.tech, "POST", "/v1/external/incident/create", body, status=400
        )
        assert error["error_code"] == "GOM.00007256"
        assert words in error["error_msg"], error


def _junk(rng: random.Random, depth: int = 0) -> Any:
    choices: list[Any] = [
        None,
        True,
        7,
        -1,
        1.5,
        "",
        "x",
        "level_10",
        "=",
        "in",
        "like",
        "(",
        "f1 | f2",
        "' OR 1=1 --",
        "create_time",
        "1700000000000",
        "\u0000",
        "9" * 30,
    ]
    if depth < 3:
        choices += [
            [_junk(rng, depth + 1) for _ in range(rng.randint(0, 3))],
            {rng.choice(_KEYS): _junk(rng, depth + 1) for _ in range(rng.randint(0, 4))},
        ]
    return rng.choice(choices)


_KEYS = (
    "string_filters",
    "int_filters",
    "condition",
    "sort_filter",
    "group_by_filter",
    "count_filters",
    "fields",
    "page",
    "per_page",
    "contain_total",
    "field",
    "operator",
    "values",
    "name",
    "filters",
)


async def test_random_and_malformed_list_bodies_never_fail_the_server(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    await create_incident(client, desk.tech, title="One incident")
    rng = random.Random(5)
    statuses = set()
    for _ in range(250):
        body = {rng.choice(_KEYS): _junk(rng) for _ in range(rng.randint(0, 5))}
        response = await client.post(
            "/v2/incidents/list", json=body, headers=coc_headers(desk.tech)
        )
        assert response.status_code in (200, 400), (body, response.text)
        statuses.add(response.status_code)
        assert response.json()["provider_code"] == "049"
    assert statuses == {200, 400}


async def test_a_nul_character_in_a_value_is_a_parameter_error(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    body = {"string_filters": [{"field": "title", "operator": "like", "values": ["a\u0000b"]}]}
    error = await coc(client, desk.tech, "POST", "/v2/incidents/list", body, status=400)
    assert error["error_code"] == "GOM.00007256"
    assert "NUL" in error["error_msg"]


async def test_nul_in_incident_text_is_refused_on_every_way_in(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    response = await client.post(
        "/api/v1/incidents", json={"title": "a\u0000b"}, headers=desk.tech.headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "body"
    assert "NUL" in response.json()["error"]["message"]
    # An escaped backslash before "u0000" is plain text, not a NUL.
    plain = await client.post(
        "/api/v1/incidents", json={"title": "path C:\\u0000"}, headers=desk.tech.headers
    )
    assert plain.status_code == 201, plain.text
    listed = await client.get("/api/v1/incidents?title=%00", headers=desk.tech.headers)
    assert listed.status_code == 422
    assert listed.json()["error"]["field"] == "query"
    form = await client.post(
        "/incidents/new",
        content=b"title=a%00b",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 422


async def test_simple_tickets_and_v1_list_histories(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    numbers = []
    for n in range(3):
        numbers.append((await create_incident(client, desk.tech, title=f"t{n}"))["number"])
        clock.advance(timedelta(minutes=1))
    page = await client.get(
        "/v1/incident-tickets", params={"offset": 2, "limit": 2}, headers=coc_headers(desk.tech)
    )
    assert page.status_code == 200, page.text
    data = page.json()["data"]
    assert data["total"] == 3
    assert [t["ticket_id"] for t in data["IncidentSimpleTicketInfos"]] == [numbers[0]]
    bad = await client.get(
        "/v1/incident-tickets", params={"limit": 101}, headers=coc_headers(desk.tech)
    )
    assert bad.status_code == 400
    assert bad.json()["error_code"] == "GOM.00007256"
    assert "limit" in bad.json()["error_msg"]
    body = {
        "string_filters": [
            {"operator": "=", "field": "ticket_id", "name": "ticket_id", "values": [numbers[1]]}
        ],
        "sort_filter": {"operator": "desc", "field": "start_time", "values": ["start_time"]},
    }
    history = await coc(client, desk.tech, "POST", "/v1/external/incident/list-histories", body)
    (row,) = history["data"]["info"]
    assert (row["action"], row["ticket_id"]) == ("create_incident", numbers[1])
    assert isinstance(row["id"], str)
    for wrong, path in (
        ({"string_filters": []}, "/v1/external/incident/list-histories"),
        (body, "/v1/external/change/list-histories"),
    ):
        error = await coc(client, desk.tech, "POST", path, wrong, status=400)
        assert error["error_code"] == "GOM.00007256"


async def test_attachments_upload_first_then_name_them_on_create_and_solution(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    async def upload(actor: Actor, name: str, data: bytes, path: str) -> httpx.Response:
        return await client.post(path, files={"file": (name, data)}, headers=coc_headers(actor))

    first = await upload(desk.tech, "screen.png", PNG, "/v1/external/incident/attachments")
    assert first.status_code == 200, first.text
    payload = first.json()
    assert (payload["code"], payload["msg"], payload["provider_code"]) == ("0", "", "049")
    doc = payload["data"]["doc_id"]
    assert payload["data"]["doc_name"] == "screen.png"
    # Only the uploader can fetch an unused upload.
    mine = await client.get(f"/v1/incident/attachments/{doc}", headers=coc_headers(desk.tech))
    assert mine.status_code == 200
    assert mine.content == PNG
    theirs = await client.get(f"/v1/incident/attachments/{doc}", headers=coc_headers(desk.user))
    assert theirs.json()["error_code"] == "GOM.10000404"
    refused = await upload(desk.tech, "tool.pdf", EXE, "/v1/incident/attachments")
    assert refused.status_code == 400
    assert refused.json()["error_code"] == "GOM.00007256"
    created = await coc(
        client,
        desk.tech,
        "POST",
        "/v1/external/incident/create",
        {
            "incident_title": "Broken screen",
            "incident_level": "level_40",
            "incident_type": "inc_type_p_hardware_issues",
            "incident_source": "incident_source_manual",
            "is_service_interrupt": False,
            "creator": desk.tech.id,
            "incident_assignee": [desk.tech.id],
            "attachments": [doc],
        },
    )
    number = created["data"]["incident_num"]
    listed = await client.get(f"/api/v1/incidents/{number}/attachments", headers=desk.tech.headers)
    assert [a["file_name"] for a in listed.json()] == ["screen.png"]
    # A document is used once.
    again = await coc(
        client,
        desk.tech,
        "POST",
        "/v1/external/incident/create",
        {
            "incident_title": "Again",
            "incident_level": "level_40",
            "incident_type": "inc_type_p_hardware_issues",
            "incident_source": "incident_source_manual",
            "is_service_interrupt": False,
            "creator": desk.tech.id,
            "attachments": [doc],
        },
        status=400,
    )
    assert "attachments" in again["error_msg"]
    solution_doc = (
        await upload(desk.tech, "fix.txt", TEXT, "/v1/external/incident/attachments")
    ).json()["data"]["doc_id"]
    await act(client, desk.tech, number, "accepted")
    await act(
        client,
        desk.tech,
        number,
        "commitSolution",
        {
            "cause": "dropped",
            "solution": "replaced the screen",
            "is_service_interrupt": False,
            "resolve_attachments": solution_doc,
        },
    )
    files = (
        await client.get(f"/api/v1/incidents/{number}/attachments", headers=desk.tech.headers)
    ).json()
    assert {(f["file_name"], f["context"]) for f in files} == {
        ("screen.png", "incident"),
        ("fix.txt", "solution"),
    }
