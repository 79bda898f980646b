"""Suggestion quality on the labelled evaluation set (tests/data/suggestions_eval.json):
every text is filed as an incident in a real database, then each is asked for suggestions
(itself excluded). Relevant: the article of its known issue and the other incidents of it.
Prints precision@3 and recall@10; the lexical engine must reach p@3 ≥ 0.7, and with the
``ai`` extra installed the fused ranking ≥ 0.85."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.incidents import creation
from opsdesk.incidents.schemas import IncidentCreate
from opsdesk.knowledge import suggest
from opsdesk.knowledge.embeddings import installed_embedder
from opsdesk.knowledge.models import Article
from tests.factories import Desk

EVAL_SET = Path(__file__).parent.parent / "data" / "suggestions_eval.json"


def load_eval_set() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EVAL_SET.read_text(encoding="utf-8"))
    return data


def title_of(text: str) -> str:
    first = text.split(". ", 1)[0].strip().rstrip(".")
    return first[:120]


@dataclass
class Loaded:
    issue_of_incident: dict[int, str]
    text_of_incident: dict[int, str]
    article_of_issue: dict[str, int]


async def load_into(db: Database, desk: Desk, clock: FixedClock) -> Loaded:
    data = load_eval_set()
    now = clock.now()
    loaded = Loaded({}, {}, {})
    async with db.write() as session:
        for issue in data["issues"]:
            spec = issue["article"]
            article = Article(
                title=spec["title"],
                body=spec["body"],
                workaround=spec["workaround"],
                keywords=spec["keywords"],
                status="published",
                visibility=spec["visibility"],
                author_id=desk.tech.id,
                created_at=now,
                updated_at=now,
                published_at=now,
            )
            session.add(article)
            await session.flush()
            loaded.article_of_issue[issue["key"]] = article.id
        for spec in data["distractors"]:
            session.add(
                Article(
                    title=spec["title"],
                    body=spec["body"],
                    workaround=spec["workaround"],
                    keywords=spec["keywords"],
                    status=spec.get("status", "published"),
                    visibility=spec["visibility"],
                    author_id=desk.tech.id,
                    created_at=now,
                    updated_at=now,
                )
            )
        for issue in data["issues"]:
            for text in issue["texts"]:
                incident = await creation.create_incident(
                    session=session,
                    caller=desk.user.caller,
                    data=IncidentCreate(title=title_of(text), description=text),
                    now=now,
                )
                loaded.issue_of_incident[incident.id] = issue["key"]
                loaded.text_of_incident[incident.id] = text
    return loaded


async def evaluate(
    db: Database, desk: Desk, clock: FixedClock, loaded: Loaded, *, ai: bool
) -> tuple[float, float]:
    embedder = installed_embedder() if ai else None
    precisions, recalls = [], []
    now = clock.now() + timedelta(hours=1)
    async with db.read() as session:
        for incident_id, text in loaded.text_of_incident.items():
            issue = loaded.issue_of_incident[incident_id]
            relevant = {("article", loaded.article_of_issue[issue])} | {
                ("incident", other)
                for other, key in loaded.issue_of_incident.items()
                if key == issue and other != incident_id
            }
            found = await suggest.suggest(
                session=session,
                caller=desk.tech.caller,
                text_=text,
                now=now,
                limit=10,
                exclude_incident_id=incident_id,
                embedder=embedder,
            )
            keys = [(item.kind, item.id) for item in found]
            precisions.append(sum(key in relevant for key in keys[:3]) / 3)
            recalls.append(sum(key in relevant for key in keys[:10]) / len(relevant))
    return sum(precisions) / len(precisions), sum(recalls) / len(recalls)


async def test_the_evaluation_set_is_large_and_labelled() -> None:
    data = load_eval_set()
    texts = [text for issue in data["issues"] for text in issue["texts"]]
    assert len(data["issues"]) >= 20
    assert len(texts) >= 200
    assert len(set(texts)) == len(texts)


async def test_lexical_suggestions_reach_precision_at_3(
    db: Database, desk: Desk, clock: FixedClock, backend: str
) -> None:
    loaded = await load_into(db, desk, clock)
    precision, recall = await evaluate(db, desk, clock, loaded, ai=False)
    print(f"\n[{backend}] lexical: precision@3 = {precision:.3f}, recall@10 = {recall:.3f}")  # noqa: T201
    assert precision >= 0.7
    if installed_embedder() is None:
        return
    precision, recall = await evaluate(db, desk, clock, loaded, ai=True)
    fused = f"precision@3 = {precision:.3f}, recall@10 = {recall:.3f}"
    print(f"[{backend}] lexical + embeddings: {fused}")  # noqa: T201
    assert precision >= 0.85
