"""GET /api/v1/suggestions and POST /api/v1/suggestions/deflect: who sees what, the
explanation of each item, the refusals naming the parameter, and the deflection count."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select, text

from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.knowledge import search_index
from opsdesk.knowledge.models import Article
from opsdesk.knowledge.suggest_models import Deflection
from tests.factories import Actor, Desk, create_incident


async def add_article(
    db: Database,
    desk: Desk,
    clock: FixedClock,
    title: str,
    *,
    visibility: str = "public",
    status: str = "published",
    workaround: str = "Restart the router.",
) -> int:
    async with db.write() as session:
        article = Article(
            title=title,
            body=f"{title}. Seen by many users.",
            workaround=workaround,
            keywords=["vpn"],
            status=status,
            visibility=visibility,
            author_id=desk.tech.id,
            created_at=clock.now(),
            updated_at=clock.now(),
        )
        session.add(article)
        await session.flush()
        return article.id


async def ask(client: httpx.AsyncClient, actor: Actor, text: str, **params: Any) -> dict[str, Any]:
    response = await client.get(
        "/api/v1/suggestions", params={"text": text, **params}, headers=actor.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def keys(body: dict[str, Any]) -> set[tuple[str, object]]:
    return {
        (item["kind"], item["number"] if item["kind"] == "incident" else item["id"])
        for item in body["items"]
    }


async def test_end_users_see_public_articles_and_their_own_incidents_only(
    client: httpx.AsyncClient, db: Database, desk: Desk, clock: FixedClock
) -> None:
    public = await add_article(db, desk, clock, "VPN drops every few minutes")
    staff_only = await add_article(db, desk, clock, "VPN gateway failover", visibility="staff")
    draft = await add_article(db, desk, clock, "VPN tunnel draft", status="draft")
    mine = await create_incident(client, desk.user, title="VPN disconnects at home")
    theirs = await create_incident(client, desk.other_user, title="VPN disconnects in hotel")

    seen = keys(await ask(client, desk.user, "my vpn keeps disconnecting"))
    assert ("article", public) in seen and ("incident", mine["number"]) in seen
    assert ("article", staff_only) not in seen
    assert ("incident", theirs["number"]) not in seen
    assert ("article", draft) not in seen

    staff = keys(await ask(client, desk.tech, "vpn disconnecting gateway"))
    assert {("article", public), ("article", staff_only)} <= staff
    assert {("incident", mine["number"]), ("incident", theirs["number"])} <= staff
    assert ("article", draft) not in staff


async def test_each_item_says_why_it_matched(
    client: httpx.AsyncClient, db: Database, desk: Desk, clock: FixedClock
) -> None:
    article = await add_article(db, desk, clock, "Printer offline, jobs stuck in the queue")
    body = await ask(client, desk.user, "The printer is offline", kinds="article")
    assert body["terms"] == ["printer", "offline"]
    (item,) = body["items"]
    assert item["id"] == article and item["kind"] == "article"
    assert item["matched"] == ["printer", "offline"]
    assert "Printer offline" in item["passage"]
    assert 0 < item["score"] <= 1 and item["url"] == f"/knowledge/{article}"
    assert item["workaround"] == "Restart the router."
    assert set(item["signals"]) == {"lexical", "coverage", "recency", "semantic"}
    # Only incidents were asked for: no article comes back.
    assert (await ask(client, desk.user, "printer offline", kinds="incident"))["items"] == []


async def test_the_index_follows_edits_and_publication(
    client: httpx.AsyncClient, db: Database, desk: Desk, clock: FixedClock
) -> None:
    created = await create_incident(client, desk.tech, title="Badge reader broken")
    edited = await client.patch(
        f"/api/v1/incidents/{created['number']}",
        json={"title": "Turnstile refuses badges"},
        headers=desk.tech.headers,
    )
    assert edited.status_code == 200, edited.text
    assert keys(await ask(client, desk.tech, "reader broken")) == set()
    assert ("incident", created["number"]) in keys(await ask(client, desk.tech, "turnstile"))

    draft = await add_article(db, desk, clock, "Turnstile firmware", status="draft")
    assert ("article", draft) not in keys(await ask(client, desk.tech, "turnstile firmware"))
    async with db.write() as session:
        article = await session.get(Article, draft)
        assert article is not None
        article.status = "published"
    assert ("article", draft) in keys(await ask(client, desk.tech, "turnstile firmware"))
    async with db.write() as session:
        article = await session.get(Article, draft)
        assert article is not None
        article.status = "retired"
    assert ("article", draft) not in keys(await ask(client, desk.tech, "turnstile firmware"))


async def test_refusals_name_the_parameter(client: httpx.AsyncClient, desk: Desk) -> None:
    anonymous = await client.get("/api/v1/suggestions", params={"text": "vpn"})
    assert anonymous.status_code == 401
    for params, field in (
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"text": "x" * 2001}, "text"),
        ({"text": "vpn", "limit": "0"}, "limit"),
        ({"text": "vpn", "kinds": "articles"}, "kinds"),
        ({"text": "vpn", "kinds": ","}, "kinds"),
    ):
        response = await client.get("/api/v1/suggestions", params=params, headers=desk.user.headers)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["error"]["field"] == field, params
    # Only stop words: nothing to search for, an empty answer.
    assert (await ask(client, desk.user, "it is not the"))["items"] == []


async def test_deflection_is_recorded_and_counted(
    client: httpx.AsyncClient, db: Database, desk: Desk, clock: FixedClock
) -> None:
    public = await add_article(db, desk, clock, "VPN drops every few minutes")
    staff_only = await add_article(db, desk, clock, "VPN gateway failover", visibility="staff")
    for expected in (1, 2):
        response = await client.post(
            "/api/v1/suggestions/deflect",
            json={"article_id": public, "text": "vpn drops"},
            headers=desk.user.headers,
        )
        assert response.status_code == 201, response.text
        assert response.json()["deflected_count"] == expected
    hidden = await client.post(
        "/api/v1/suggestions/deflect",
        json={"article_id": staff_only, "text": "vpn"},
        headers=desk.user.headers,
    )
    assert hidden.status_code == 404 and hidden.json()["error"]["field"] == "article_id"
    bad = await client.post(
        "/api/v1/suggestions/deflect", json={"article_id": 0}, headers=desk.user.headers
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "article_id"
    async with db.read() as session:
        rows = list(await session.scalars(select(Deflection)))
        article = await session.get(Article, public)
    assert [(row.user_id, row.article_id, row.text) for row in rows] == [
        (desk.user.id, public, "vpn drops")
    ] * 2
    assert article is not None and article.deflected_count == 2


async def indexed(db: Database, word: str) -> int:
    """Rows of the incident index holding ``word``, read from the index itself (on SQLite
    after indexing the incidents that wait for their batch)."""
    async with db.write() as session:
        await search_index.index_waiting(session)
    async with db.read() as session:
        if session.get_bind().dialect.name == "sqlite":
            sql = "SELECT count(*) FROM incident_search WHERE incident_search MATCH :w"
        else:
            sql = "SELECT count(*) FROM incident_search WHERE document @@ to_tsquery(:w)"
        return int(await session.scalar(text(sql), {"w": word}) or 0)


async def test_closed_and_merged_incidents_leave_the_index(
    client: httpx.AsyncClient, db: Database, desk: Desk
) -> None:
    first = await create_incident(client, desk.tech, title="Elevator alarm rings")
    second = await create_incident(client, desk.tech, title="Elevator alarm again")
    assert await indexed(db, "elevator") == 2
    async with db.write() as session:
        # Any writer counts, not only the services: the database keeps its index.
        await session.execute(
            text("UPDATE incidents SET status = 'INCIDENT_STATUS_COMPLETED' WHERE number = :n"),
            {"n": first["number"]},
        )
        await session.execute(
            text("UPDATE incidents SET status = 'INCIDENT_STATUS_RESOLVED' WHERE number = :n"),
            {"n": second["number"]},
        )
    assert await indexed(db, "elevator") == 1
    assert keys(await ask(client, desk.tech, "elevator alarm")) == {("incident", second["number"])}
    async with db.write() as session:
        await session.execute(
            text(
                "UPDATE incidents SET merged_into_id = "
                "(SELECT id FROM incidents WHERE number = :p) WHERE number = :n"
            ),
            {"n": second["number"], "p": first["number"]},
        )
    assert await indexed(db, "elevator") == 0
    assert keys(await ask(client, desk.tech, "elevator alarm")) == set()
