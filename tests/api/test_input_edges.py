"""Inputs at the edges of what the API accepts answer a 4xx naming the part, never a 500.

Each case here answered 500 once (issue 24.5): a long condition deepened the database's
expression tree, a lone UTF-16 surrogate reached the database driver, an integer past 64
bits reached SQL, a date at year 1 or 9999 overflowed on conversion to UTC.
"""

from __future__ import annotations

from typing import Any

import httpx

from opsdesk.query.condition import MAX_LENGTH, MAX_TERMS
from tests.api.test_coc_api import coc
from tests.factories import Desk, create_incident


def _chain(names: list[str], operator: str) -> str:
    """``names`` repeated and joined by ``operator``, as long as ``MAX_LENGTH`` allows."""
    parts: list[str] = []
    length = -1
    while True:
        name = names[len(parts) % len(names)]
        if length + 1 + len(name) > MAX_LENGTH:
            return operator.join(parts)
        parts.append(name)
        length += 1 + len(name)


def _string_filters(count: int, values: list[str]) -> list[dict[str, Any]]:
    return [
        {"field": "title", "operator": "in", "values": values, "name": f"s{n}"}
        for n in range(count)
    ]


def _int_filters(count: int, values: list[str]) -> list[dict[str, Any]]:
    return [
        {"field": "reopen_count", "operator": "in", "values": values, "name": f"i{n}"}
        for n in range(count)
    ]


