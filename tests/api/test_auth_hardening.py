"""Sign-in throttling, sessions that end, the auth event log and HSTS, through the HTTP stack."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from opsdesk.app import SESSION_COOKIE, create_app
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from tests.factories import Desk

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
IDLE_S = 600
MAX_AGE_S = 3600
FIRST_DELAY_S = 15


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        secret_key="test-secret-key-" + "x" * 32,
        session_idle_s=IDLE_S,
        session_max_age_s=MAX_AGE_S,
        signin_free_failures=5,
        signin_free_failures_per_address=8,
        signin_first_delay_s=FIRST_DELAY_S,
    )


@pytest.fixture
def app(db: Database, clock: FixedClock, settings: Settings) -> FastAPI:
    return create_app(settings, db=db, clock=clock)


@asynccontextmanager
async def browser(
    app: FastAPI, address: str = "192.0.2.10", cookie: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    cookies = {SESSION_COOKIE: cookie} if cookie is not None else None
    async with httpx.AsyncClient(
        transport=transport, base_url="http://opsdesk.test", cookies=cookies
    ) as http:
        yield http


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match is not None, "no CSRF token in the page"
    return match.group(1)


async def sign_in(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    page = await http.get("/login")
    if page.status_code == 303:  # already signed in: take the form token from another page
        page = await http.get("/account")
    form = {"email": email, "password": password, "csrf_token": csrf_of(page.text)}
    return await http.post("/login", data=form)


async def sign_out(http: httpx.AsyncClient) -> httpx.Response:
    page = await http.get("/account")
    return await http.post("/logout", data={"csrf_token": csrf_of(page.text)})


def cookie_of(http: httpx.AsyncClient) -> str:
    value = http.cookies.get(SESSION_COOKIE)
    assert value, "no session cookie"
    return value


async def status_of_me(app: FastAPI, cookie: str) -> int:
    async with browser(app, cookie=cookie) as copy:
        return (await copy.get("/api/v1/me")).status_code


# --- 24.2 sessions that end ---------------------------------------------------------------


async def test_a_copied_cookie_is_refused_after_sign_out(app: FastAPI, desk: Desk) -> None:
    async with browser(app) as http:
        assert (await sign_in(http, "user@desk.test", "user-password")).status_code == 303
        copied = cookie_of(http)
        assert await status_of_me(app, copied) == 200
        assert (await sign_out(http)).status_code == 303
        assert (await http.get("/api/v1/me")).status_code == 401
    assert await status_of_me(app, copied) == 401
    async with browser(app, cookie=copied) as copy:
        page = await copy.get("/incidents")
        assert page.status_code == 303
        assert page.headers["location"].startswith("/login")


async def test_sign_out_ends_the_session_in_every_process(
    app: FastAPI, database_url: str, clock: FixedClock, settings: Settings, desk: Desk
) -> None:
    # A second app with its own engine and pool stands for another server process.
    other_db = Database(database_url)
    other = create_app(settings, db=other_db, clock=clock)
    try:
        async with browser(app) as http:
            await sign_in(http, "user@desk.test", "user-password")
            copied = cookie_of(http)
            assert await status_of_me(other, copied) == 200
            await sign_out(http)
        assert await status_of_me(other, copied) == 401
    finally:
        await other_db.dispose()


async def test_sign_in_gives_a_new_session_id(app: FastAPI, desk: Desk) -> None:
    async with browser(app) as http:
        await http.get("/login")
        planted = cookie_of(http)  # what an attacker could have set before the sign-in
        await sign_in(http, "user@desk.test", "user-password")
        first = cookie_of(http)
        await sign_in(http, "user@desk.test", "user-password")
        second = cookie_of(http)
    assert len({planted, first, second}) == 3
    assert await status_of_me(app, planted) == 401
    assert await status_of_me(app, first) == 401
    assert await status_of_me(app, second) == 200


async def test_sign_out_everywhere_else_keeps_only_this_browser(app: FastAPI, desk: Desk) -> None:
    async with browser(app, "192.0.2.1") as laptop, browser(app, "192.0.2.2") as phone:
        await sign_in(laptop, "user@desk.test", "user-password")
        await sign_in(phone, "user@desk.test", "user-password")
        listed = (await phone.get("/api/v1/me/sessions")).json()
        assert len(listed) == 2
        current = {row["client_address"]: row["current"] for row in listed}
        assert current == {"192.0.2.1": False, "192.0.2.2": True}
        page = await phone.get("/account")
        assert "Sign out everywhere else" in page.text
        ended = await phone.post(
            "/account/sessions/end-others", data={"csrf_token": csrf_of(page.text)}
        )
        assert ended.status_code == 303
        assert (await laptop.get("/api/v1/me")).status_code == 401
        assert (await phone.get("/api/v1/me")).status_code == 200
        # The API route does the same for the caller's remaining sessions.
        await sign_in(laptop, "user@desk.test", "user-password")
        answer = await laptop.post("/api/v1/me/sessions/end-others")
        assert answer.json() == {"ended_sessions": 1}
        assert (await phone.get("/api/v1/me")).status_code == 401
        assert (await laptop.get("/api/v1/me")).status_code == 200


async def test_deactivation_and_password_reset_end_the_users_sessions(
    app: FastAPI, desk: Desk
) -> None:
    admin = desk.admin.headers
    async with browser(app) as http:
        await sign_in(http, "user@desk.test", "user-password")
        assert (await http.get("/api/v1/me")).status_code == 200
        reset = await http.patch(
            f"/api/v1/users/{desk.user.id}", json={"password": "reset-password"}, headers=admin
        )
        assert reset.status_code == 200
        assert (await http.get("/api/v1/me")).status_code == 401
        assert (await sign_in(http, "user@desk.test", "reset-password")).status_code == 303
        assert (await http.get("/api/v1/me")).status_code == 200
        gone = await http.delete(f"/api/v1/users/{desk.user.id}", headers=admin)
        assert gone.status_code == 200
        assert (await http.get("/api/v1/me")).status_code == 401


async def test_changing_your_password_ends_your_other_sessions(app: FastAPI, desk: Desk) -> None:
    async with browser(app, "192.0.2.1") as laptop, browser(app, "192.0.2.2") as phone:
        await sign_in(laptop, "user@desk.test", "user-password")
        await sign_in(phone, "user@desk.test", "user-password")
        page = await phone.get("/account")
        form = {
            "csrf_token": csrf_of(page.text),
            "current_password": "user-password",
            "new_password": "a-new-password",
            "new_password_again": "a-new-password",
        }
        changed = await phone.post("/account/password", data=form)
        assert changed.status_code == 303
        assert (await laptop.get("/api/v1/me")).status_code == 401
        assert (await phone.get("/api/v1/me")).status_code == 200
        # Through the API with a token: the web sessions of the user end.
        via_api = await phone.post(
            "/api/v1/me/password",
            json={"current_password": "a-new-password", "new_password": "third-password"},
            headers=desk.user.headers,
        )
        assert via_api.status_code == 200
        assert via_api.json() == {"ended_sessions": 1}
        assert (await phone.get("/api/v1/me", headers={})).status_code == 401
        assert (await sign_in(laptop, "user@desk.test", "third-password")).status_code == 303


async def test_an_idle_session_ends_and_so_does_an_old_one(
    app: FastAPI, desk: Desk, clock: FixedClock
) -> None:
    async with browser(app) as http:
        await sign_in(http, "user@desk.test", "user-password")
        # Used every 500 s (under the idle limit of 600 s): alive until the absolute limit.
        for _ in range(MAX_AGE_S // 500):
            clock.advance(timedelta(seconds=500))
            assert (await http.get("/api/v1/me")).status_code == 200
        clock.advance(timedelta(seconds=MAX_AGE_S - (MAX_AGE_S // 500) * 500 + 1))
        assert (await http.get("/api/v1/me")).status_code == 401
        await sign_in(http, "user@desk.test", "user-password")
        clock.advance(timedelta(seconds=IDLE_S + 1))
        assert (await http.get("/api/v1/me")).status_code == 401


# --- 24.1 sign-in throttling -----------------------------------------------------------------


@pytest.mark.parametrize("email", ["user@desk.test", "nobody@desk.test"])
async def test_failed_sign_ins_are_throttled_and_the_right_password_works_after_the_wait(
    app: FastAPI, desk: Desk, clock: FixedClock, email: str
) -> None:
    async with browser(app) as http:
        for _ in range(5):
            assert (await sign_in(http, email, "wrong-password")).status_code == 401
        refused = await sign_in(http, email, "user-password")
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == str(FIRST_DELAY_S)
        assert "Too many failed sign-ins" in refused.text
        clock.advance(timedelta(seconds=FIRST_DELAY_S))
        # The wait doubles with each further failure.
        assert (await sign_in(http, email, "wrong-password")).status_code == 401
        again = await sign_in(http, email, "user-password")
        assert again.status_code == 429
        assert again.headers["retry-after"] == str(2 * FIRST_DELAY_S)
        clock.advance(timedelta(seconds=2 * FIRST_DELAY_S))
        if email == "user@desk.test":
            assert (await sign_in(http, email, "user-password")).status_code == 303
            assert (await http.get("/api/v1/me")).status_code == 200
        # Another address is not throttled by this one's account failures... but the
        # account is: a different client gets the same answer for this e-mail.
    async with browser(app, "198.51.100.7") as elsewhere:
        for _ in range(5):
            await sign_in(elsewhere, "someone-else@desk.test", "wrong-password")
        assert (await sign_in(elsewhere, "someone-else@desk.test", "x")).status_code == 429


async def test_one_address_guessing_many_accounts_is_throttled(
    app: FastAPI, desk: Desk, clock: FixedClock
) -> None:
    async with browser(app, "203.0.113.9") as http:
        for number in range(8):
            answer = await sign_in(http, f"guess{number}@desk.test", "wrong-password")
            assert answer.status_code == 401
        refused = await sign_in(http, "user@desk.test", "user-password")
        assert refused.status_code == 429
    async with browser(app, "203.0.113.10") as other:
        assert (await sign_in(other, "user@desk.test", "user-password")).status_code == 303


async def test_the_password_change_route_is_throttled_too(
    app: FastAPI, desk: Desk, clock: FixedClock
) -> None:
    async with browser(app) as http:
        body = {"current_password": "wrong-password", "new_password": "whatever-new"}
        for _ in range(5):
            wrong = await http.post("/api/v1/me/password", json=body, headers=desk.user.headers)
            assert wrong.status_code == 422
            assert wrong.json()["error"]["field"] == "password"
        body["current_password"] = "user-password"
        refused = await http.post("/api/v1/me/password", json=body, headers=desk.user.headers)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == str(FIRST_DELAY_S)
        assert refused.json()["error"]["code"] == "too_many_attempts"
        # The same account is throttled at the sign-in form: one rule for both.
        assert (await sign_in(http, "user@desk.test", "user-password")).status_code == 429
        clock.advance(timedelta(seconds=FIRST_DELAY_S))
        done = await http.post("/api/v1/me/password", json=body, headers=desk.user.headers)
        assert done.status_code == 200


# --- the auth event log ----------------------------------------------------------------------


async def test_admins_list_every_sign_in_and_failure(app: FastAPI, desk: Desk) -> None:
    async with browser(app, "192.0.2.44") as http:
        await sign_in(http, "nobody@desk.test", "wrong-password")
        await sign_in(http, "user@desk.test", "wrong-password")
        await sign_in(http, "user@desk.test", "user-password")
        await sign_out(http)
        events = await http.get("/api/v1/admin/auth-events", headers=desk.admin.headers)
        assert events.status_code == 200
        items = events.json()["items"]
        assert [item["kind"] for item in items] == [
            "sign_out",
            "sign_in",
            "sign_in_failed",
            "sign_in_failed",
        ]
        assert items[1]["user_id"] == desk.user.id
        assert items[3]["email"] == "nobody@desk.test" and items[3]["user_id"] is None
        assert {item["client_address"] for item in items} == {"192.0.2.44"}
        failed = await http.get(
            "/api/v1/admin/auth-events",
            params={"kind": "sign_in_failed", "email": "USER@desk.test", "per_page": 1},
            headers=desk.admin.headers,
        )
        assert failed.json()["total"] == 1
        assert failed.json()["items"][0]["email"] == "user@desk.test"
        bad_kind = await http.get(
            "/api/v1/admin/auth-events", params={"kind": "nope"}, headers=desk.admin.headers
        )
        assert bad_kind.status_code == 422
        assert bad_kind.json()["error"]["field"] == "kind"
        refused = await http.get("/api/v1/admin/auth-events", headers=desk.tech.headers)
        assert refused.status_code == 403
        assert (await http.get("/api/v1/admin/auth-events")).status_code == 401


async def test_the_sign_in_log_page_is_for_admins(app: FastAPI, desk: Desk) -> None:
    async with browser(app) as http:
        await sign_in(http, "nobody@desk.test", "wrong-password")
        await sign_in(http, "user@desk.test", "user-password")
        assert (await http.get("/admin/auth-events")).status_code == 403
        await sign_out(http)
        await sign_in(http, "admin@desk.test", "admin-password")
        page = await http.get("/admin/auth-events?kind=sign_in_failed")
        assert page.status_code == 200
        assert 'href="/admin/auth-events"' in page.text
        assert "nobody@desk.test" in page.text
        assert "auth-event-sign_in_failed" in page.text
        assert 'auth-event-sign_in"' not in page.text


# --- 24.9 transport security ---------------------------------------------------------------


@pytest.mark.parametrize("secure", [True, False])
async def test_hsts_only_when_cookies_are_secure(
    db: Database, clock: FixedClock, tmp_path: Path, secure: bool
) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="k" * 40, cookie_secure=secure)
    app = create_app(settings, db=db, clock=clock)
    async with browser(app) as http:
        for path in ("/login", "/healthz", "/api/v1/me"):
            answer = await http.get(path)
            if secure:
                assert answer.headers["strict-transport-security"] == "max-age=31536000"
            else:
                assert "strict-transport-security" not in answer.headers


async def test_the_password_form_names_what_is_wrong_and_changes_nothing(
    app: FastAPI, desk: Desk
) -> None:
    async with browser(app) as http:
        await sign_in(http, "user@desk.test", "user-password")
        token = csrf_of((await http.get("/account")).text)
        cases = [
            ("user-password", "new-password-1", "new-password-2", "The two new passwords differ."),
            ("user-password", "short", "short", "The new password must be 8 to 1024 characters."),
            ("wrong-password", "new-password-1", "new-password-1", "current password is wrong"),
            ("user-password", "user-password", "user-password", "the current one"),
        ]
        for current, new, again, message in cases:
            answer = await http.post(
                "/account/password",
                data={
                    "csrf_token": token,
                    "current_password": current,
                    "new_password": new,
                    "new_password_again": again,
                },
            )
            assert answer.status_code == 422
            assert message in answer.text
        no_token = await http.post("/account/password", data={"current_password": "x"})
        assert no_token.status_code == 403
    async with browser(app) as fresh:
        assert (await sign_in(fresh, "user@desk.test", "user-password")).status_code == 303


async def test_ending_one_session_by_its_id(app: FastAPI, desk: Desk) -> None:
    async with browser(app) as http:
        await sign_in(http, "user@desk.test", "user-password")
        listed = await http.get("/api/v1/me/sessions", headers=desk.user.headers)
        [only] = listed.json()
        assert only["current"] is False  # asked with a token, not with this session
        other = await http.delete(f"/api/v1/me/sessions/{only['id']}", headers=desk.tech.headers)
        assert other.status_code == 404
        assert (await http.get("/api/v1/me")).status_code == 200
        ended = await http.delete(f"/api/v1/me/sessions/{only['id']}", headers=desk.user.headers)
        assert ended.status_code == 204
        assert (await http.get("/api/v1/me")).status_code == 401
        again = await http.delete(f"/api/v1/me/sessions/{only['id']}", headers=desk.user.headers)
        assert again.status_code == 404
