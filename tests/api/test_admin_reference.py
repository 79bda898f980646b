"""The reference data admin pages: add, edit, disable, delete, errors beside the field."""

from __future__ import annotations

import httpx
import pytest

from opsdesk.catalog import service as catalog_service
from opsdesk.catalog.kinds import Kind
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from tests.api.admin_pages import NOT_ADMINS, as_admin, as_someone, error_beside
from tests.factories import Desk


async def test_an_admin_adds_edits_and_deletes_a_category(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    csrf = await as_admin(client)
    listing = await client.get("/admin/reference/categories")
    assert listing.status_code == 200 and 'id="create-item"' in listing.text
    bad = await client.post(
        "/admin/reference/categories",
        data={"csrf_token": csrf, "key": "has space", "name_en": "Printers", "enabled": "on"},
    )
    assert bad.status_code == 422 and error_beside(bad.text, "key")
    assert 'value="Printers"' in bad.text
    made = await client.post(
        "/admin/reference/categories",
        data={"csrf_token": csrf, "key": "printers", "name_en": "Printers", "enabled": "on"},
    )
    assert made.status_code == 303
    twice = await client.post(
        "/admin/reference/categories",
        data={"csrf_token": csrf, "key": "printers", "name_en": "Again", "enabled": "on"},
    )
    assert twice.status_code == 422 and "already exists" in error_beside(twice.text, "key")

    blank = await client.post(
        "/admin/reference/categories/printers",
        data={"csrf_token": csrf, "name_en": "", "sort_order": "5"},
    )
    assert blank.status_code == 422 and error_beside(blank.text, "name_en")
    edited = await client.post(
        "/admin/reference/categories/printers",
        data={"csrf_token": csrf, "name_en": "Printing", "name_zh": "打印", "sort_order": "5"},
    )
    assert edited.status_code == 303
    async with db.read() as session:
        item = await catalog_service.get_item(session=session, kind=Kind.CATEGORY, key="printers")
    assert (item.name_en, item.name_zh, item.sort_order, item.enabled) == (
        "Printing",
        "打印",
        5,
        False,  # the box was left unticked
    )
    deleted = await client.post(
        "/admin/reference/categories/printers/delete", data={"csrf_token": csrf}
    )
    assert deleted.status_code == 303
    assert (await client.get("/admin/reference/categories/printers")).status_code == 404


async def test_levels_are_described_not_added(client: httpx.AsyncClient, desk: Desk) -> None:
    csrf = await as_admin(client)
    page = await client.get("/admin/reference/levels")
    assert page.status_code == 200 and 'id="create-item"' not in page.text
    refused = await client.post(
        "/admin/reference/levels",
        data={"csrf_token": csrf, "key": "level_60", "name_en": "P6", "enabled": "on"},
    )
    assert refused.status_code == 422 and 'id="refused">Levels are fixed' in refused.text
    assert (await client.get("/admin/reference/nonsense")).status_code == 404


@pytest.mark.parametrize("who", NOT_ADMINS)
async def test_reference_pages_are_for_admins_only(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock, who: str
) -> None:
    csrf = await as_someone(client, desk, db, clock, who)
    assert (await client.get("/admin/reference/categories")).status_code == 403
    posted = await client.post(
        "/admin/reference/categories",
        data={"csrf_token": csrf, "key": "x", "name_en": "X", "enabled": "on"},
    )
    assert posted.status_code == 403
