"""The ``opsdesk`` command line, against real database files."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from opsdesk.app import create_app
from opsdesk.cli import app
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings, get_settings
from tests.conftest import POSTGRES_HINT, PostgresServer

TOKEN = re.compile(r"^odk_[A-Za-z0-9_\-]{40,}$")


class Cli:
    def __init__(self, url: str, data_dir: Path) -> None:
        self.env = {"OPSDESK_DATABASE_URL": url, "OPSDESK_DATA_DIR": str(data_dir)}
        self.url = url

    def __call__(self, *args: str, stdin: str | None = None) -> Result:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(app, list(args), input=stdin, env=self.env)
        finally:
            get_settings.cache_clear()


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    runner = Cli(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}", tmp_path)
    result = runner("db", "upgrade")
    assert result.exit_code == 0, result.output
    return runner


async def whoami(url: str, token: str) -> dict[str, str]:
    db = Database(url)
    try:
        web = create_app(Settings(secret_key="k" * 40), db=db)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=web), base_url="http://t"
        ) as http:
            response = await http.get("/api/v1/me", headers={"X-Auth-Token": token})
            assert response.status_code == 200, response.text
            me: dict[str, str] = response.json()
            return me
    finally:
        await db.dispose()


def test_upgrade_says_what_it_did(tmp_path: Path) -> None:
    from opsdesk.core.migrate import upgrade

    fresh = Cli(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}", tmp_path)
    created = fresh("db", "upgrade")
    assert created.exit_code == 0, created.output
    assert re.fullmatch(
        r"database created at revision \d{4} \(44 default reference items added\)\n",
        created.output,
    ), created.output
    head = created.output.split()[4]
    again = fresh("db", "upgrade")
    assert again.exit_code == 0
    assert again.output == f"database is up to date at revision {head}\n"

    older_url = f"sqlite+aiosqlite:///{tmp_path / 'older.db'}"
    upgrade(older_url, "0007")
    older = Cli(older_url, tmp_path)("db", "upgrade")
    assert older.exit_code == 0, older.output
    assert older.output.startswith(f"database upgraded from revision 0007 to {head}"), older.output


def test_create_user_and_token(cli: Cli) -> None:
    created = cli(
        "users",
        "create",
        "Ops@Example.com",
        "--role",
        "technician",
        "--password-stdin",
        stdin="a-long-password\n",
    )
    assert created.exit_code == 0, created.output
    user_id = created.output.strip()
    assert re.fullmatch(r"[0-9a-f]{32}", user_id)
    token = cli("tokens", "create", "ops@example.com")
    assert token.exit_code == 0, token.output
    assert token.output.count("\n") == 1
    assert TOKEN.match(token.output.strip())
    me = asyncio.run(whoami(cli.url, token.output.strip()))
    assert me == {"id": user_id, "email": "ops@example.com", "name": "ops", "role": "technician"}
    listed = cli("users", "list")
    assert "ops@example.com" in listed.output and "technician" in listed.output


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("users", "create", "a@example.com", "--role", "overlord"), None, "overlord"),
        (("users", "create", "not-an-email"), None, "email"),
        (("users", "create", "a@example.com", "--password-stdin"), "short\n", "at least 8"),
        (("tokens", "create", "nobody@example.com"), None, "no user with email"),
    ],
)
def test_bad_input_exits_non_zero_with_a_message(
    cli: Cli, args: tuple[str, ...], stdin: str | None, message: str
) -> None:
    result = cli(*args, stdin=stdin)
    assert result.exit_code != 0
    assert message in result.output


def test_duplicate_user_is_refused(cli: Cli) -> None:
    assert cli("users", "create", "dup@example.com").exit_code == 0
    again = cli("users", "create", "dup@example.com")
    assert again.exit_code == 1
    assert "already exists" in again.output


def test_demo_loads_once(cli: Cli) -> None:
    first = cli("demo", "load")
    assert first.exit_code == 0, first.output
    assert "admin@example.com" in first.output
    second = cli("demo", "load")
    assert second.exit_code == 0
    assert "already loaded" in second.output


def test_sweep_completes_what_is_due_once(cli: Cli) -> None:
    assert cli("demo", "load").exit_code == 0
    # The demo's resolved incidents (the printer, the payroll outage of the review demo) wait
    # for their reporters: not due within 7 days.
    waiting = cli("incidents", "sweep")
    assert waiting.exit_code == 0, waiting.output
    assert waiting.output.strip() == "0 incidents auto-completed, 0 pauses ended"
    cli.env["OPSDESK_AUTO_COMPLETE_DAYS"] = "0"
    due = cli("incidents", "sweep")
    assert due.output.strip() == "2 incidents auto-completed, 0 pauses ended"
    again = cli("incidents", "sweep")
    assert again.output.strip() == "0 incidents auto-completed, 0 pauses ended"


def test_upgrade_on_postgres(postgres: PostgresServer | None, tmp_path: Path) -> None:
    if postgres is None:
        pytest.skip(POSTGRES_HINT)
    name = f"opsdesk_cli_{uuid.uuid4().hex[:10]}"
    postgres.execute(f"CREATE DATABASE {name}")
    postgres.created.append(name)
    for driver in ("asyncpg", "psycopg"):
        runner = Cli(postgres.url_for(name, driver), tmp_path)
        result = runner("db", "upgrade")
        assert result.exit_code == 0, result.output
    runner = Cli(postgres.url_for(name, "psycopg"), tmp_path)
    assert runner("demo", "load").exit_code == 0
    token = runner("tokens", "create", "admin@example.com").output.strip()
    assert TOKEN.match(token)


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    runner = Cli("postgresql+asyncpg://nobody@127.0.0.1:1/none", tmp_path)
    result = runner("db", "upgrade")
    assert result.exit_code == 1
    assert "could not upgrade the database" in result.output


def test_shifts_on_duty_names_the_person_and_the_reason(cli: Cli) -> None:
    assert cli("demo", "load").exit_code == 0
    result = cli("shifts", "on-duty", "service-desk", "incident-manager")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("manager@example.com  ")
    assert "rotation 'Duty manager' turn 1" in result.output
    # Before the demo rotation began, nobody was on duty.
    early = cli("shifts", "on-duty", "service-desk", "l1-analyst", "--at", "2020-01-01T00:00Z")
    assert early.exit_code == 0, early.output
    assert early.output.startswith("nobody")
    for args, message in (
        (("nope", "l1-analyst"), "assignee_scene: no shift scene nope"),
        (("service-desk", "nope"), "no shift role nope"),
        (("service-desk", "l1-analyst", "--at", "tomorrow"), "--at"),
        (("service-desk", "l1-analyst", "--at", "2026-01-01T00:00"), "offset"),
    ):
        bad = cli("shifts", "on-duty", *args)
        assert bad.exit_code == 1, bad.output
        assert message in bad.output


async def signed_whoami(url: str, data_dir: Path, access_key_id: str, secret_key: str) -> int:
    """GET /api/v1/me signed with the key, on an app with the CLI's (generated) secret key."""
    from datetime import UTC, datetime

    from tests.api.signed import sdk_date, signed_headers

    db = Database(url)
    try:
        web = create_app(Settings(data_dir=data_dir), db=db)
        headers = signed_headers(
            access_key_id,
            secret_key,
            method="GET",
            host="t",
            path="/api/v1/me",
            date=sdk_date(datetime.now(UTC)),
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=web), base_url="http://t"
        ) as http:
            response = await http.get("/api/v1/me", headers=headers)
            return response.status_code
    finally:
        await db.dispose()


