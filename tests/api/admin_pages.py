"""Helpers for the admin page tests: sign in as anyone, find the error beside a field."""

from __future__ import annotations

import re

import httpx

from opsdesk.auth import service as auth_service
from opsdesk.auth.schemas import UserUpdate
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from tests.api.test_web_pages import csrf_of, sign_in
from tests.factories import Desk

NOT_ADMINS = ("manager", "tech", "user")


async def as_admin(client: httpx.AsyncClient) -> str:
    """Sign the client in as the desk's admin; returns the CSRF token for forms."""
    assert (await sign_in(client, "admin@desk.test", "admin-password")).status_code == 303
    return csrf_of((await client.get("/admin")).text)


async def as_someone(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock, who: str
) -> str:
    """Give ``who`` a password, sign in as them; returns a CSRF token."""
    actor = getattr(desk, who)
    async with db.write() as session:
        await auth_service.update_user(
            session=session,
            caller=desk.admin.caller,
            user_id=actor.id,
            data=UserUpdate(password="some-password"),
            now=clock.now(),
        )
    assert (await sign_in(client, actor.caller.email, "some-password")).status_code == 303
    return csrf_of((await client.get("/incidents")).text)


def error_beside(html: str, name: str) -> str:
    """The message shown beside the input ``name``, which must point at it."""
    match = re.search(
        rf'<span class="field-error" id="f-{re.escape(name)}-error">([^<]*)</span>', html
    )
    assert match is not None, f"no error beside {name}"
    assert f'aria-describedby="f-{name}-error"' in html
    return match.group(1)
