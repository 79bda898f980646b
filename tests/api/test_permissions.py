"""Who may do what: every route checks the caller; end users see only their own incidents."""

from __future__ import annotations

import re

import httpx
import pytest

from opsdesk.app import create_app
from tests.factories import Desk, create_incident


async def test_every_api_route_requires_credentials(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    checked = 0
    for path, methods in schema["paths"].items():
        if not path.startswith("/api/"):
            continue
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        for method in methods:
            response = await client.request(method.upper(), concrete, json={})
            assert response.status_code == 401, (method, path, response.text)
            assert response.json()["error"]["code"] == "unauthenticated"
            assert response.headers["www-authenticate"] == "Bearer"
            checked += 1
    assert checked >= 30


@pytest.mark.parametrize("header", ["Authorization", "X-Auth-Token"])
async def test_wrong_token_is_401(client: httpx.AsyncClient, header: str) -> None:
    value = "Bearer odk_wrong" if header == "Authorization" else "odk_wrong"
    response = await client.get("/api/v1/incidents", headers={header: value})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


async def test_coc_header_and_bearer_both_work(client: httpx.AsyncClient, desk: Desk) -> None:
    bearer = await client.get("/api/v1/me", headers=desk.tech.headers)
    coc = await client.get("/api/v1/me", headers={"X-Auth-Token": desk.tech.token})
    assert bearer.status_code == coc.status_code == 200
    assert (
        bearer.json()
        == coc.json()
        == {
            "id": desk.tech.id,
            "email": "tech@desk.test",
            "name": "tech",
            "role": "technician",
        }
    )


async def test_revoked_token_stops_working(client: httpx.AsyncClient, desk: Desk) -> None:
    created = await client.post("/api/v1/me/tokens", json={"name": "ci"}, headers=desk.tech.headers)
    assert created.status_code == 201
    token = created.json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    listed = (await client.get("/api/v1/me/tokens", headers=desk.tech.headers)).json()
    assert all("token" not in row for row in listed)
    revoked = await client.delete(
        f"/api/v1/me/tokens/{created.json()['id']}", headers=desk.tech.headers
    )
    assert revoked.status_code == 200
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 401


async def test_deactivated_user_is_locked_out(client: httpx.AsyncClient, desk: Desk) -> None:
    response = await client.delete(f"/api/v1/users/{desk.tech2.id}", headers=desk.admin.headers)
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert (await client.get("/api/v1/me", headers=desk.tech2.headers)).status_code == 401


async def test_end_user_sees_and_changes_only_own_incidents(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    own = await create_incident(client, desk.user, title="My laptop is slow")
    theirs = await create_incident(client, desk.other_user, title="Their printer")
    staff = await create_incident(client, desk.tech, title="Core switch down", level="P1")
    on_behalf = await create_incident(
        client, desk.tech, title="Phoned in for user", reporter_id=desk.user.id
    )

    listed = (await client.get("/api/v1/incidents", headers=desk.user.headers)).json()
    assert {item["number"] for item in listed["items"]} == {own["number"], on_behalf["number"]}
    assert listed["total"] == 2

    for hidden in (theirs, staff):
        url = f"/api/v1/incidents/{hidden['number']}"
        assert (await client.get(url, headers=desk.user.headers)).status_code == 404
        assert (await client.get(f"{url}/history", headers=desk.user.headers)).status_code == 404
        patch = await client.patch(url, json={"title": "mine now"}, headers=desk.user.headers)
        assert patch.status_code == 404
    unchanged = await client.get(f"/api/v1/incidents/{theirs['number']}", headers=desk.tech.headers)
    assert unchanged.json()["title"] == "Their printer"

    mine = await client.patch(
        f"/api/v1/incidents/{own['number']}",
        json={"description": "It takes 10 minutes to boot"},
        headers=desk.user.headers,
    )
    assert mine.status_code == 200

    all_for_tech = (await client.get("/api/v1/incidents", headers=desk.tech.headers)).json()
    assert all_for_tech["total"] == 4


async def test_end_user_incidents_are_self_service_reports(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    created = await create_incident(client, desk.user)
    assert created["channel"] == "self_service"
    assert created["ownership"] == "customer_report"
    assert created["reporter_id"] == created["creator_id"] == desk.user.id


@pytest.mark.parametrize(
    "field_value",
    [
        ("level", "P1"),
        ("assignee_id", "0" * 32),
        ("assignee_scene", "noc"),
        ("channel", "email"),
        ("source", "incident_source_alarm"),
        ("reporter_id", "0" * 32),
        ("ownership", "other"),
    ],
)
async def test_end_user_cannot_set_triage_fields(
    client: httpx.AsyncClient, desk: Desk, field_value: tuple[str, str]
) -> None:
    field, value = field_value
    response = await client.post(
        "/api/v1/incidents", json={"title": "x", field: value}, headers=desk.user.headers
    )
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "forbidden",
        "message": f"{field}: end users cannot set this field",
        "field": field,
    }
    own = await create_incident(client, desk.user)
    if field in ("channel", "source"):
        return
    patch = await client.patch(
        f"/api/v1/incidents/{own['number']}", json={field: value}, headers=desk.user.headers
    )
    assert patch.status_code == 403
    assert patch.json()["error"]["field"] == field


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/users", {"email": "new@desk.test"}),
        ("POST", "/api/v1/categories", {"key": "k", "name_en": "K"}),
        ("PATCH", "/api/v1/applications/app_email", {"enabled": False}),
        ("DELETE", "/api/v1/regions/cn-north-4", None),
    ],
)
@pytest.mark.parametrize("who", ["user", "tech", "manager"])
async def test_admin_only_routes(
    client: httpx.AsyncClient,
    desk: Desk,
    method: str,
    path: str,
    body: dict[str, object] | None,
    who: str,
) -> None:
    actor = getattr(desk, who)
    response = await client.request(method, path, json=body, headers=actor.headers)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "forbidden"


async def test_end_user_cannot_list_users(client: httpx.AsyncClient, desk: Desk) -> None:
    response = await client.get("/api/v1/users", headers=desk.user.headers)
    assert response.status_code == 403
    self_view = await client.get(f"/api/v1/users/{desk.user.id}", headers=desk.user.headers)
    assert self_view.status_code == 200
    other = await client.get(f"/api/v1/users/{desk.tech.id}", headers=desk.user.headers)
    assert other.status_code == 404


async def test_unknown_route_and_method_are_json(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = await client.put("/healthz")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"


async def test_health_and_docs(client: httpx.AsyncClient) -> None:
    health = await client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert (await client.get("/docs")).status_code == 200
    assert "/api/v1/incidents" in (await client.get("/openapi.json")).json()["paths"]


async def test_health_reports_an_unreachable_database(tmp_path: object) -> None:
    from opsdesk.core.database import Database
    from opsdesk.core.settings import Settings

    broken = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    app = create_app(Settings(secret_key="k" * 40), db=broken)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/healthz")
    await broken.dispose()
    assert response.status_code == 503
    assert response.json()["status"] == "error"
