"""Users and reference data through the API: admin CRUD and its errors."""

from __future__ import annotations

import httpx
import pytest

from opsdesk.core.ids import is_hex32
from tests.factories import Desk, create_incident


async def test_admin_manages_users(client: httpx.AsyncClient, desk: Desk) -> None:
    created = await client.post(
        "/api/v1/users",
        json={"email": "New.Person@Desk.Test", "role": "technician", "password": "long-enough"},
        headers=desk.admin.headers,
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert is_hex32(user["id"])
    assert user["email"] == "new.person@desk.test"
    assert user["name"] == "new.person"
    assert "password" not in user and "password_hash" not in user
    listed = await client.get("/api/v1/users?role=technician", headers=desk.tech.headers)
    assert {u["email"] for u in listed.json()["items"]} == {
        "tech@desk.test",
        "tech2@desk.test",
        "new.person@desk.test",
    }
    patched = await client.patch(
        f"/api/v1/users/{user['id']}",
        json={"name": "New Person", "role": "incident_manager"},
        headers=desk.admin.headers,
    )
    assert patched.json()["role"] == "incident_manager"
    assert patched.json()["name"] == "New Person"


async def test_users_carry_an_organisation(client: httpx.AsyncClient, desk: Desk) -> None:
    created = await client.post(
        "/api/v1/users",
        json={"email": "buyer@acme.test", "organisation": "  Acme Bank "},
        headers=desk.admin.headers,
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["organisation"] == "Acme Bank"
    fetched = await client.get(f"/api/v1/users/{user['id']}", headers=desk.tech.headers)
    assert fetched.json()["organisation"] == "Acme Bank"
    # Left out: unchanged; blank: cleared.
    renamed = await client.patch(
        f"/api/v1/users/{user['id']}", json={"name": "Buyer"}, headers=desk.admin.headers
    )
    assert renamed.json()["organisation"] == "Acme Bank"
    moved = await client.patch(
        f"/api/v1/users/{user['id']}", json={"organisation": "Beta"}, headers=desk.admin.headers
    )
    assert moved.json()["organisation"] == "Beta"
    cleared = await client.patch(
        f"/api/v1/users/{user['id']}", json={"organisation": ""}, headers=desk.admin.headers
    )
    assert cleared.json()["organisation"] is None
    plain = await client.get(f"/api/v1/users/{desk.user.id}", headers=desk.user.headers)
    assert plain.json()["organisation"] is None
    refused = await client.patch(
        f"/api/v1/users/{desk.user.id}", json={"organisation": "Mine"}, headers=desk.user.headers
    )
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"email": "x@desk.test", "organisation": "o" * 101}, 422, "organisation"),
        ({"email": "not-an-email"}, 422, "email"),
        ({"email": "tech@desk.test"}, 409, "email"),
        ({"email": "x@desk.test", "role": "overlord"}, 422, "role"),
        ({"email": "x@desk.test", "password": "short"}, 422, "password"),
        ({"email": "x@desk.test", "is_admin": True}, 422, "is_admin"),
    ],
)
async def test_bad_user_input(
    client: httpx.AsyncClient, desk: Desk, body: dict[str, object], status: int, field: str
) -> None:
    response = await client.post("/api/v1/users", json=body, headers=desk.admin.headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field


async def test_admin_cannot_lock_themselves_out(client: httpx.AsyncClient, desk: Desk) -> None:
    response = await client.patch(
        f"/api/v1/users/{desk.admin.id}", json={"role": "technician"}, headers=desk.admin.headers
    )
    assert response.status_code == 422
    assert (await client.get("/api/v1/me", headers=desk.admin.headers)).json()["role"] == "admin"


async def test_reference_data_defaults_are_seeded(client: httpx.AsyncClient, desk: Desk) -> None:
    levels = (await client.get("/api/v1/levels", headers=desk.user.headers)).json()
    assert [(lvl["key"], lvl["name_en"]) for lvl in levels] == [
        ("level_10", "P1"),
        ("level_20", "P2"),
        ("level_30", "P3"),
        ("level_40", "P4"),
        ("level_50", "P5"),
    ]
    assert levels[0]["description"].startswith("Core service functions are unavailable")
    categories = {
        c["key"] for c in (await client.get("/api/v1/categories", headers=desk.user.headers)).json()
    }
    assert {
        "inc_type_p_security_issues",
        "inc_type_p_function_issues",
        "inc_type_p_reliability_issues",
        "inc_type_p_config_issues",
        "inc_type_p_change_issues",
        "inc_type_p_middleware_issues",
    } <= categories
    projects = (await client.get("/api/v1/enterprise-projects", headers=desk.user.headers)).json()
    assert projects[0]["key"] == "0"
    assert (await client.get("/api/v1/regions", headers=desk.user.headers)).json()
    assert (await client.get("/api/v1/applications", headers=desk.user.headers)).json()


async def test_admin_manages_categories(client: httpx.AsyncClient, desk: Desk) -> None:
    body = {"key": "inc_type_custom_backup", "name_en": "Backup issues", "name_zh": "备份问题"}
    created = await client.post("/api/v1/categories", json=body, headers=desk.admin.headers)
    assert created.status_code == 201, created.text
    assert created.json()["preset"] is False
    duplicate = await client.post("/api/v1/categories", json=body, headers=desk.admin.headers)
    assert duplicate.status_code == 409
    await create_incident(client, desk.tech, category="inc_type_custom_backup")
    in_use = await client.delete(
        "/api/v1/categories/inc_type_custom_backup", headers=desk.admin.headers
    )
    assert in_use.status_code == 409
    assert "disable" in in_use.json()["error"]["message"]
    disabled = await client.patch(
        "/api/v1/categories/inc_type_custom_backup",
        json={"enabled": False},
        headers=desk.admin.headers,
    )
    assert disabled.json()["enabled"] is False
    visible = {
        c["key"] for c in (await client.get("/api/v1/categories", headers=desk.tech.headers)).json()
    }
    assert "inc_type_custom_backup" not in visible
    everything = await client.get(
        "/api/v1/categories?include_disabled=true", headers=desk.tech.headers
    )
    assert "inc_type_custom_backup" in {c["key"] for c in everything.json()}


async def test_unused_custom_item_can_be_deleted_but_presets_cannot(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    await client.post(
        "/api/v1/regions", json={"key": "lab-1", "name_en": "Lab"}, headers=desk.admin.headers
    )
    deleted = await client.delete("/api/v1/regions/lab-1", headers=desk.admin.headers)
    assert deleted.status_code == 204
    assert (
        await client.get("/api/v1/regions/lab-1", headers=desk.admin.headers)
    ).status_code == 404
    preset = await client.delete("/api/v1/regions/cn-north-4", headers=desk.admin.headers)
    assert preset.status_code == 409


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/api/v1/levels", {"key": "level_60", "name_en": "P6"}, 422, "key"),
        ("/api/v1/categories", {"key": "bad key!", "name_en": "x"}, 422, "key"),
        ("/api/v1/categories", {"key": "k", "name_en": ""}, 422, "name_en"),
        ("/api/v1/applications", {"key": "k"}, 422, "name_en"),
    ],
)
async def test_bad_reference_input(
    client: httpx.AsyncClient,
    desk: Desk,
    path: str,
    body: dict[str, object],
    status: int,
    field: str,
) -> None:
    response = await client.post(path, json=body, headers=desk.admin.headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field


async def test_level_descriptions_are_editable(client: httpx.AsyncClient, desk: Desk) -> None:
    response = await client.patch(
        "/api/v1/levels/level_50",
        json={"description": "Questions and requests"},
        headers=desk.admin.headers,
    )
    assert response.status_code == 200
    assert response.json()["description"] == "Questions and requests"
