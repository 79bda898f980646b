"""Suggestions: published articles and similar open or recently resolved incidents for a text.

The database finds and ranks candidates from its own full-text index (FTS5 ``bm25`` on
SQLite, ``ts_rank_cd`` on PostgreSQL; migration 0021 keeps the index by triggers); Python
then re-ranks the few best of each kind by coverage of the query's words (title matches
count more), recency and, with the ``ai`` extra, sentence-embedding similarity, and says why
each one matched (``text_terms``).
"""

# The statements are joined from constant fragments; the user's text only ever travels as a
# bind parameter (:q), already reduced to letters and digits.
# ruff: noqa: S608
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.core.database import UTCDateTime
from opsdesk.core.errors import ValidationFailed
from opsdesk.incidents.fields import Status
from opsdesk.knowledge import search_index, text_terms
from opsdesk.knowledge.embeddings import Embedder, cosine
from opsdesk.knowledge.text_terms import Signals

KINDS = ("article", "incident")
RECENT_DAYS = 30  # a resolved incident's recency falls from 1 to 0 over this many days
RANK_CAP = 1000  # matching rows ranked at most (staff, incidents), the newest first
CANDIDATES = 25  # per kind, from the index, before the re-ranking
OPEN_STATUSES = (Status.TRIGGERED.value, Status.ACKNOWLEDGED.value)


@dataclass(frozen=True)
class Suggestion:
    """One ranked item and why it matched."""

    kind: str  # "article" or "incident"
    id: int
    number: str | None  # incidents
    title: str
    score: float
    matched: list[str]
    passage: str
    signals: Signals
    status: str | None = None  # incidents
    workaround: str | None = None  # articles
    visibility: str | None = None  # articles


@dataclass
class _Candidate:
    kind: str
    id: int
    rank: float
    title: str
    texts: list[str]
    number: str | None = None
    status: str | None = None
    workaround: str | None = None
    visibility: str | None = None
    resolved_at: datetime | None = None


PAIR_TERMS = 8  # the first words whose pairs make the two-word pass


def _fts5_term(term: str, prefix: bool) -> str:
    return '"' + term.replace('"', '""') + '"' + ("*" if prefix else "")


def _ts_term(term: str, prefix: bool) -> str:
    # query_terms yields letters and digits only, so no tsquery operator can slip in.
    return term + (":*" if prefix else "")


def _queries(terms: Sequence[str], *, prefix_last: bool, postgres: bool) -> list[str]:
    """The index queries to try, narrowest first: rows holding two of the first words (any
    pair), then rows holding any word. Ranking touches every row a query matches; a common
    word matches thousands, two of the text's words rarely more than a few hundred."""
    quote, either, both = (_ts_term, " | ", " & ") if postgres else (_fts5_term, " OR ", " AND ")
    last = len(terms) - 1
    parts = [
        quote(term, prefix_last and index == last and len(term) >= 3)
        for index, term in enumerate(terms)
    ]
    any_word = either.join(parts)
    if len(parts) < 2:
        return [any_word]
    head = parts[:PAIR_TERMS]
    pairs = either.join(
        f"({head[i]}{both}{head[j]})" for i in range(len(head)) for j in range(i + 1, len(head))
    )
    return [pairs, any_word]


def _fts5_query(terms: Sequence[str], *, prefix_last: bool) -> str:
    return _queries(terms, prefix_last=prefix_last, postgres=False)[-1]


def _tsquery(terms: Sequence[str], *, prefix_last: bool) -> str:
    return _queries(terms, prefix_last=prefix_last, postgres=True)[-1]


