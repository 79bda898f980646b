"""Admin routes for mail templates, notification rules and webhooks: translation and access."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import Desk

SECRET = "api-webhook-secret-0123456789"

ROUTES = [
    ("GET", "/api/v1/admin/mail-templates", None),
    ("GET", "/api/v1/admin/mail-templates/created", None),
    (
        "PUT",
        "/api/v1/admin/mail-templates/created",
        {"subject": "s", "text_body": "t", "html_body": "h"},
    ),
    ("DELETE", "/api/v1/admin/mail-templates/created", None),
    ("GET", "/api/v1/admin/notification-rules", None),
    (
        "PUT",
        "/api/v1/admin/notification-rules",
        {"rules": [{"event": "created", "recipients": []}]},
    ),
    ("GET", "/api/v1/admin/webhooks", None),
    ("GET", "/api/v1/admin/webhooks/1", None),
    (
        "POST",
        "/api/v1/admin/webhooks",
        {"url": "https://x.example", "events": ["*"], "secret": SECRET},
    ),
    ("DELETE", "/api/v1/admin/webhooks/1", None),
    ("GET", "/api/v1/admin/bouncing-addresses", None),
    ("DELETE", "/api/v1/admin/bouncing-addresses/gone@corp.example", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_only_admins_may_use_the_notification_routes(
    client: httpx.AsyncClient, desk: Desk, method: str, path: str, body: object
) -> None:
    for actor in (desk.manager, desk.tech, desk.user):
        response = await client.request(method, path, json=body, headers=actor.headers)
        assert response.status_code == 403, (actor.caller.role, response.text)
    response = await client.request(method, path, json=body)
    assert response.status_code == 401


async def test_templates_are_listed_edited_and_checked(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    headers = desk.admin.headers
    listed = (await client.get("/api/v1/admin/mail-templates", headers=headers)).json()
    assert [item["event"] for item in listed][:2] == ["created", "assigned"]
    assert not any(item["customized"] for item in listed)
    bad = {"subject": "{{ incident.number }}", "text_body": "{{ ''.__class__ }}", "html_body": "x"}
    response = await client.put("/api/v1/admin/mail-templates/created", json=bad, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "text_body"
    good = {
        "subject": "New: {{ incident.title }}",
        "text_body": "Hi {{ recipient_name }}",
        "html_body": "<p>Hi</p>",
    }
    response = await client.put("/api/v1/admin/mail-templates/created", json=good, headers=headers)
    assert response.status_code == 200
    assert response.json()["customized"] and response.json()["updated_by"] == desk.admin.id
    response = await client.get("/api/v1/admin/mail-templates/nope", headers=headers)
    assert response.status_code == 422 and response.json()["error"]["field"] == "event"
    response = await client.delete("/api/v1/admin/mail-templates/created", headers=headers)
    assert response.status_code == 200 and not response.json()["customized"]


async def test_rules_are_read_and_replaced(client: httpx.AsyncClient, desk: Desk) -> None:
    headers = desk.admin.headers
    rules = (await client.get("/api/v1/admin/notification-rules", headers=headers)).json()
    assert "watchers" in rules["recipient_kinds"]
    body = {"rules": [{"event": "resolved", "recipients": ["reporter", "assignee"]}]}
    response = await client.put("/api/v1/admin/notification-rules", json=body, headers=headers)
    assert response.status_code == 200
    resolved = next(rule for rule in response.json()["rules"] if rule["event"] == "resolved")
    assert resolved == {
        "event": "resolved",
        "recipients": ["reporter", "assignee"],
        "enabled": True,
        "customized": True,
    }
    body = {"rules": [{"event": "resolved", "recipients": ["everyone"]}]}
    response = await client.put("/api/v1/admin/notification-rules", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "rules.0.recipients"


async def test_webhook_secrets_are_write_only(client: httpx.AsyncClient, desk: Desk) -> None:
    headers = desk.admin.headers
    body = {"url": "https://hooks.example/in", "events": ["incident.created"], "secret": SECRET}
    response = await client.post("/api/v1/admin/webhooks", json=body, headers=headers)
    assert response.status_code == 201
    created = response.json()
    assert response.headers["Location"] == f"/api/v1/admin/webhooks/{created['id']}"
    for text in (
        response.text,
        (await client.get("/api/v1/admin/webhooks", headers=headers)).text,
        (await client.get(f"/api/v1/admin/webhooks/{created['id']}", headers=headers)).text,
    ):
        assert SECRET not in text and "secret" not in text
    bad = body | {"url": "file:///etc/passwd"}
    response = await client.post("/api/v1/admin/webhooks", json=bad, headers=headers)
    assert response.status_code == 422 and response.json()["error"]["field"] == "url"
    response = await client.delete(f"/api/v1/admin/webhooks/{created['id']}", headers=headers)
    assert response.status_code == 204
    response = await client.get(f"/api/v1/admin/webhooks/{created['id']}", headers=headers)
    assert response.status_code == 404
