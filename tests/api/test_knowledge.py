"""The knowledge base through the ASGI stack: workflow and roles, versions, what end users
may see, feedback counters, files, drafting from an incident and applying an article."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from opsdesk.core.database import Database
from opsdesk.knowledge.article_models import ArticleFeedback
from opsdesk.knowledge.models import Article
from tests.api.test_collaboration import error_of, history_rows, reported_by, resolve
from tests.factories import Actor, Desk

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
URL = "/api/v1/articles"


async def write(client: httpx.AsyncClient, actor: Actor, **fields: Any) -> dict[str, Any]:
    body = {
        "title": "VPN drops every hour",
        "body": "The VPN client disconnects after 60 minutes.",
        "workaround": "Reconnect, then raise the idle timeout in the client settings.",
        "keywords": ["vpn", "timeout"],
        **fields,
    }
    response = await client.post(URL, json=body, headers=actor.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def step(
    client: httpx.AsyncClient, actor: Actor, article_id: int, name: str
) -> httpx.Response:
    return await client.post(
        f"{URL}/{article_id}/actions/{name}", json={"comment": "ok"}, headers=actor.headers
    )


async def published(client: httpx.AsyncClient, desk: Desk, **fields: Any) -> dict[str, Any]:
    article = await write(client, desk.tech, **fields)
    assert (await step(client, desk.tech, article["id"], "submit")).status_code == 200
    response = await step(client, desk.manager, article["id"], "publish")
    assert response.status_code == 200, response.text
    done: dict[str, Any] = response.json()
    return done


async def test_workflow_steps_follow_the_roles_and_are_recorded(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    article = await write(client, desk.tech)
    assert article["status"] == "draft"
    assert article["steps"] == ["submit"]
    aid = article["id"]
    # A draft cannot be published straight away, whoever asks.
    refused = await step(client, desk.admin, aid, "publish")
    assert refused.status_code == 409
    assert error_of(refused)["field"] == "step"
    assert (await step(client, desk.tech, aid, "submit")).json()["status"] == "in_review"
    # Technicians write and submit; publishing is for incident managers and admins.
    forbidden = await step(client, desk.tech, aid, "publish")
    assert forbidden.status_code == 403
    assert "incident manager" in error_of(forbidden)["message"]
    assert (await step(client, desk.tech, aid, "draft")).json()["status"] == "draft"
    assert (await step(client, desk.tech2, aid, "submit")).status_code == 200
    done = await step(client, desk.manager, aid, "publish")
    assert done.json()["status"] == "published"
    assert done.json()["published_at"] is not None
    assert (await step(client, desk.tech, aid, "retire")).status_code == 403
    assert (await step(client, desk.admin, aid, "retire")).json()["status"] == "retired"
    assert (await step(client, desk.manager, aid, "publish")).json()["status"] == "published"
    events = (await client.get(f"{URL}/{aid}/events", headers=desk.tech.headers)).json()
    assert [(e["action"], e["to_status"]) for e in events] == [
        ("created", "draft"),
        ("submit", "in_review"),
        ("draft", "draft"),
        ("submit", "in_review"),
        ("publish", "published"),
        ("retire", "retired"),
        ("publish", "published"),
    ]
    assert events[4]["actor_id"] == desk.manager.id
    unknown = await client.post(f"{URL}/{aid}/actions/approve", headers=desk.admin.headers)
    assert unknown.status_code == 422


async def test_publishing_needs_a_workaround(client: httpx.AsyncClient, desk: Desk) -> None:
    article = await write(client, desk.tech, workaround="")
    await step(client, desk.tech, article["id"], "submit")
    refused = await step(client, desk.manager, article["id"], "publish")
    assert refused.status_code == 409
    assert error_of(refused)["field"] == "workaround"


async def test_every_edit_keeps_a_version_that_can_be_restored(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    article = await write(client, desk.tech)
    aid = article["id"]
    edited = await client.patch(
        f"{URL}/{aid}",
        json={"title": "VPN disconnects hourly", "keywords": ["vpn", "VPN", "idle"], "version": 1},
        headers=desk.tech2.headers,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2
    assert edited.json()["keywords"] == ["vpn", "idle"]
    assert edited.headers["ETag"] == '"2"'
    # Stale: the body's version is a 409, the If-Match header a 412 (as for incidents).
    stale = await client.patch(
        f"{URL}/{aid}", json={"body": "x", "version": 1}, headers=desk.tech.headers
    )
    assert stale.status_code == 409
    assert error_of(stale)["field"] == "version"
    stale = await client.patch(
        f"{URL}/{aid}", json={"body": "x"}, headers={**desk.tech.headers, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    # Saving the same content writes no version.
    same = await client.patch(
        f"{URL}/{aid}", json={"title": "VPN disconnects hourly"}, headers=desk.tech.headers
    )
    assert same.json()["version"] == 2
    found = (await client.get(f"{URL}/{aid}/versions", headers=desk.tech.headers)).json()
    assert [(v["version"], v["title"], v["editor_id"]) for v in found] == [
        (2, "VPN disconnects hourly", desk.tech2.id),
        (1, "VPN drops every hour", desk.tech.id),
    ]
    one = await client.get(f"{URL}/{aid}/versions/1", headers=desk.tech.headers)
    assert one.json()["keywords"] == ["vpn", "timeout"]
    restored = await client.post(f"{URL}/{aid}/versions/1/restore", headers=desk.tech.headers)
    assert restored.status_code == 200, restored.text
    assert restored.json()["title"] == "VPN drops every hour"
    assert restored.json()["version"] == 3
    assert (
        await client.get(f"{URL}/{aid}/versions/9", headers=desk.tech.headers)
    ).status_code == 404


async def test_published_articles_are_edited_by_managers_only(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    article = await published(client, desk)
    refused = await client.patch(
        f"{URL}/{article['id']}", json={"title": "New"}, headers=desk.tech.headers
    )
    assert refused.status_code == 403
    assert error_of(refused)["field"] == "status"
    allowed = await client.patch(
        f"{URL}/{article['id']}", json={"title": "New"}, headers=desk.manager.headers
    )
    assert allowed.status_code == 200


async def test_bad_input_names_the_field(client: httpx.AsyncClient, desk: Desk) -> None:
    for body, field in (
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "ok", "visibility": "everyone"}, "visibility"),
        ({"title": "ok", "keywords": ["x" * 61]}, "keywords"),
        ({"title": "ok", "category": "no_such_category"}, "category"),
        ({"title": "ok", "application": "no_such_app"}, "application"),
        ({"title": "ok", "status": "published"}, "status"),
    ):
        response = await client.post(URL, json=body, headers=desk.tech.headers)
        assert response.status_code == 422, (body, response.text)
        assert field in response.text, (body, response.text)
    article = await write(client, desk.tech)
    response = await client.post(
        f"{URL}/{article['id']}/feedback", json={"helped": "yes"}, headers=desk.tech.headers
    )
    assert response.status_code == 422
    assert "helped" in response.text


async def test_end_users_see_only_published_public_articles(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    public = await published(client, desk, title="Printer jam", visibility="public")
    staff_only = await published(client, desk, title="Printer driver internals")
    draft = await write(client, desk.tech, title="Printer draft", visibility="public")
    listed = await client.get(URL, params={"q": "printer"}, headers=desk.user.headers)
    assert [a["id"] for a in listed.json()["items"]] == [public["id"]]
    seen = listed.json()["items"][0]
    assert seen["author_id"] is None
    assert seen["applied_count"] is None
    assert seen["steps"] == []
    for hidden in (staff_only, draft):
        for path in ("", "/attachments", "/versions", "/events"):
            response = await client.get(f"{URL}/{hidden['id']}{path}", headers=desk.user.headers)
            assert response.status_code in (403, 404), (path, response.text)
        vote = await client.post(
            f"{URL}/{hidden['id']}/feedback", json={"helped": True}, headers=desk.user.headers
        )
        assert vote.status_code == 404
    assert (await client.get(f"{URL}/{public['id']}", headers=desk.user.headers)).status_code == 200
    # Staff see every article, and can filter.
    staff = await client.get(
        URL, params={"q": "printer", "status": "published"}, headers=desk.tech.headers
    )
    assert {a["id"] for a in staff.json()["items"]} == {public["id"], staff_only["id"]}
    staff = await client.get(URL, params={"visibility": "staff"}, headers=desk.tech.headers)
    assert staff_only["id"] in {a["id"] for a in staff.json()["items"]}
    assert public["id"] not in {a["id"] for a in staff.json()["items"]}
    # End users never write.
    for method, path in (
        ("POST", URL),
        ("PATCH", f"{URL}/{public['id']}"),
        ("POST", f"{URL}/{public['id']}/actions/retire"),
        ("POST", f"{URL}/{public['id']}/versions/1/restore"),
        ("POST", f"{URL}/{public['id']}/attachments"),
    ):
        response = await client.request(method, path, json={}, headers=desk.user.headers)
        assert response.status_code == 403, (method, path)
    assert (await client.get(URL)).status_code == 401


async def test_search_matches_words_in_title_body_workaround_and_keywords(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    a = await write(client, desk.tech, title="Outlook", body="", workaround="", keywords=["mail"])
    b = await write(client, desk.tech, title="Other", body="Outlook 100% CPU", workaround="")
    c = await write(client, desk.tech, title="Third", body="", workaround="restart Outlook_x")

    async def ids(q: str) -> set[int]:
        response = await client.get(URL, params={"q": q}, headers=desk.tech.headers)
        return {item["id"] for item in response.json()["items"]}

    assert await ids("outlook") == {a["id"], b["id"], c["id"]}
    assert await ids("MAIL") == {a["id"]}
    assert await ids("100%") == {b["id"]}
    assert await ids("outlook_") == {c["id"]}
    assert await ids("outlook restart") == {c["id"]}
    d = await write(
        client, desk.tech, title="Drucker", body="", workaround="", keywords=["Störung"]
    )
    assert await ids("störung") == {d["id"]}


async def test_feedback_is_one_vote_per_person_and_the_counters_stay_exact(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    article = await published(client, desk, visibility="public")
    url = f"{URL}/{article['id']}/feedback"

    async def vote(actor: Actor, helped: bool) -> tuple[int, int]:
        response = await client.post(url, json={"helped": helped}, headers=actor.headers)
        assert response.status_code == 200, response.text
        out = response.json()
        return out["helped_count"], out["not_helped_count"]

    assert await vote(desk.user, True) == (1, 0)
    assert await vote(desk.user, True) == (1, 0)
    assert await vote(desk.other_user, False) == (1, 1)
    assert await vote(desk.user, False) == (0, 2)
    assert await vote(desk.tech, True) == (1, 2)
    async with db.read() as session:
        votes = list(await session.scalars(select(ArticleFeedback)))
        row = await session.get(Article, article["id"])
        assert row is not None
        assert (row.helped_count, row.not_helped_count) == (
            sum(v.helped for v in votes),
            sum(not v.helped for v in votes),
        )
    mine = await client.get(f"{URL}/{article['id']}", headers=desk.user.headers)
    assert mine.json()["my_vote"] is False
    draft = await write(client, desk.tech)
    refused = await client.post(
        f"{URL}/{draft['id']}/feedback", json={"helped": True}, headers=desk.tech.headers
    )
    assert refused.status_code == 409


async def test_reading_counts_a_view(client: httpx.AsyncClient, desk: Desk) -> None:
    article = await published(client, desk, visibility="public")
    for actor in (desk.user, desk.tech):
        await client.get(f"{URL}/{article['id']}", headers=actor.headers)
    seen = await client.get(f"{URL}/{article['id']}", headers=desk.tech.headers)
    assert seen.json()["view_count"] == 2


async def test_files_are_checked_by_content_and_readable_as_the_article(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    article = await published(client, desk, visibility="public")
    url = f"{URL}/{article['id']}/attachments"
    fake = await client.post(
        url,
        files={"file": ("shot.png", b"MZ\x90\x00 not a png", "image/png")},
        headers=desk.tech.headers,
    )
    assert fake.status_code == 422
    assert error_of(fake)["field"] == "file"
    missing = await client.post(url, headers=desk.tech.headers)
    assert missing.status_code == 422
    assert error_of(missing)["field"] == "file"
    ok = await client.post(
        url, files={"file": ("shot.png", PNG, "image/png")}, headers=desk.tech.headers
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["content_type"] == "image/png"
    listed = await client.get(url, headers=desk.user.headers)
    assert [f["file_name"] for f in listed.json()] == ["shot.png"]
    got = await client.get(ok.json()["download_url"], headers=desk.user.headers)
    assert got.status_code == 200
    assert got.content == PNG
    assert got.headers["x-content-type-options"] == "nosniff"
    assert (await client.get(f"{url}/999", headers=desk.tech.headers)).status_code == 404


async def test_an_article_is_drafted_from_an_incident_solution_and_linked_both_ways(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    number = await reported_by(client, desk)
    early = await client.post(f"/api/v1/incidents/{number}/article", headers=desk.tech.headers)
    assert early.status_code == 409
    assert error_of(early)["field"] == "solution"
    await resolve(client, desk, number)
    response = await client.post(f"/api/v1/incidents/{number}/article", headers=desk.tech.headers)
    assert response.status_code == 201, response.text
    article = response.json()
    assert article["status"] == "draft"
    assert article["visibility"] == "staff"
    assert article["title"] == "VPN drops every hour"
    assert article["workaround"] == "Raised the idle timeout"
    assert "Cause: Idle timeout on the VPN gateway" in article["body"]
    assert article["category"] == "inc_type_p_function_issues"
    assert article["source_incident"] == number
    got = await client.get(f"{URL}/{article['id']}", headers=desk.tech.headers)
    assert got.json()["source_incident"] == number
    linked = await client.get(f"/api/v1/incidents/{number}/articles", headers=desk.tech.headers)
    assert [a["id"] for a in linked.json()] == [article["id"]]
    rows = await history_rows(client, desk.tech, number)
    assert any(f"#{article['id']}" in row["comment"] and row["internal"] for row in rows)
    # The reporter sees neither the staff-only article nor the history note.
    mine = await client.get(f"/api/v1/incidents/{number}/articles", headers=desk.user.headers)
    assert mine.json() == []
    rows = await history_rows(client, desk.user, number)
    assert not any(f"#{article['id']}" in row["comment"] for row in rows)
    # Published for end users, it shows without staff facts.
    await client.patch(
        f"{URL}/{article['id']}", json={"visibility": "public"}, headers=desk.tech.headers
    )
    await step(client, desk.tech, article["id"], "submit")
    await step(client, desk.manager, article["id"], "publish")
    mine = await client.get(f"/api/v1/incidents/{number}/articles", headers=desk.user.headers)
    assert [(a["id"], a["source_incident"]) for a in mine.json()] == [(article["id"], None)]
    refused = await client.post(f"/api/v1/incidents/{number}/article", headers=desk.user.headers)
    assert refused.status_code == 403


async def test_applying_an_article_posts_its_workaround_as_a_reply_and_counts_it(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    number = await reported_by(client, desk)
    article = await published(client, desk)
    draft = await write(client, desk.tech)
    apply_url = f"/api/v1/incidents/{number}/apply-article"
    refused = await client.post(
        apply_url, json={"article_id": draft["id"]}, headers=desk.tech.headers
    )
    assert refused.status_code == 409
    assert error_of(refused)["field"] == "article_id"
    unknown = await client.post(apply_url, json={"article_id": 99999}, headers=desk.tech.headers)
    assert unknown.status_code == 404
    assert error_of(unknown)["field"] == "article_id"
    bad = await client.post(apply_url, json={"article_id": "x"}, headers=desk.tech.headers)
    assert bad.status_code == 422
    assert "article_id" in bad.text
    user = await client.post(
        apply_url, json={"article_id": article["id"]}, headers=desk.user.headers
    )
    assert user.status_code == 403
    done = await client.post(
        apply_url, json={"article_id": article["id"]}, headers=desk.tech.headers
    )
    assert done.status_code == 200, done.text
    assert done.json()["applied_count"] == 1
    # The reporter reads the workaround as a normal public reply.
    talk = await client.get(f"/api/v1/incidents/{number}/conversations", headers=desk.user.headers)
    assert [c["body"] for c in talk.json()] == [article["workaround"]]
    assert talk.json()[0]["id"] == done.json()["conversation_id"]
    rows = await history_rows(client, desk.tech, number)
    actions = [row["action"] for row in rows]
    assert "incident_reply" in actions
    assert any(
        row["internal"] and f"Applied knowledge article #{article['id']}" in row["comment"]
        for row in rows
    )
    again = await client.post(
        apply_url, json={"article_id": article["id"]}, headers=desk.tech.headers
    )
    assert again.json()["applied_count"] == 2
    async with db.read() as session:
        row = await session.get(Article, article["id"])
        assert row is not None
        assert row.applied_count == 2
    events = (await client.get(f"{URL}/{article['id']}/events", headers=desk.tech.headers)).json()
    assert [e["incident"] for e in events if e["action"] == "applied"] == [number, number]


async def test_nothing_is_counted_when_the_reply_is_refused(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    article = await published(client, desk)
    response = await client.post(
        "/api/v1/incidents/IM-NONE/apply-article",
        json={"article_id": article["id"]},
        headers=desk.tech.headers,
    )
    assert response.status_code == 404
    async with db.read() as session:
        count = await session.scalar(select(func.sum(Article.applied_count)))
    assert count == 0