_SQLITE_ARTICLES = """
SELECT a.id, -bm25(article_search, 10.0, 4.0, 2.0, 8.0) AS rank, a.title, a.body,
       a.workaround, a.visibility
FROM article_search JOIN articles a ON a.id = article_search.rowid
WHERE article_search MATCH :q AND a.status = 'published' {visibility}
ORDER BY rank DESC LIMIT :n
"""
_POSTGRES_ARTICLES = """
SELECT a.id, ts_rank_cd(s.document, r, 1) AS rank, a.title, a.body, a.workaround, a.visibility
FROM article_search s JOIN articles a ON a.id = s.article_id,
     to_tsquery(opsdesk_search_config(), :q) AS q, to_tsquery(opsdesk_search_config(), :r) AS r
WHERE s.document @@ q AND a.status = 'published' {visibility}
ORDER BY rank DESC LIMIT :n
"""
# The index holds live incidents only (migration 0021); the filter says the same, so a
# suggestion never depends on the triggers alone.
_INCIDENT_FILTER = f"""
  AND {search_index.LIVE_INCIDENT}
  {{own}} {{exclude}}
"""
_SQLITE_INCIDENTS = (
    """
SELECT i.id, -bm25(incident_search, 10.0, 4.0, 2.0) AS rank, i.number, i.title,
       i.description, i.solution, i.status, i.resolved_at
FROM incident_search JOIN incidents i ON i.id = incident_search.rowid
WHERE incident_search MATCH :q"""
    + _INCIDENT_FILTER
    + "ORDER BY rank DESC LIMIT :n"
)
_POSTGRES_INCIDENTS = (
    """
SELECT i.id, ts_rank_cd(s.document, r, 1) AS rank, i.number, i.title, i.description,
       i.solution, i.status, i.resolved_at
FROM incident_search s JOIN incidents i ON i.id = s.incident_id,
     to_tsquery(opsdesk_search_config(), :q) AS q, to_tsquery(opsdesk_search_config(), :r) AS r
WHERE s.document @@ q"""
    + _INCIDENT_FILTER
    + "ORDER BY rank DESC LIMIT :n"
)
# Staff may see every indexed incident, so the index ranks alone and only the best rows are
# joined to their incidents (the filter then only guards); end users' rows are filtered first.
# A word shared by thousands of live incidents would mean thousands of scores: the newest
# RANK_CAP matching rows are ranked (ids grow with time, and live incidents are recent).
_SQLITE_STAFF_INCIDENTS = (
    """
SELECT i.id, r.rank, i.number, i.title, i.description, i.solution, i.status, i.resolved_at
FROM (SELECT id, rank FROM (
        SELECT rowid AS id, -bm25(incident_search, 10.0, 4.0, 2.0) AS rank
        FROM incident_search WHERE incident_search MATCH :q ORDER BY rowid DESC LIMIT :cap)
      ORDER BY rank DESC LIMIT :n) AS r
JOIN incidents i ON i.id = r.id
WHERE 1 = 1"""
    + _INCIDENT_FILTER
    + "ORDER BY r.rank DESC"
)
_POSTGRES_STAFF_INCIDENTS = (
    """
SELECT i.id, r.rank, i.number, i.title, i.description, i.solution, i.status, i.resolved_at
FROM (SELECT m.id, ts_rank_cd(m.document, r, 1) AS rank
      FROM (SELECT s.incident_id AS id, s.document FROM incident_search s
            WHERE s.document @@ to_tsquery(opsdesk_search_config(), :q)
            ORDER BY s.incident_id DESC LIMIT :cap) AS m,
           to_tsquery(opsdesk_search_config(), :r) AS r
      ORDER BY rank DESC LIMIT :n) AS r
JOIN incidents i ON i.id = r.id
WHERE 1 = 1"""
    + _INCIDENT_FILTER
    + "ORDER BY r.rank DESC"
)


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def _articles(
    session: AsyncSession, caller: Caller, query: str, rank: str, postgres: bool, n: int
) -> list[_Candidate]:
    visibility = "" if caller.is_staff else "AND a.visibility = 'public'"
    sql = (_POSTGRES_ARTICLES if postgres else _SQLITE_ARTICLES).format(visibility=visibility)
    params = {"q": query, "n": n} | ({"r": rank} if postgres else {})
    rows = await session.execute(text(sql), params)
    return [
        _Candidate(
            kind="article",
            id=row.id,
            rank=float(row.rank),
            title=row.title,
            texts=[row.title, row.body, row.workaround],
            workaround=row.workaround,
            visibility=row.visibility,
        )
        for row in rows
    ]


async def _incidents(
    session: AsyncSession,
    caller: Caller,
    query: str,
    rank: str,
    postgres: bool,
    n: int,
    exclude_id: int | None,
) -> list[_Candidate]:
    own = "" if caller.is_staff else "AND (i.reporter_id = :me OR i.creator_id = :me)"
    exclude = "" if exclude_id is None else "AND i.id != :exclude"
    if caller.is_staff:
        template = _POSTGRES_STAFF_INCIDENTS if postgres else _SQLITE_STAFF_INCIDENTS
        n += 1  # room for the excluded incident
    else:
        template = _POSTGRES_INCIDENTS if postgres else _SQLITE_INCIDENTS
    statement = text(template.format(own=own, exclude=exclude)).columns(resolved_at=UTCDateTime())
    params: dict[str, Any] = {"q": query, "n": n}
    if postgres:
        params["r"] = rank
    if caller.is_staff:
        params["cap"] = RANK_CAP
    else:
        params["me"] = caller.user_id
    if exclude_id is not None:
        params["exclude"] = exclude_id
    rows = await session.execute(statement, params)
    return [
        _Candidate(
            kind="incident",
            id=row.id,
            rank=float(row.rank),
            title=row.title,
            texts=[row.title, row.description, row.solution or ""],
            number=row.number,
            status=row.status,
            resolved_at=row.resolved_at,
        )
        for row in rows
    ]


