"""The filter language in SQL gives the same rows as its plain-Python meaning, on SQLite and
PostgreSQL, for hundreds of random requests over real incidents."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.incidents import creation
from opsdesk.incidents.models import Incident
from opsdesk.incidents.schemas import IncidentCreate
from opsdesk.query.errors import QueryError
from opsdesk.query.evaluate import matches
from opsdesk.query.request import Catalogue, FieldSpec, Kind, parse_request
from opsdesk.query.sql import order_clause, where_clause
from tests.factories import Desk

LEVELS = ("level_10", "level_20", "level_30", "level_40", "level_50")
CATALOGUE = Catalogue.of(
    FieldSpec("ticket_id", Kind.STRING),
    FieldSpec("title", Kind.STRING),
    FieldSpec("level_id", Kind.ENUM, frozenset(LEVELS), groupable=True),
    FieldSpec("create_time", Kind.TIMESTAMP),
    FieldSpec("impact", Kind.INTEGER),
    FieldSpec("category", Kind.STRING),
)
COLUMNS = {
    "ticket_id": Incident.number,
    "title": Incident.title,
    "level_id": Incident.level,
    "create_time": Incident.created_at,
    "impact": Incident.impact,
    "category": Incident.category,
}
TITLES = (
    "VPN down",
    "vpn slow at 100%",
    "Mail_queue stuck",
    "mail queue stuck",
    "Printer: toner",
    "Disk 95% full",
    "O'Brien cannot log in",
    "Back\\slash in path",
)
CATEGORIES = ("inc_type_p_network_issues", "inc_type_p_config_issues", None)


async def _records(db: Database, desk: Desk, start: datetime) -> list[dict[str, Any]]:
    rng = random.Random(7)
    async with db.write() as session:
        for n in range(40):
            await creation.create_incident(
                session=session,
                caller=desk.tech.caller,
                data=IncidentCreate(
                    title=rng.choice(TITLES),
                    level=rng.choice(LEVELS),
                    impact=rng.choice((1, 2, 3, None)),
                    category=rng.choice(CATEGORIES),
                ),
                now=start + timedelta(minutes=n * 7),
            )
    async with db.read() as session:
        rows = await session.execute(select(*COLUMNS.values()))
        return [dict(zip(COLUMNS, row, strict=True)) for row in rows]


def _ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def _random_filter(rng: random.Random, records: list[dict[str, Any]], name: str) -> dict[str, Any]:
    field = rng.choice(list(COLUMNS))
    kind = CATALOGUE.fields[field].kind
    sample = rng.choice(records)[field]
    if kind is Kind.TIMESTAMP:
        value = _ms(sample + timedelta(seconds=rng.choice((-1, 0, 1))))
        operator = rng.choice(["=", "!=", ">", "<", ">=", "<=", "in"])
    elif kind is Kind.INTEGER:
        value = str(sample if sample is not None else rng.choice((1, 2, 3)))
        operator = rng.choice(["=", "!=", ">", "<", ">=", "<=", "in"])
    elif kind is Kind.ENUM:
        value = sample
        operator = rng.choice(["=", "!=", "in"])
    else:
        text = sample if sample is not None else "network"
        cut = rng.randint(0, max(0, len(text) - 1))
        value = rng.choice([text, text[cut:], text[:cut] or text, text.upper(), "%", "_", "'"])
        operator = rng.choice(["=", "!=", "in", "like", "startwith", "endwith"])
    values = [value] if operator != "in" else [value, value[::-1]]
    return {"field": field, "operator": operator, "values": values, "name": name}


def _random_body(rng: random.Random, records: list[dict[str, Any]]) -> dict[str, Any]:
    count = rng.randint(1, 4)
    filters = [_random_filter(rng, records, f"f{n}") for n in range(count)]
    body: dict[str, Any] = {
        "string_filters": [f for f in filters if f["field"] != "impact"],
        "int_filters": [f for f in filters if f["field"] == "impact"],
    }
    if count > 1 and rng.random() < 0.7:
        names = [f["name"] for f in filters]
        rng.shuffle(names)
        text = names[0]
        for name in names[1:]:
            text = (
                f"({text} {rng.choice('&|')} {name})"
                if rng.random() < 0.5
                else f"{text} {rng.choice('&|')} {name}"
            )
        body["condition"] = text
    return body


async def test_sql_and_python_agree_on_random_requests(
    db: Database, desk: Desk, clock: FixedClock
) -> None:
    start = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    records = await _records(db, desk, start)
    rng = random.Random(2026)
    checked = 0
    async with db.read() as session:
        for _ in range(300):
            body = _random_body(rng, records)
            try:
                query = parse_request(body, CATALOGUE)
            except QueryError:
                continue
            expected = sorted(r["ticket_id"] for r in records if matches(query, r))
            found = sorted(
                await session.scalars(select(Incident.number).where(where_clause(query, COLUMNS)))
            )
            assert found == expected, body
            checked += 1
    assert checked > 250


async def test_values_are_data_and_sorting_follows_the_field(
    db: Database, desk: Desk, clock: FixedClock
) -> None:
    start = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    records = await _records(db, desk, start)
    injection = parse_request(
        {"string_filters": [{"field": "title", "operator": "like", "values": ["' OR 1=1 --"]}]},
        CATALOGUE,
    )
    percent = parse_request(
        {"string_filters": [{"field": "title", "operator": "like", "values": ["100%"]}]},
        CATALOGUE,
    )
    ordered = parse_request(
        {"sort_filter": {"field": "create_time", "operator": "desc"}}, CATALOGUE
    )
    async with db.read() as session:
        assert (
            list(
                await session.scalars(
                    select(Incident.number).where(where_clause(injection, COLUMNS))
                )
            )
            == []
        )
        with_percent = list(
            await session.scalars(select(Incident.title).where(where_clause(percent, COLUMNS)))
        )
        assert with_percent
        assert all("100%" in title for title in with_percent)
        assert ordered.sort is not None
        times = list(
            await session.scalars(
                select(Incident.created_at).order_by(order_clause(ordered.sort, COLUMNS))
            )
        )
    assert times == sorted((r["create_time"] for r in records), reverse=True)
