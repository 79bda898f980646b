"""``opsdesk integrations``: the create command prints only a key that the receivers accept."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest

from opsdesk.app import create_app
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from tests.cli.test_cli import Cli

KEY = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    runner = Cli(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}", tmp_path)
    assert runner("db", "upgrade").exit_code == 0
    return runner


async def post_generic(url: str, key: str) -> httpx.Response:
    db = Database(url)
    try:
        web = create_app(Settings(secret_key="k" * 40, run_worker=False), db=db)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=web), base_url="http://t"
        ) as http:
            return await http.post(f"/api/v1/alerts/generic/{key}", json={"summary": "disk full"})
    finally:
        await db.dispose()


def test_create_prints_only_the_key(cli: Cli) -> None:
    no_admin = cli("integrations", "create", "Nagios", "--kind", "generic")
    assert no_admin.exit_code == 1 and "administrator" in no_admin.output
    made = cli("users", "create", "root@example.com", "--role", "admin")
    assert made.exit_code == 0, made.output
    result = cli("integrations", "create", "Nagios", "--kind", "generic")
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert KEY.match(key), result.stdout
    response = asyncio.run(post_generic(cli.url, key))
    assert response.status_code == 200, response.text
    assert len(response.json()["incidents"]) == 1
    listed = cli("integrations", "list")
    assert "Nagios" in listed.output and key[:6] in listed.output and key not in listed.output


def test_create_refuses_a_bad_kind(cli: Cli) -> None:
    cli("users", "create", "root@example.com", "--role", "admin")
    result = cli("integrations", "create", "X", "--kind", "nagios")
    assert result.exit_code == 1 and "kind" in result.output


def test_demo_data_has_alert_groups_and_one_incident_from_them(cli: Cli, tmp_path: Path) -> None:
    import sqlite3

    assert cli("demo", "load").exit_code == 0
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        groups = conn.execute("SELECT count(*), count(incident_id) FROM alert_groups").fetchone()
        counts = conn.execute("SELECT sum(count) FROM alerts").fetchone()
        source = conn.execute(
            "SELECT count(*) FROM incidents JOIN alert_groups g ON g.incident_id = incidents.id"
            " WHERE incidents.source = 'incident_source_alarm' AND incidents.level = 'level_20'"
        ).fetchone()
    assert groups == (3, 1)
    assert counts == (8,)  # two disk alerts three times, two single ones
    assert source == (1,)