async def _waiting_incidents(
    session: AsyncSession,
    caller: Caller,
    terms: Sequence[str],
    found: Sequence[_Candidate],
    exclude_id: int | None,
) -> list[_Candidate]:
    """Incidents not yet in the index (SQLite's queue, under one batch) that hold a query
    word. The index has no rank for them: their share of the query's words, scaled to the
    best indexed incident's rank, stands in for it."""
    best = max((c.rank for c in found), default=1.0)
    waiting = []
    for row in await search_index.waiting_incidents(session, caller, exclude_id):
        share = text_terms.coverage(terms, row.title, f"{row.description} {row.solution or ''}")
        if share > 0:
            waiting.append(
                _Candidate(
                    kind="incident",
                    id=row.id,
                    rank=share * best,
                    title=row.title,
                    texts=[row.title, row.description, row.solution or ""],
                    number=row.number,
                    status=row.status,
                    resolved_at=row.resolved_at,
                )
            )
    return waiting


def _recency(candidate: _Candidate, now: datetime) -> float:
    if candidate.kind != "incident" or candidate.status in OPEN_STATUSES:
        return 1.0
    if candidate.resolved_at is None:
        return 0.5
    age = (now - candidate.resolved_at).total_seconds() / 86400
    return max(0.0, 1.0 - age / RECENT_DAYS)


async def suggest(
    *,
    session: AsyncSession,
    caller: Caller,
    text_: str,
    now: datetime,
    kinds: Sequence[str] = KINDS,
    limit: int = 10,
    exclude_incident_id: int | None = None,
    embedder: Embedder | None = None,
    prefix_last: bool = False,
) -> list[Suggestion]:
    """Ranked suggestions for ``text_`` that ``caller`` may see, best first.

    End users get published public articles and their own incidents; staff all published
    articles and every open or recently resolved incident. ``prefix_last`` treats the last
    word as unfinished (as-you-type)."""
    terms = text_terms.query_terms(text_)
    if not terms:
        return []
    postgres = _dialect(session) == "postgresql"
    queries = _queries(terms, prefix_last=prefix_last, postgres=postgres)
    n = max(CANDIDATES, limit * 2)
    candidates: list[_Candidate] = []
    # Each kind: the narrow query first; the wide one only when that finds too few. Ranks of
    # one kind always come from one query, so they compare.
    if "article" in kinds:
        for query in queries:
            found = await _articles(session, caller, query, queries[-1], postgres, n)
            if len(found) >= limit:
                break
        candidates += found
    if "incident" in kinds:
        for query in queries:
            found = await _incidents(
                session, caller, query, queries[-1], postgres, n, exclude_incident_id
            )
            if len(found) >= limit:
                break
        candidates += found
        candidates += await _waiting_incidents(session, caller, terms, found, exclude_incident_id)
    if not candidates:
        return []
    best = {
        kind: max((c.rank for c in candidates if c.kind == kind), default=0.0) for kind in KINDS
    }
    semantic: list[float | None] = [None] * len(candidates)
    if embedder is not None:
        vectors = embedder.embed([text_, *(" ".join(c.texts[:2]) for c in candidates)])
        semantic = [cosine(vectors[0], vector) for vector in vectors[1:]]
    scored: list[tuple[float, _Candidate, Signals, text_terms.Stems]] = []
    for candidate, similarity in zip(candidates, semantic, strict=True):
        title_stems = text_terms.stems_of(candidate.title)
        body_stems = text_terms.stems_of(" ".join(candidate.texts[1:]))
        signals = Signals(
            lexical=candidate.rank / best[candidate.kind] if best[candidate.kind] > 0 else 0.0,
            coverage=text_terms.coverage_of(terms, title_stems, body_stems),
            recency=_recency(candidate, now),
            semantic=similarity,
        )
        everything = text_terms.Stems(
            title_stems.exact | body_stems.exact, title_stems.starts | body_stems.starts
        )
        scored.append((text_terms.score(signals), candidate, signals, everything))
    scored.sort(key=lambda row: (-row[0], row[1].kind, row[1].id))
    # The explanation (matched words, passage) only for what is shown.
    return [
        Suggestion(
            kind=candidate.kind,
            id=candidate.id,
            number=candidate.number,
            title=candidate.title,
            score=value,
            matched=text_terms.matched_in(terms, stems),
            passage=text_terms.passage(terms, candidate.texts[1:] or candidate.texts),
            signals=signals,
            status=candidate.status,
            workaround=candidate.workaround,
            visibility=candidate.visibility,
        )
        for value, candidate, signals, stems in scored[:limit]
    ]


def url_of(item: Suggestion) -> str:
    """Where the item is read: the incident page, or the article's page."""
    if item.kind == "incident":
        return f"/incidents/{item.number}"
    return f"/knowledge/{item.id}"


def parse_kinds(raw: str) -> tuple[str, ...]:
    """``article,incident`` → the kinds asked for; an unknown or empty one is refused."""
    kinds = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    unknown = [kind for kind in kinds if kind not in KINDS]
    if not kinds or unknown:
        raise ValidationFailed(
            "kinds: give article, incident or both, separated by a comma", field="kinds"
        )
    return kinds