async def test_a_long_or_chain_over_every_filter_runs(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    wanted = await create_incident(client, desk.tech, title="disk full")
    await create_incident(client, desk.tech, title="other")
    body = {
        "string_filters": _string_filters(20, ["disk full"]),
        "int_filters": _int_filters(20, ["0"]),
    }
    names = [f"s{n}" for n in range(20)] + [f"i{n}" for n in range(20)]
    body["condition"] = _chain(names, "|")
    assert len(body["condition"]) > MAX_LENGTH - 5
    data = (await coc(client, desk.tech, "POST", "/v2/incidents/list", body))["data"]
    assert data["total"] == 2  # reopen_count 0 holds for both
    body["condition"] = _chain([f"s{n}" for n in range(20)], "|")
    body.pop("int_filters")
    data = (await coc(client, desk.tech, "POST", "/v2/incidents/list", body))["data"]
    assert [ticket["ticket_id"] for ticket in data["tickets"]] == [wanted["number"]]


async def test_a_long_and_chain_on_the_histories_runs(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    number = (await create_incident(client, desk.tech))["number"]
    body = {
        "string_filters": [
            {"field": "action", "operator": "=", "values": ["create_incident"], "name": "a"}
        ],
        "condition": _chain(["a"], "&"),
    }
    data = (await coc(client, desk.tech, "POST", f"/v2/incidents/{number}/histories", body))["data"]
    assert data["total"] == 1


async def test_the_most_a_condition_may_refer_to_runs_and_one_more_is_refused(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    await create_incident(client, desk.tech, title="v7")
    values = [f"v{n}" for n in range(100)]
    body: dict[str, Any] = {
        "string_filters": _string_filters(20, values),
        "int_filters": _int_filters(20, [str(n) for n in range(100)]),
        "count_filters": [
            {"name": f"c{n}", "filters": _string_filters(20, values)} for n in range(10)
        ],
    }
    names = [f"s{n}" for n in range(20)] + [f"i{n}" for n in range(20)]
    # The first 20 pairs use every filter once, so none is ANDed on after the condition.
    covering = [(names[n], names[n + 1]) for n in range(0, 40, 2)]
    others = [(a, b) for a in names for b in names if a < b and (a, b) not in covering]
    pairs = [f"({a}&{b})" for a, b in covering + others]
    # Every pair differs, so nothing merges: each reference is 100 bound values.
    body["condition"] = "|".join(pairs[: MAX_TERMS // 2])
    data = (await coc(client, desk.tech, "POST", "/v2/incidents/list", body))["data"]
    assert data["total"] == 1
    assert data["counts"] == {f"c{n}": 1 for n in range(10)}
    body["condition"] = "|".join(pairs[: MAX_TERMS // 2 + 1])
    error = await coc(client, desk.tech, "POST", "/v2/incidents/list", body, status=400)
    assert error["error_code"] == "GOM.00007256"
    assert "condition" in error["error_msg"]
    assert str(MAX_TERMS) in error["error_msg"]


LONE_SURROGATES = [
    rb'"\ud800"',  # a high half alone
    rb'"x\udc00"',  # a low half alone
    rb'"\ud800\u0041"',  # a high half followed by something else
    rb'"\\\ud800"',  # after an escaped backslash, still an escape
]


async def test_a_lone_surrogate_in_a_search_value_is_a_parameter_error(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    for value in LONE_SURROGATES:
        body = b'{"string_filters":[{"field":"title","operator":"like","values":[%s]}]}' % value
        response = await client.post(
            "/v2/incidents/list",
            content=body,
            headers={"X-Auth-Token": desk.tech.token, "Content-Type": "application/json"},
        )
        assert response.status_code == 400, response.text
        assert response.json()["error_code"] == "GOM.00007256"
        assert "string_filters[0].values[0]" in response.json()["error_msg"]
        native = await client.post(
            "/api/v1/incidents/search", content=body, headers=desk.tech.headers
        )
        assert native.status_code == 422, native.text
        assert native.json()["error"]["field"] == "string_filters.0.values.0"


async def test_a_lone_surrogate_is_refused_on_writes_and_a_pair_is_stored(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    refused = await client.post(
        "/api/v1/incidents",
        content=b'{"title": "mail \\udbff down"}',
        headers={**desk.tech.headers, "Content-Type": "application/json"},
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == "title"
    # Without a content type the COC routes still read the body as JSON.
    coc_refused = await client.post(
        "/v1/external/incident/create",
        content=b'{"incident_title": "\\ud800"}',
        headers={"X-Auth-Token": desk.tech.token},
    )
    assert coc_refused.status_code == 400, coc_refused.text
    assert "incident_title" in coc_refused.json()["error_msg"]
    # A pair is one character (U+1F600), and a backslash before "ud800" is just text.
    stored = await client.post(
        "/api/v1/incidents",
        content=b'{"title": "mail \\ud83d\\ude00 down \\\\ud800"}',
        headers={**desk.tech.headers, "Content-Type": "application/json"},
    )
    assert stored.status_code == 201, stored.text
    assert stored.json()["title"] == "mail \U0001f600 down \\ud800"


PAST_64_BITS = "99999999999999999999999"


async def test_integers_past_64_bits_are_a_422_naming_the_field(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    number = (await create_incident(client, desk.tech))["number"]
    admin = desk.admin.headers
    cases: list[tuple[str, str, dict[str, Any] | None, str]] = [
        ("GET", f"/api/v1/users?page={PAST_64_BITS}", None, "page"),
        ("GET", f"/api/v1/users?page={2**62}", None, "page"),  # fits, but not as an offset
        ("GET", f"/api/v1/admin/jobs?page={PAST_64_BITS}", None, "page"),
        ("GET", f"/api/v1/assignment-rules/{PAST_64_BITS}", None, "rule_id"),
        ("POST", f"/api/v1/admin/jobs/{PAST_64_BITS}/retry", None, "job_id"),
        ("GET", f"/api/v1/incidents/{number}/attachments/{PAST_64_BITS}", None, "attachment_id"),
        (
            "POST",
            "/api/v1/categories",
            {"key": "big", "name_en": "Big", "sort_order": int(PAST_64_BITS)},
            "sort_order",
        ),
        (
            "POST",
            f"/api/v1/incidents/{number}/conversations",
            {"body": "see file", "attachment_ids": [int(PAST_64_BITS)]},
            "attachment_ids.0",
        ),
    ]
    for method, path, body, field in cases:
        response = await client.request(method, path, json=body, headers=admin)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["field"] == field, response.text


async def test_dates_at_the_edges_are_a_4xx_naming_the_field(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    number = (await create_incident(client, desk.tech))["number"]
    year_one = "0001-01-01T00:00:00+14:00"  # year 0 in UTC
    year_ten_thousand = "9999-12-31T23:59:59-14:00"  # year 10000 in UTC
    year_one_query = year_one.replace("+", "%2B")
    native: list[tuple[str, str, dict[str, Any] | None, str]] = [
        (
            "POST",
            "/api/v1/incidents",
            {"title": "t", "fault_occurred_at": year_one},
            "fault_occurred_at",
        ),
        (
            "PATCH",
            f"/api/v1/incidents/{number}",
            {"fault_occurred_at": year_ten_thousand},
            "fault_occurred_at",
        ),
        ("GET", f"/api/v1/shift-scenes/noc/roles/duty/on-duty?at={year_ten_thousand}", None, "at"),
        (
            "GET",
            f"/api/v1/shift-scenes/noc/roles/duty/overrides?from={year_one_query}",
            None,
            "from",
        ),
        (
            "POST",
            f"/api/v1/technicians/{desk.tech.id}/absences",
            {"starts_at": year_one, "ends_at": "2026-01-01T00:00:00Z"},
            "starts_at",
        ),
        (
            "POST",
            f"/api/v1/incidents/{number}/worklogs",
            {"description": "x", "time_spent_minutes": 5, "started_at": year_ten_thousand},
            "started_at",
        ),
    ]
    for method, path, body, field in native:
        headers = (
            {**desk.admin.headers, "If-Match": "*"} if method == "PATCH" else desk.admin.headers
        )
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["field"] == field, response.text
        assert "1970 to 8999" in response.json()["error"]["message"]
    create = {
        "incident_title": "t",
        "incident_level": "level_30",
        "incident_type": "software",
        "incident_source": "manual",
        "creator": desk.admin.id,
        "is_service_interrupt": False,
    }
    for start in (10**30, -(10**30), 253_402_300_799_999):
        error = await coc(
            client,
            desk.admin,
            "POST",
            "/v1/external/incident/create",
            {**create, "start_time": start},
            status=400,
        )
        assert error["error_code"] == "GOM.00007256"
        assert "start_time" in error["error_msg"], error


async def test_the_422_body_is_the_one_the_openapi_document_declares(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    document = (await client.get("/openapi.json")).json()
    declared = document["paths"]["/api/v1/users"]["get"]["responses"]["422"]
    assert declared["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorOut"
    }
    assert "HTTPValidationError" not in document["components"]["schemas"]
    coc_route = document["paths"]["/v2/incidents/{incident_id}/histories"]["post"]
    assert "422" not in coc_route["responses"]  # COC answers bad input with a 400
    # The filter-language bodies are declared, so the fuzzing guard generates them too.
    listed = document["paths"]["/v2/incidents/list"]["post"]["requestBody"]
    assert "condition" in listed["content"]["application/json"]["schema"]["properties"]
    assert "requestBody" in coc_route
    body = (await client.get("/api/v1/users?page=0", headers=desk.admin.headers)).json()
    assert set(body) == {"error"}
    assert {"code", "message", "field", "details"} <= set(body["error"])