def test_access_keys_create_list_revoke(cli: Cli, tmp_path: Path) -> None:
    assert cli("users", "create", "ak@example.com").exit_code == 0
    created = cli("access-keys", "create", "ak@example.com", "--name", "laptop")
    assert created.exit_code == 0, created.output
    access_key_id, secret_key = created.output.splitlines()
    assert created.output == f"{access_key_id}\n{secret_key}\n"
    assert re.fullmatch(r"[A-Z0-9]{20}", access_key_id)
    assert re.fullmatch(r"[A-Za-z0-9]{40}", secret_key)
    assert asyncio.run(signed_whoami(cli.url, tmp_path, access_key_id, secret_key)) == 200
    listed = cli("access-keys", "list", "ak@example.com")
    assert listed.exit_code == 0, listed.output
    assert access_key_id in listed.output and "laptop" in listed.output
    assert secret_key not in listed.output and "never used" not in listed.output
    assert "active" in listed.output
    revoked = cli("access-keys", "revoke", access_key_id)
    assert revoked.exit_code == 0, revoked.output
    assert asyncio.run(signed_whoami(cli.url, tmp_path, access_key_id, secret_key)) == 401
    assert "revoked" in cli("access-keys", "list", "ak@example.com").output
    unknown = cli("access-keys", "revoke", "NOSUCHKEY")
    assert unknown.exit_code == 1 and "no access key NOSUCHKEY" in unknown.output
    nobody = cli("access-keys", "create", "nobody@example.com")
    assert nobody.exit_code == 1 and "no user with email" in nobody.output
