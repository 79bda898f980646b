"""Who may call a route is decided before what they sent: a caller without the role gets
403 (no token: 401) whatever the body and query, never a 422 that describes the schema."""

from __future__ import annotations

import re

import httpx

from opsdesk.app import create_app
from opsdesk.catalog.kinds import Kind
from opsdesk.core.settings import Settings
from tests.factories import Desk

# Everything an end user may not do at all: administration, reference data changes, teams.
STAFF_ONLY_PREFIXES = (
    "/api/v1/admin/",
    "/api/v1/priority-matrix",
    "/api/v1/workgroups",
    "/api/v1/technicians",
    "/api/v1/shift-scenes",
    "/api/v1/assignment-rules",
    "/api/v1/users",
    "/api/v1/work-orders",
    # Stakeholder communication (the public page itself is /status, outside the API).
    "/api/v1/status-updates",
    "/api/v1/status-audiences",
    "/api/v1/status-templates",
    "/api/v1/status-components",
    "/api/v1/reviews",
    "/api/v1/war-rooms",
)
# Staff work inside an incident: tasks, work orders, knowledge articles, major incidents.
STAFF_ONLY_INCIDENT_PARTS = (
    "/tasks",
    "/tasks/{task_id}",
    "/work-orders",
    "/article",
    "/apply-article",
    "/major",
    "/major/team",
    "/major/team/{member_id}",
    "/major/team/{member_id}/ack",
)
# Reference data: everyone reads it, only admins change it.
READ_BY_ALL = (
    *(f"/api/v1/{kind.value}" for kind in Kind),
    "/api/v1/priority-matrix",
)
# Staff routes an end user may call for their own record.
OWN_RECORD = {("GET", "/api/v1/users/{user_id}")}
JUNK_BODY = {"junk": [1, {"x": None}], "page": "x"}
JUNK_QUERY = {"page": "0", "per_page": "-1", "at": "yesterday", "from": "x", "role": "nobody"}


def _routes_an_end_user_may_not_call() -> list[tuple[str, str]]:
    app = create_app(Settings(secret_key="k" * 40))
    found = []
    for path, operations in app.openapi()["paths"].items():
        for method in (name.upper() for name in operations):
            if (path.startswith(READ_BY_ALL) and method == "GET") or (method, path) in OWN_RECORD:
                continue
            if (
                path.startswith(STAFF_ONLY_PREFIXES)
                or path.startswith(READ_BY_ALL)
                or (
                    path.startswith("/api/v1/incidents/")
                    and path.endswith(STAFF_ONLY_INCIDENT_PARTS)
                )
            ):
                found.append((method, re.sub(r"\{[^}]+\}", "1", path)))
    return found


async def test_an_end_user_gets_403_on_every_staff_route_whatever_the_body(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    routes = _routes_an_end_user_may_not_call()
    assert ("PUT", "/api/v1/priority-matrix") in routes
    assert len(routes) > 50
    for method, path in routes:
        for headers in (desk.user.headers, {}):
            response = await client.request(
                method, path, params=JUNK_QUERY, json=JUNK_BODY, headers=headers
            )
            expected = 403 if headers else 401
            assert response.status_code == expected, (method, path, response.text)
    # The matrix itself, with no body at all and with a valid one.
    for body in (None, {"cells": []}):
        response = await client.put("/api/v1/priority-matrix", json=body, headers=desk.user.headers)
        assert response.status_code == 403, response.text
