"""Two technicians accept the same new incident at the same moment: exactly one wins."""

from __future__ import annotations

import asyncio

import httpx

from opsdesk.app import create_app
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from tests.factories import Desk, create_incident


async def test_concurrent_accepts_one_wins_one_history_row(
    database_url: str, db: Database, desk: Desk, clock: FixedClock, settings: Settings
) -> None:
    # Two servers with their own engines and connections, as two processes would have.
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
        for _round in range(5):
            number = (await create_incident(clients[0], desk.user))["number"]
            responses = await asyncio.gather(
                clients[0].post(
                    f"/api/v1/incidents/{number}/actions/accept", json={}, headers=desk.tech.headers
                ),
                clients[1].post(
                    f"/api/v1/incidents/{number}/actions/accept",
                    json={},
                    headers=desk.tech2.headers,
                ),
            )
            codes = sorted(r.status_code for r in responses)
            assert codes == [200, 409], [r.text for r in responses]
            winner = next(r for r in responses if r.status_code == 200).json()
            loser = next(r for r in responses if r.status_code == 409).json()["error"]
            assert loser["details"]["state"] == "in_progress"
            incident = (
                await clients[1].get(f"/api/v1/incidents/{number}", headers=desk.admin.headers)
            ).json()
            assert incident["assignee_id"] == winner["assignee_id"]
            assert incident["version"] == 2
            history = (
                await clients[0].get(
                    f"/api/v1/incidents/{number}/history", headers=desk.admin.headers
                )
            ).json()
            assert [row["action"] for row in history] == ["create_incident", "incident_accept"]
    finally:
        for client in clients:
            await client.aclose()
        await second_db.dispose()
