"""Attack check: does the sign-in answer time tell whether an account exists?

Through the whole ASGI stack (``POST /login`` with its CSRF token) on a fresh SQLite
database: alternating failed sign-ins for an existing account and for unknown addresses,
first below the throttling threshold (the password is checked: argon2 against the real or
a dummy hash), then above it (429 before any password is checked). Prints the median and
p90 per kind and the ratio of medians; a ratio near 1.0 means the time tells nothing.

Usage::

    PYTHONPATH=src .venv/bin/python bench/signin_timing.py [--attempts 40]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from opsdesk.app import create_app
from opsdesk.auth import service as auth_service
from opsdesk.auth.roles import Role
from opsdesk.auth.schemas import UserCreate
from opsdesk.bootstrap import prepare_database
from opsdesk.core.clock import SystemClock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _attempt(http: httpx.AsyncClient, email: str) -> tuple[float, int]:
    page = await http.get("/login")
    match = CSRF.search(page.text)
    assert match is not None
    form = {"email": email, "password": "wrong-password", "csrf_token": match.group(1)}
    started = time.perf_counter()
    answer = await http.post("/login", data=form)
    return time.perf_counter() - started, answer.status_code


def _report(label: str, known: list[float], unknown: list[float]) -> None:
    def p90(values: list[float]) -> float:
        return statistics.quantiles(values, n=10)[-1]

    print(
        f"{label}: known median {statistics.median(known) * 1000:.1f} ms "
        f"p90 {p90(known) * 1000:.1f} ms; unknown median {statistics.median(unknown) * 1000:.1f}"
        f" ms p90 {p90(unknown) * 1000:.1f} ms; ratio of medians "
        f"{statistics.median(known) / statistics.median(unknown):.2f}"
    )


async def main(folder: str, attempts: int) -> None:
    url = f"sqlite+aiosqlite:///{Path(folder) / 'opsdesk.db'}"
    db = Database(url)
    async with db.write() as session:
        await auth_service.create_user(
            session=session,
            data=UserCreate(email="victim@example.com", role=Role.END_USER, password="x" * 12),
            now=SystemClock().now(),
        )
    for label, free in (("password checked", 10**6), ("throttled (429)", 1)):
        settings = Settings(
            data_dir=Path(folder),
            secret_key="k" * 40,
            run_worker=False,
            signin_free_failures=free,
            signin_free_failures_per_address=10**6,
        )
        app = create_app(settings, db=db)
        transport = httpx.ASGITransport(app=app)
        known: list[float] = []
        unknown: list[float] = []
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            # Warm-up, and (throttled run) the failures that start the wait for both.
            await _attempt(http, "victim@example.com")
            await _attempt(http, "ghost@example.com")
            for _ in range(attempts):
                seconds, status = await _attempt(http, "victim@example.com")
                known.append(seconds)
                seconds_unknown, status_unknown = await _attempt(http, "ghost@example.com")
                unknown.append(seconds_unknown)
                assert status == status_unknown, (status, status_unknown)
        _report(label, known, unknown)
    await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=40)
    with tempfile.TemporaryDirectory() as data_dir:
        prepare_database(f"sqlite+aiosqlite:///{Path(data_dir) / 'opsdesk.db'}")
        asyncio.run(main(data_dir, parser.parse_args().attempts))
