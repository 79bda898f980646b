"""Access keys through the native API: create (the secret once), list (never the secret), last
use, revoke; signed requests on the native routes; the secret stored sealed."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from opsdesk.auth.models import AccessKey
from opsdesk.auth.secret_box import SecretBox
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from tests.api.signed import sdk_date, signed_headers
from tests.factories import Actor, Desk


def bearer(actor: Actor) -> dict[str, str]:
    return {"Authorization": f"Bearer {actor.token}"}


async def create_key(client: httpx.AsyncClient, actor: Actor, name: str = "laptop") -> Any:
    response = await client.post(
        "/api/v1/me/access-keys", json={"name": name}, headers=bearer(actor)
    )
    assert response.status_code == 201, response.text
    return response.json()


def signed(key: dict[str, Any], clock: FixedClock, path: str, **request: Any) -> dict[str, str]:
    return signed_headers(
        key["id"],
        key["secret_key"],
        host="opsdesk.test",
        path=path,
        date=sdk_date(clock.now()),
        method=request.pop("method", "GET"),
        **request,
    )


async def test_a_key_is_shown_once_and_listed_without_its_secret(
    client: httpx.AsyncClient, desk: Desk, db: Database, settings: Settings
) -> None:
    key = await create_key(client, desk.tech)
    assert re.fullmatch(r"[A-Z0-9]{20}", key["id"])
    assert re.fullmatch(r"[A-Za-z0-9]{40}", key["secret_key"])
    assert (key["name"], key["user_id"], key["last_used_at"], key["revoked_at"]) == (
        "laptop",
        desk.tech.id,
        None,
        None,
    )
    listed = await client.get("/api/v1/me/access-keys", headers=bearer(desk.tech))
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()] == [key["id"]]
    assert "secret_key" not in listed.json()[0]
    assert key["secret_key"] not in listed.text
    others = await client.get("/api/v1/me/access-keys", headers=bearer(desk.tech2))
    assert others.json() == []
    async with db.read() as session:
        sealed = await session.scalar(
            select(AccessKey.secret_sealed).where(AccessKey.id == key["id"])
        )
    assert sealed is not None and key["secret_key"] not in sealed
    box = SecretBox(settings.resolved_secret_key())
    assert box.open(sealed, access_key_id=key["id"]) == key["secret_key"]


async def test_a_bad_name_is_a_422_naming_it(client: httpx.AsyncClient, desk: Desk) -> None:
    for body in ({"name": ""}, {"name": "x" * 101}, {"name": "ok", "secret_key": "mine"}):
        response = await client.post("/api/v1/me/access-keys", json=body, headers=bearer(desk.tech))
        assert response.status_code == 422, body
        assert "name" in response.text or "secret_key" in response.text


async def test_signed_requests_work_on_native_routes_as_the_keys_user(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    key = await create_key(client, desk.user)
    me = await client.get("/api/v1/me", headers=signed(key, clock, "/api/v1/me"))
    assert me.status_code == 200, me.text
    assert me.json()["email"] == desk.user.caller.email
    # The end user's role holds: listing users needs a technician.
    users = await client.get(
        "/api/v1/users",
        params=[("page", "1"), ("per_page", "5")],
        headers=signed(key, clock, "/api/v1/users", query=[("page", "1"), ("per_page", "5")]),
    )
    assert users.status_code == 403, users.text
    body = b'{"title": "Signed printer trouble", "description": "it jams"}'
    created = await client.post(
        "/api/v1/incidents",
        content=body,
        headers=signed(key, clock, "/api/v1/incidents", method="POST", body=body),
    )
    assert created.status_code == 201, created.text
    assert created.json()["reporter_id"] == desk.user.id
    assert (await client.get("/api/v1/me", headers=bearer(desk.user))).status_code == 200


async def test_last_use_is_recorded(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    key = await create_key(client, desk.tech)
    clock.advance(timedelta(minutes=2))
    used_at = clock.now()
    assert (await client.get("/api/v1/me", headers=signed(key, clock, "/api/v1/me"))).is_success
    listed = (await client.get("/api/v1/me/access-keys", headers=bearer(desk.tech))).json()
    assert listed[0]["last_used_at"] is not None
    assert listed[0]["last_used_at"].startswith(used_at.strftime("%Y-%m-%dT%H:%M"))


async def test_refusals_say_which_on_the_native_api(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    key = await create_key(client, desk.tech)
    wrong = {**key, "secret_key": "x" * 40}
    refused = await client.get("/api/v1/me", headers=signed(wrong, clock, "/api/v1/me"))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthenticated"
    assert "signature does not match" in refused.json()["error"]["message"]
    old = signed(key, clock, "/api/v1/me")
    clock.advance(timedelta(minutes=16))
    stale = await client.get("/api/v1/me", headers=old)
    assert stale.status_code == 401
    assert "15 minutes" in stale.json()["error"]["message"]
    undated = {**signed(key, clock, "/api/v1/me")}
    undated.pop("X-Sdk-Date")
    missing = await client.get("/api/v1/me", headers=undated)
    assert missing.status_code == 401
    assert "X-Sdk-Date header is missing" in missing.json()["error"]["message"]


async def test_revoking_refuses_the_key_and_only_its_owner_or_an_admin_may(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    key = await create_key(client, desk.tech)
    assert (await client.get("/api/v1/me", headers=signed(key, clock, "/api/v1/me"))).is_success
    path = f"/api/v1/me/access-keys/{key['id']}"
    stranger = await client.delete(path, headers=bearer(desk.tech2))
    assert stranger.status_code == 404
    assert (await client.get("/api/v1/me", headers=signed(key, clock, "/api/v1/me"))).is_success
    revoked = await client.delete(path, headers=bearer(desk.tech))
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    refused = await client.get("/api/v1/me", headers=signed(key, clock, "/api/v1/me"))
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == f"the access key {key['id']} is revoked"
    second = await create_key(client, desk.tech2)
    by_admin = await client.delete(
        f"/api/v1/me/access-keys/{second['id']}", headers=bearer(desk.admin)
    )
    assert by_admin.status_code == 200


async def test_a_deactivated_users_key_is_refused(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    key = await create_key(client, desk.tech2)
    assert (await client.get("/api/v1/me", headers=signed(key, clock, "/api/v1/me"))).is_success
    gone = await client.delete(f"/api/v1/users/{desk.tech2.id}", headers=bearer(desk.admin))
    assert gone.status_code == 200
    refused = await client.get("/api/v1/me", headers=signed(key, clock, "/api/v1/me"))
    assert refused.status_code == 401
    assert "deactivated" in refused.json()["error"]["message"]


async def test_a_changed_server_secret_makes_old_keys_unreadable(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock, db: Database, tmp_path: Any
) -> None:
    from opsdesk.app import create_app

    key = await create_key(client, desk.tech)
    other = create_app(
        Settings(data_dir=tmp_path, secret_key="another-" + "y" * 40), db=db, clock=clock
    )
    db.caches["access_keys"].clear()
    transport = httpx.ASGITransport(app=other)
    async with httpx.AsyncClient(transport=transport, base_url="http://opsdesk.test") as http:
        refused = await http.get("/api/v1/me", headers=signed(key, clock, "/api/v1/me"))
    assert refused.status_code == 401
    assert "create a new access key" in refused.json()["error"]["message"]


# The admin page ---------------------------------------------------------------------------


async def test_the_admin_page_creates_shows_the_secret_once_and_revokes(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    from tests.api.test_web_pages import csrf_of, sign_in

    existing = await create_key(client, desk.tech, name="ci")
    assert (await sign_in(client, "admin@desk.test", "admin-password")).status_code == 303
    page = await client.get("/admin/access-keys")
    assert page.status_code == 200
    assert f'id="key-{existing["id"]}"' in page.text and "tech@desk.test" in page.text
    assert existing["secret_key"] not in page.text
    assert 'href="/admin"' in page.text
    form = {"csrf_token": csrf_of(page.text), "email": "user@desk.test", "name": "laptop"}
    forged = await client.post("/admin/access-keys", data={**form, "csrf_token": "forged"})
    assert forged.status_code == 403
    created = await client.post("/admin/access-keys", data=form)
    assert created.status_code == 200, created.text
    assert created.headers["cache-control"] == "no-store"
    access_key_id = re.search(r'id="created-access-key">([A-Z0-9]{20})<', created.text)
    secret = re.search(r'id="created-secret-key">([A-Za-z0-9]{40})<', created.text)
    assert access_key_id is not None and secret is not None
    key = {"id": access_key_id.group(1), "secret_key": secret.group(1)}
    me = await client.get("/api/v1/me", headers=signed(key, clock, "/api/v1/me"), cookies=None)
    assert me.json()["email"] == desk.user.caller.email
    again = await client.get("/admin/access-keys")
    assert key["secret_key"] not in again.text and f'id="key-{key["id"]}"' in again.text
    # A user's admin page links here with ?user_id=…: only that user's keys.
    only_user = await client.get(f"/admin/access-keys?user_id={desk.user.caller.user_id}")
    assert f'id="key-{key["id"]}"' in only_user.text
    assert f'id="key-{existing["id"]}"' not in only_user.text
    unknown = await client.post("/admin/access-keys", data={**form, "email": "no@desk.test"})
    assert unknown.status_code == 422 and "no user with email" in unknown.text
    revoked = await client.post(
        f"/admin/access-keys/{key['id']}/revoke", data={"csrf_token": form["csrf_token"]}
    )
    assert (revoked.status_code, revoked.headers["location"]) == (303, "/admin/access-keys")
    after = await client.get("/admin/access-keys")
    assert f"Access key {key['id']} is revoked." in after.text
    refused = await client.get("/api/v1/me", headers=signed(key, clock, "/api/v1/me"))
    assert refused.status_code == 401


async def test_the_access_keys_page_is_for_admins_only(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    from tests.api.test_web_pages import csrf_of, sign_in

    assert (await client.get("/admin/access-keys")).headers["location"].startswith("/login")
    await sign_in(client, "user@desk.test", "user-password")
    assert (await client.get("/admin/access-keys")).status_code == 403
    page = await client.get("/incidents")
    assert 'href="/admin/access-keys"' not in page.text
    tried = await client.post(
        "/admin/access-keys", data={"csrf_token": csrf_of(page.text), "email": "user@desk.test"}
    )
    assert tried.status_code == 403
