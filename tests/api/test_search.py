"""``/api/v1/incidents/search``: the COC filter language on the native API."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx

from opsdesk.core.clock import FixedClock, epoch_ms
from tests.factories import Desk, create_incident


async def search(
    client: httpx.AsyncClient, desk_actor: Any, body: Any, status: int = 200, **params: Any
) -> Any:
    response = await client.post(
        "/api/v1/incidents/search", json=body, params=params, headers=desk_actor.headers
    )
    assert response.status_code == status, response.text
    return response.json()


async def test_filters_condition_sort_groups_and_counts(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    vpn = await create_incident(client, desk.tech, title="VPN down", level="P1", impact=1)
    clock.advance(timedelta(minutes=5))
    mail = await create_incident(client, desk.tech, title="Mail slow", level="P3", impact=2)
    clock.advance(timedelta(minutes=5))
    printer = await create_incident(client, desk.user, title="Printer jam", impact=3, urgency=3)
    body = {
        "string_filters": [
            {"field": "level_id", "operator": "=", "values": ["level_10"], "name": "p1"},
            {"field": "title", "operator": "like", "values": ["mail"], "name": "mail"},
        ],
        "int_filters": [
            {"field": "impact", "operator": ">=", "values": ["1"], "name": "any_impact"}
        ],
        "condition": "(p1 | mail) & any_impact",
        "sort_filter": {"field": "create_time", "operator": "asc"},
        "group_by_filter": {"field": "level_id"},
        "count_filters": [
            {"name": "low", "filters": [{"field": "impact", "operator": "=", "values": ["2"]}]}
        ],
    }
    page = await search(client, desk.tech, body)
    assert [item["number"] for item in page["items"]] == [vpn["number"], mail["number"]]
    assert page["total"] == 2
    assert page["groups"] == [
        {"value": "level_10", "count": 1},
        {"value": "level_30", "count": 1},
    ]
    assert page["counts"] == {"low": 1}
    # The same through GET, as a link or a saved view would send it.
    linked = await client.get(
        "/api/v1/incidents/search",
        params={"filter": json.dumps(body), "per_page": 1},
        headers=desk.tech.headers,
    )
    assert linked.status_code == 200, linked.text
    assert [item["number"] for item in linked.json()["items"]] == [vpn["number"]]
    assert linked.json()["total"] == 2
    # Time filters take epoch milliseconds, as COC's do.
    since = epoch_ms(clock.now() - timedelta(minutes=1))
    recent = await search(
        client,
        desk.tech,
        {"string_filters": [{"field": "create_time", "operator": ">", "values": [str(since)]}]},
    )
    assert [item["number"] for item in recent["items"]] == [printer["number"]]


async def test_end_users_search_only_their_own(client: httpx.AsyncClient, desk: Desk) -> None:
    await create_incident(client, desk.tech, title="Staff report")
    own = await create_incident(client, desk.user, title="My report")
    page = await search(client, desk.user, {})
    assert [item["number"] for item in page["items"]] == [own["number"]]
    assert page["total"] == 1


async def test_projection_and_bad_requests(client: httpx.AsyncClient, desk: Desk) -> None:
    await create_incident(client, desk.tech, title="VPN down", level="P1")
    page = await search(client, desk.tech, {"fields": ["title", "level_id"]})
    assert set(page["items"][0]) == {"number", "title", "level"}
    for body, field in (
        (
            {"string_filters": [{"field": "password", "operator": "=", "values": ["x"]}]},
            "string_filters[0].field",
        ),
        (
            {
                "string_filters": [
                    {"field": "title", "operator": "=", "values": ["x"], "name": "a"}
                ],
                "condition": "a | (b",
            },
            "condition",
        ),
        ({"sort_filter": {"field": "description", "operator": "asc"}}, "sort_filter.field"),
        ([1, 2], "body"),
    ):
        error = (await search(client, desk.tech, body, status=422))["error"]
        assert error["field"] == field, error
    bad_json = await client.post(
        "/api/v1/incidents/search", content=b"{not json", headers=desk.tech.headers
    )
    assert bad_json.status_code == 422
    assert bad_json.json()["error"]["field"] == "body"
    bad_link = await client.get(
        "/api/v1/incidents/search", params={"filter": "{"}, headers=desk.tech.headers
    )
    assert bad_link.json()["error"]["field"] == "filter"
    assert (await client.post("/api/v1/incidents/search", json={})).status_code == 401


async def test_total_on_full_short_and_empty_pages(client: httpx.AsyncClient, desk: Desk) -> None:
    # A short page is the last one, so its total needs no count query; a full page and a
    # page past the end still count. All three must give the same total.
    for title in ("First", "Second", "Third"):
        await create_incident(client, desk.tech, title=title)
    totals = [
        (len(page["items"]), page["total"])
        for page in [
            await search(client, desk.tech, {}, page=number, per_page=2) for number in (1, 2, 3)
        ]
    ]
    assert totals == [(2, 3), (1, 3), (0, 3)]
    histories = await client.post(
        f"/v2/incidents/{(await search(client, desk.tech, {}))['items'][0]['number']}/histories",
        json={},
        headers=desk.tech.headers,
    )
    assert histories.status_code == 200, histories.text
    data = histories.json()["data"]
    assert data["total"] == len(data["info"]) > 0
