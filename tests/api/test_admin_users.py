"""The admin pages for users and the priority matrix: forms, errors beside the field, 403."""

from __future__ import annotations

import re

import httpx
import pytest

from opsdesk.auth import service as auth_service
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.incidents.priority import current_matrix
from tests.api.admin_pages import NOT_ADMINS, as_admin, as_someone, error_beside
from tests.factories import Desk


async def test_the_hub_lists_every_admin_area_and_the_nav_links_it(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    await as_admin(client)
    hub = await client.get("/admin")
    assert hub.status_code == 200
    for url in ("/admin/users", "/admin/priority-matrix", "/admin/jobs", "/admin/access-keys"):
        assert f'href="{url}"' in hub.text
    assert '<a href="/admin" aria-current="page">Admin</a>' in hub.text


@pytest.mark.parametrize("who", NOT_ADMINS)
async def test_admin_pages_refuse_everyone_else(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock, who: str
) -> None:
    csrf = await as_someone(client, desk, db, clock, who)
    for path in (
        "/admin",
        "/admin/users",
        f"/admin/users/{desk.admin.id}",
        "/admin/priority-matrix",
    ):
        page = await client.get(path)
        assert page.status_code == 403, path
        assert "Administrators only" in page.text
        assert 'href="/admin"' not in page.text
    posted = await client.post(
        "/admin/users", data={"csrf_token": csrf, "email": "x@desk.test", "role": "admin"}
    )
    assert posted.status_code == 403
    matrix = await client.post("/admin/priority-matrix", data={"csrf_token": csrf})
    assert matrix.status_code == 403


async def test_signed_out_visitors_are_sent_to_sign_in(client: httpx.AsyncClient) -> None:
    page = await client.get("/admin/users")
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")


async def test_an_admin_creates_a_user_and_a_bad_email_is_shown_beside_its_field(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    csrf = await as_admin(client)
    bad = await client.post(
        "/admin/users",
        data={"csrf_token": csrf, "email": "not-an-email", "name": "Nina", "role": "technician"},
    )
    assert bad.status_code == 422
    assert "String should match pattern" in error_beside(bad.text, "email")
    assert 'value="Nina"' in bad.text  # what was typed is kept

    made = await client.post(
        "/admin/users",
        data={
            "csrf_token": csrf,
            "email": "nina@desk.test",
            "name": "Nina Tech",
            "role": "technician",
            "password": "nina-password",
            "organisation": "",
        },
    )
    assert made.status_code == 303
    async with db.read() as session:
        nina = await auth_service.get_user_by_email(session=session, email="nina@desk.test")
    assert (nina.name, nina.role, nina.active) == ("Nina Tech", "technician", True)
    assert made.headers["location"] == f"/admin/users/{nina.id}"
    page = await client.get(made.headers["location"])
    assert "User nina@desk.test created." in page.text

    again = await client.post(
        "/admin/users", data={"csrf_token": csrf, "email": "nina@desk.test", "role": "end_user"}
    )
    assert again.status_code == 422
    assert "already exists" in error_beside(again.text, "email")

    forged = await client.post("/admin/users", data={"csrf_token": "forged", "email": "a@b.cd"})
    assert forged.status_code == 403


async def test_an_admin_changes_a_role_resets_a_password_and_deactivates(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    csrf = await as_admin(client)
    url = f"/admin/users/{desk.tech.id}"
    saved = await client.post(
        url,
        data={
            "csrf_token": csrf,
            "name": "Theo",
            "role": "incident_manager",
            "organisation": "Ops",
        },
    )
    assert (saved.status_code, saved.headers["location"]) == (303, url)
    assert f'href="/admin/technicians/{desk.tech.id}"' in (await client.get(url)).text
    blank = await client.post(url, data={"csrf_token": csrf, "name": "", "role": "technician"})
    assert blank.status_code == 422 and error_beside(blank.text, "name")
    short = await client.post(f"{url}/password", data={"csrf_token": csrf, "password": "short"})
    assert short.status_code == 422 and "at least 8" in error_beside(short.text, "password")
    reset = await client.post(
        f"{url}/password", data={"csrf_token": csrf, "password": "brand-new-pw"}
    )
    assert reset.status_code == 303
    off = await client.post(f"{url}/deactivate", data={"csrf_token": csrf})
    assert off.status_code == 303
    async with db.read() as session:
        tech = await auth_service.get_user(session=session, user_id=desk.tech.id)
    assert (tech.name, tech.role, tech.organisation, tech.active) == (
        "Theo",
        "incident_manager",
        "Ops",
        False,
    )
    page = await client.get(url)
    assert "is deactivated and signed out everywhere" in page.text
    # The admin's own role is guarded by the service, and the page says so beside the role.
    own = await client.post(
        f"/admin/users/{desk.admin.id}",
        data={"csrf_token": csrf, "name": "A", "role": "technician"},
    )
    assert own.status_code == 422
    assert "cannot demote or deactivate yourself" in error_beside(own.text, "role")


async def test_api_tokens_are_shown_once_and_revoked_from_the_user_page(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    csrf = await as_admin(client)
    url = f"/admin/users/{desk.user.id}"
    nameless = await client.post(f"{url}/tokens", data={"csrf_token": csrf, "token_name": " "})
    assert nameless.status_code == 422 and error_beside(nameless.text, "token_name")
    made = await client.post(f"{url}/tokens", data={"csrf_token": csrf, "token_name": "monitoring"})
    assert made.status_code == 200
    token = re.search(r'<code class="mono">([^<]+)</code>', made.text)
    assert token is not None
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token.group(1)}"})
    assert me.json()["email"] == "user@desk.test"
    page = await client.get(url)
    assert "monitoring" in page.text and token.group(1) not in page.text
    token_id = re.search(r'id="token-([^"]+)">\s*<td>monitoring', page.text)
    assert token_id is not None
    revoked = await client.post(
        f"{url}/tokens/{token_id.group(1)}/revoke", data={"csrf_token": csrf}
    )
    assert revoked.status_code == 303
    async with db.read() as session:
        rows = await auth_service.list_tokens(session=session, user_id=desk.user.id)
    assert [row.revoked_at is not None for row in rows if row.name == "monitoring"] == [True]
    # A token is revoked only under the user it belongs to.
    other = await client.post(
        f"/admin/users/{desk.tech.id}/tokens/{token_id.group(1)}/revoke", data={"csrf_token": csrf}
    )
    assert other.status_code == 404
    assert 'href="/admin/access-keys?user_id=' in page.text
    assert "/admin/technicians/" not in page.text  # an end user has no technician profile


async def test_the_matrix_grid_saves_and_a_bad_cell_is_shown_beside_it(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    csrf = await as_admin(client)
    page = await client.get("/admin/priority-matrix")
    assert page.status_code == 200 and page.text.count("<select") == 9
    cells = {f"cell-{i}-{u}": "level_30" for i in (1, 2, 3) for u in (1, 2, 3)}
    bad = await client.post(
        "/admin/priority-matrix", data={"csrf_token": csrf, **cells, "cell-2-3": "P9"}
    )
    assert bad.status_code == 422
    assert error_beside(bad.text, "cell-2-3")
    async with db.read() as session:
        assert (await current_matrix(session=session)).get((2, 3)) != "P9"
    saved = await client.post(
        "/admin/priority-matrix", data={"csrf_token": csrf, **cells, "cell-1-1": "level_10"}
    )
    assert saved.status_code == 303
    async with db.read() as session:
        stored = await current_matrix(session=session)
    assert (stored[(1, 1)], stored[(3, 3)], stored[(1, 2)]) == ("level_10", "level_30", "level_30")
    after = await client.get("/admin/priority-matrix")
    assert "Priority matrix saved" in after.text


async def test_every_admin_page_renders_for_an_admin(client: httpx.AsyncClient, desk: Desk) -> None:
    await as_admin(client)
    hub = await client.get("/admin")
    for path in sorted(set(re.findall(r'<h2><a href="(/admin[^"]*)"', hub.text))):
        if path == "/admin/access-keys":
            continue  # owned by the access keys feature
        page = await client.get(path, follow_redirects=True)
        assert page.status_code == 200, path
