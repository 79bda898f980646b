"""Test fixtures: real databases (SQLite always, PostgreSQL when configured) and the ASGI app.

Every test gets its own database, copied from a migrated template: a SQLite file copy, or
``CREATE DATABASE … TEMPLATE`` on PostgreSQL. Set ``OPSDESK_TEST_POSTGRES_URL`` (e.g.
``postgresql://postgres@127.0.0.1:5432/postgres``) to run every database test on
PostgreSQL as well.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from opsdesk.app import create_app
from opsdesk.bootstrap import prepare_database
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from tests.factories import Desk, make_desk

POSTGRES_ENV = "OPSDESK_TEST_POSTGRES_URL"
POSTGRES_HINT = (
    f"PostgreSQL tests skipped: set {POSTGRES_ENV}=postgresql://postgres@127.0.0.1:5432/postgres "
    "to run them (`make test` does this when a server listens there)"
)
START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@dataclass
class PostgresServer:
    """Creates and drops per-test databases on one PostgreSQL server."""

    admin_url: str
    template: str
    created: list[str] = field(default_factory=list)

    def execute(self, sql: str) -> None:
        import psycopg

        url = make_url(self.admin_url).set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(sql.encode())

    def url_for(self, database: str, driver: str = "asyncpg") -> str:
        url = make_url(self.admin_url).set(drivername=f"postgresql+{driver}", database=database)
        return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    prepare_database(f"sqlite+aiosqlite:///{path}")
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer | None]:
    admin_url = os.environ.get(POSTGRES_ENV)
    if not admin_url:
        yield None
        return
    server = PostgresServer(admin_url=admin_url, template=f"opsdesk_tpl_{uuid.uuid4().hex[:8]}")
    server.execute(f"CREATE DATABASE {server.template}")
    try:
        prepare_database(server.url_for(server.template))
        yield server
    finally:
        for name in server.created:
            server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        server.execute(f"DROP DATABASE IF EXISTS {server.template} WITH (FORCE)")


def _new_database_url(
    backend: str, tmp_path: Path, sqlite_template: Path, postgres: PostgresServer | None
) -> str:
    if backend == "sqlite":
        path = tmp_path / "opsdesk.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    if postgres is None:
        pytest.skip(POSTGRES_HINT)
    name = f"opsdesk_t_{uuid.uuid4().hex[:12]}"
    postgres.execute(f"CREATE DATABASE {name} TEMPLATE {postgres.template}")
    postgres.created.append(name)
    return postgres.url_for(name)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(
    backend: str, tmp_path: Path, sqlite_template: Path, postgres: PostgresServer | None
) -> str:
    return _new_database_url(backend, tmp_path, sqlite_template, postgres)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, secret_key="test-secret-key-" + "x" * 32)


@pytest.fixture
async def client(
    db: Database, clock: FixedClock, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, db=db, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://opsdesk.test") as http:
        yield http


@pytest.fixture
async def desk(db: Database, clock: FixedClock) -> Desk:
    return await make_desk(db, clock)
