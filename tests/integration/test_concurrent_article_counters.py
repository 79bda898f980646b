"""Many readers vote and several analysts apply one article at the same moment, through two
servers: the counters end equal to the stored votes and applications, never lost updates."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select

from opsdesk.app import create_app
from opsdesk.auth.roles import Role
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from opsdesk.knowledge.article_models import ArticleEvent, ArticleFeedback
from opsdesk.knowledge.models import Article
from tests.factories import Desk, create_incident, make_actor


async def test_simultaneous_votes_and_applications_keep_the_counters_exact(
    database_url: str, db: Database, desk: Desk, clock: FixedClock, settings: Settings
) -> None:
    second_db = Database(database_url)
    clients = [
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings, db=one, clock=clock)),
            base_url="http://opsdesk.test",
        )
        for one in (db, second_db)
    ]
    try:
        created = await clients[0].post(
            "/api/v1/articles",
            json={"title": "Shared", "workaround": "Restart it", "visibility": "public"},
            headers=desk.tech.headers,
        )
        aid = created.json()["id"]
        for actor, step in ((desk.tech, "submit"), (desk.manager, "publish")):
            done = await clients[0].post(
                f"/api/v1/articles/{aid}/actions/{step}", headers=actor.headers
            )
            assert done.status_code == 200, done.text
        readers = [
            await make_actor(db, clock, Role.END_USER, f"reader{i}@desk.test") for i in range(8)
        ]
        numbers = [(await create_incident(clients[0], desk.tech))["number"] for _ in range(4)]
        answers = await asyncio.gather(
            *(
                clients[i % 2].post(
                    f"/api/v1/articles/{aid}/feedback",
                    json={"helped": i % 3 != 0},
                    headers=reader.headers,
                )
                for i, reader in enumerate(readers)
            ),
            *(
                clients[i % 2].post(
                    f"/api/v1/incidents/{number}/apply-article",
                    json={"article_id": aid},
                    headers=desk.tech.headers,
                )
                for i, number in enumerate(numbers)
            ),
        )
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        # Everyone changes their mind at once.
        changed = await asyncio.gather(
            *(
                clients[i % 2].post(
                    f"/api/v1/articles/{aid}/feedback",
                    json={"helped": i % 3 == 0},
                    headers=reader.headers,
                )
                for i, reader in enumerate(readers)
            )
        )
        assert all(a.status_code == 200 for a in changed)
        async with db.read() as session:
            article = await session.get(Article, aid)
            assert article is not None
            helped = await session.scalar(
                select(func.count()).where(ArticleFeedback.helped.is_(True))
            )
            not_helped = await session.scalar(
                select(func.count()).where(ArticleFeedback.helped.is_(False))
            )
            applied = await session.scalar(
                select(func.count()).where(ArticleEvent.action == "applied")
            )
        assert (helped, not_helped) == (3, 5)
        assert (article.helped_count, article.not_helped_count) == (helped, not_helped)
        assert article.applied_count == applied == 4
    finally:
        for client in clients:
            await client.aclose()
        await second_db.dispose()
