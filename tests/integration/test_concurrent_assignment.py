"""Round-robin under concurrent creates from two servers: the group's pointer never forks."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from opsdesk.app import create_app
from opsdesk.auth.roles import Role
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from tests.factories import Desk, make_actor


async def test_concurrent_creates_keep_round_robin_even(
    database_url: str, db: Database, desk: Desk, clock: FixedClock, settings: Settings
) -> None:
    team = [desk.tech, desk.tech2] + [
        await make_actor(db, clock, Role.TECHNICIAN, f"rr{n}@desk.test") for n in range(2)
    ]
    second_db = Database(database_url)
    apps = [
        create_app(settings, db=db, clock=clock),
        create_app(settings, db=second_db, clock=clock),
    ]
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://opsdesk.test")
        for app in apps
    ]
    try:
        admin = desk.admin.headers
        group = {"key": "l1", "name": "L1", "members": [t.id for t in team]}
        assert (await clients[0].post("/api/v1/workgroups", json=group, headers=admin)).is_success
        rule = {"name": "all", "target_type": "workgroup", "target_workgroup": "l1"}
        assert (
            await clients[0].post("/api/v1/assignment-rules", json=rule, headers=admin)
        ).is_success

        async def report(n: int) -> str:
            response = await clients[n % 2].post(
                "/api/v1/incidents", json={"title": f"report {n}"}, headers=desk.user.headers
            )
            assert response.status_code == 201, response.text
            return str(response.json()["assignee_id"])

        owners = Counter(await asyncio.gather(*(report(n) for n in range(40))))
        assert owners == {t.id: 10 for t in team}
    finally:
        for client in clients:
            await client.aclose()
        await second_db.dispose()


async def test_round_robin_survives_a_missing_turn_sequence(
    database_url: str, db: Database, desk: Desk, clock: FixedClock, settings: Settings
) -> None:
    """A group that arrived without its sequence (a restore, a copy) still takes turns."""
    from sqlalchemy import text

    from opsdesk.assignment.workgroups import _turn_sequence

    app = create_app(settings, db=db, clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://opsdesk.test"
    ) as client:
        admin = desk.admin.headers
        group = {"key": "l1", "name": "L1", "members": [desk.tech.id, desk.tech2.id]}
        assert (await client.post("/api/v1/workgroups", json=group, headers=admin)).is_success
        if database_url.startswith("postgresql"):
            async with db.write() as session:
                await session.execute(text(f"DROP SEQUENCE {_turn_sequence('l1')}"))
        owners = []
        for n in range(4):
            response = await client.post(
                "/api/v1/incidents",
                json={"title": f"report {n}", "workgroup": "l1"},
                headers=desk.tech.headers,
            )
            assert response.status_code == 201, response.text
            owners.append(response.json()["assignee_id"])
        assert Counter(owners) == {desk.tech.id: 2, desk.tech2.id: 2}
