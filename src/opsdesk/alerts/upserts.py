"""The hot path's SQL: upserting a request's alert groups and alerts, per backend.

Compiled or written once; the service binds parameters. Locks are taken groups first, then
alerts, each in key order, so that concurrent posts cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Table, and_, bindparam, case, or_, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from opsdesk.alerts.fingerprints import group_key
from opsdesk.alerts.models import Alert, AlertGroup
from opsdesk.alerts.payloads import FIRING, RESOLVED, NormalisedAlert
from opsdesk.alerts.rules import title_for
from opsdesk.incidents.fields import Status
from opsdesk.incidents.models import Incident

if TYPE_CHECKING:
    from opsdesk.alerts.service import IntegrationView

# An incident in one of these no longer holds its group: the next alert opens a new one.
FINISHED = (str(Status.COMPLETED), str(Status.REJECTED))


@dataclass(frozen=True)
class Statements:
    close_stale: Any
    upsert_live_groups: Insert
    upsert_groups: Insert
    upsert_alerts: Insert
    link_incident: Any


def insert_for(dialect: str) -> Any:
    return pg_insert if dialect == "postgresql" else sqlite_insert


@cache
def statements_for(dialect: str) -> Statements:
    groups: Table = AlertGroup.__table__  # type: ignore[assignment]
    alerts: Table = Alert.__table__  # type: ignore[assignment]
    incidents: Table = Incident.__table__  # type: ignore[assignment]
    insert = insert_for(dialect)
    close_stale = (
        update(groups)
        .where(
            groups.c.integration_id == bindparam("b_integration_id"),
            groups.c.closed_at.is_(None),
            groups.c.group_key.in_(bindparam("keys", expanding=True)),
            group_is_over(groups, incidents),
        )
        .values(closed_at=bindparam("b_now"))
    )
    group_insert = insert(groups)
    group_update = {
        "last_seen": group_insert.excluded.last_seen,
        "alert_count": groups.c.alert_count + group_insert.excluded.alert_count,
    }
    returned = (groups.c.id, groups.c.group_key, groups.c.incident_id)
    # A group whose time is over is not updated, so not returned: the caller closes it and
    # opens a new one (the rare path); the common path stays one statement.
    upsert_live_groups = group_insert.on_conflict_do_update(
        index_elements=[groups.c.integration_id, groups.c.group_key],
        index_where=groups.c.closed_at.is_(None),
        set_=group_update,
        where=~group_is_over(groups, incidents),
    ).returning(*returned)
    upsert_groups = group_insert.on_conflict_do_update(
        index_elements=[groups.c.integration_id, groups.c.group_key],
        index_where=groups.c.closed_at.is_(None),
        set_=group_update,
    ).returning(*returned)
    alert_insert = insert(alerts)
    excluded = alert_insert.excluded
    firing_again = excluded.status == FIRING
    upsert_alerts = alert_insert.on_conflict_do_update(
        index_elements=[alerts.c.integration_id, alerts.c.dedup_key],
        set_={
            "count": alerts.c.count + excluded.count,
            "last_seen": excluded.last_seen,
            "status": excluded.status,
            "severity": excluded.severity,
            "summary": excluded.summary,
            "labels": excluded.labels,
            "annotations": excluded.annotations,
            "resolved_at": excluded.resolved_at,
            # A resolved repeat stays with the group it fired in; a new firing follows the
            # current open group.
            "group_id": case((firing_again, excluded.group_id), else_=alerts.c.group_id),
        },
    )
    link_incident = (
        update(groups)
        .where(groups.c.id == bindparam("b_group_id"), groups.c.incident_id.is_(None))
        .values(incident_id=bindparam("b_incident_id"), rule_id=bindparam("b_rule_id"))
    )
    return Statements(close_stale, upsert_live_groups, upsert_groups, upsert_alerts, link_incident)


def group_is_over(groups: Table, incidents: Table) -> Any:
    """Quiet past its window without an incident, or its incident finished."""
    # Written out: SQLAlchemy does not correlate a subquery inside ON CONFLICT's WHERE (it
    # would join alert_groups again), and the statuses are literals because the statement
    # also runs as an executemany, which takes no lists.
    finished = text(
        "EXISTS (SELECT 1 FROM incidents AS i WHERE i.id = alert_groups.incident_id"
        " AND i.status IN ('INCIDENT_STATUS_COMPLETED', 'INCIDENT_STATUS_REJECTED'))"
    )
    assert tuple(FINISHED) == ("INCIDENT_STATUS_COMPLETED", "INCIDENT_STATUS_REJECTED")
    return or_(
        and_(groups.c.incident_id.is_(None), groups.c.last_seen < bindparam("b_cutoff")),
        finished,
    )


@dataclass
class Merged:
    alert: NormalisedAlert
    occurrences: int
    group_key: str
    group_labels: dict[str, str]


def merge(integration: IntegrationView, alerts: Sequence[NormalisedAlert]) -> list[Merged]:
    """One entry per dedup key (the last one wins, the count is every occurrence)."""
    merged: dict[str, Merged] = {}
    for alert in alerts:
        found = merged.get(alert.dedup_key)
        if found is not None:
            found.alert, found.occurrences = alert, found.occurrences + 1
            continue
        key, labels = group_key(
            group_by=integration.group_by,
            labels=alert.labels,
            sender_group=alert.sender_group,
            dedup_key=alert.dedup_key,
        )
        merged[alert.dedup_key] = Merged(alert, 1, key, labels)
    return [merged[key] for key in sorted(merged)]


def group_values(
    integration: IntegrationView, merged: Sequence[Merged], now: datetime
) -> dict[str, dict[str, Any]]:
    values: dict[str, dict[str, Any]] = {}
    for m in merged:
        row = values.get(m.group_key)
        if row is None:
            values[m.group_key] = {
                "integration_id": integration.id,
                "group_key": m.group_key,
                "labels": m.group_labels,
                "title": title_for(alert_dict(m.alert)),
                "alert_count": m.occurrences,
                "first_seen": now,
                "last_seen": now,
            }
        else:
            row["alert_count"] += m.occurrences
    return values


def alert_values(
    integration: IntegrationView, m: Merged, group_id: int, now: datetime
) -> dict[str, Any]:
    return {
        "integration_id": integration.id,
        "dedup_key": m.alert.dedup_key,
        "group_id": group_id,
        "status": m.alert.event,
        "severity": m.alert.severity,
        "summary": m.alert.summary,
        "source": m.alert.source,
        "labels": m.alert.labels,
        "annotations": m.alert.annotations,
        "link": m.alert.link,
        "count": m.occurrences,
        "first_seen": now,
        "last_seen": now,
        "resolved_at": now if m.alert.event == RESOLVED else None,
        "acknowledged_at": None,
    }


async def upsert_groups(
    session: AsyncSession, statement: Insert, rows: list[dict[str, Any]], cutoff: datetime | None
) -> dict[str, tuple[int, int | None]]:
    """Upsert ``rows`` (bound as parameters, so the statement compiles once); ``cutoff`` for
    the statement that skips groups whose time is over."""
    params = rows if cutoff is None else [row | {"b_cutoff": cutoff} for row in rows]
    returned = await session.execute(statement, params if len(params) > 1 else params[0])
    return {key: (int(group_id), incident_id) for group_id, key, incident_id in returned.all()}


# PostgreSQL: groups and alerts in one statement, the rows passed as arrays (unnest), so a
# post of 50 alerts is one round trip with a handful of parameters. Same rules as the
# statements above: live groups only (a group whose time is over is left for the caller),
# groups locked before alerts, alerts in key order.
PG_UPSERT_ALL = text(
    """
WITH g AS (
  INSERT INTO alert_groups AS ag
    (integration_id, group_key, labels, title, alert_count, first_seen, last_seen)
  SELECT CAST(:iid AS bigint), x.k, CAST(x.l AS json), x.t, x.c,
         CAST(:now AS timestamptz), CAST(:now AS timestamptz)
  FROM unnest(CAST(:g_keys AS text[]), CAST(:g_labels AS text[]), CAST(:g_titles AS text[]),
              CAST(:g_counts AS bigint[])) AS x(k, l, t, c)
  ORDER BY x.k
  ON CONFLICT (integration_id, group_key) WHERE closed_at IS NULL DO UPDATE
    SET last_seen = excluded.last_seen, alert_count = ag.alert_count + excluded.alert_count
    WHERE NOT ((ag.incident_id IS NULL AND ag.last_seen < CAST(:cutoff AS timestamptz))
               OR EXISTS (SELECT 1 FROM incidents i WHERE i.id = ag.incident_id
                          AND i.status = ANY(CAST(:finished AS text[]))))
  RETURNING ag.id, ag.group_key, ag.incident_id
), a AS (
  INSERT INTO alerts AS al
    (integration_id, dedup_key, group_id, status, severity, summary, source, labels,
     annotations, link, count, first_seen, last_seen, resolved_at, acknowledged_at)
  SELECT CAST(:iid AS bigint), x.k, g.id, x.st, x.sev, x.sm, x.src, CAST(x.l AS json),
         CAST(x.an AS json), x.ln, x.c, CAST(:now AS timestamptz), CAST(:now AS timestamptz),
         CASE WHEN x.st = 'resolved' THEN CAST(:now AS timestamptz) END, NULL
  FROM unnest(CAST(:a_keys AS text[]), CAST(:a_groups AS text[]), CAST(:a_status AS text[]),
              CAST(:a_severity AS text[]), CAST(:a_summary AS text[]), CAST(:a_source AS text[]),
              CAST(:a_labels AS text[]), CAST(:a_annotations AS text[]), CAST(:a_link AS text[]),
              CAST(:a_counts AS bigint[]))
       AS x(k, gk, st, sev, sm, src, l, an, ln, c)
  JOIN g ON g.group_key = x.gk
  ORDER BY x.k
  ON CONFLICT (integration_id, dedup_key) DO UPDATE
    SET count = al.count + excluded.count, last_seen = excluded.last_seen,
        status = excluded.status, severity = excluded.severity, summary = excluded.summary,
        labels = excluded.labels, annotations = excluded.annotations,
        resolved_at = excluded.resolved_at,
        group_id = CASE WHEN excluded.status = 'firing' THEN excluded.group_id
                        ELSE al.group_id END
  RETURNING 1
)
SELECT g.id, g.group_key, g.incident_id, (SELECT count(*) FROM a) FROM g
"""
)


async def pg_upsert_all(
    session: AsyncSession,
    integration: IntegrationView,
    merged: Sequence[Merged],
    group_values: dict[str, dict[str, Any]],
    now: datetime,
    cutoff: datetime,
) -> dict[str, tuple[int, int | None]]:
    keys = sorted(group_values)
    groups = [group_values[key] for key in keys]
    params = {
        "iid": integration.id,
        "now": now,
        "cutoff": cutoff,
        "finished": list(FINISHED),
        "g_keys": keys,
        "g_labels": [orjson.dumps(row["labels"]).decode() for row in groups],
        "g_titles": [row["title"] for row in groups],
        "g_counts": [row["alert_count"] for row in groups],
        "a_keys": [m.alert.dedup_key for m in merged],
        "a_groups": [m.group_key for m in merged],
        "a_status": [m.alert.event for m in merged],
        "a_severity": [m.alert.severity for m in merged],
        "a_summary": [m.alert.summary for m in merged],
        "a_source": [m.alert.source for m in merged],
        "a_labels": [orjson.dumps(m.alert.labels).decode() for m in merged],
        "a_annotations": [orjson.dumps(m.alert.annotations).decode() for m in merged],
        "a_link": [m.alert.link for m in merged],
        "a_counts": [m.occurrences for m in merged],
    }
    returned = await session.execute(PG_UPSERT_ALL, params)
    return {key: (int(group_id), incident_id) for group_id, key, incident_id, _n in returned.all()}


# SQLite: the same upsert as ``upsert_alerts``, handed to sqlite3's executemany with the
# values already in their stored form (JSON text, UTC timestamps as SQLAlchemy writes them):
# per-value bind processing cost more than the insert itself.
SQLITE_UPSERT_ALERTS = (
    "INSERT INTO alerts (integration_id, dedup_key, group_id, status, severity, summary, source,"
    " labels, annotations, link, count, first_seen, last_seen, resolved_at, acknowledged_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)"
    " ON CONFLICT (integration_id, dedup_key) DO UPDATE SET count = alerts.count + excluded.count,"
    " last_seen = excluded.last_seen, status = excluded.status, severity = excluded.severity,"
    " summary = excluded.summary, labels = excluded.labels, annotations = excluded.annotations,"
    " resolved_at = excluded.resolved_at, group_id = CASE WHEN excluded.status = 'firing'"
    " THEN excluded.group_id ELSE alerts.group_id END"
)


def sqlite_time(at: datetime) -> str:
    """How ``UTCDateTime`` stores a time on SQLite: naive UTC, microseconds."""
    return at.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


async def sqlite_upsert_alerts(
    session: AsyncSession,
    integration: IntegrationView,
    merged: Sequence[Merged],
    group_rows: dict[str, tuple[int, int | None]],
    now: datetime,
) -> None:
    stamp = sqlite_time(now)
    rows = [
        (
            integration.id,
            m.alert.dedup_key,
            group_rows[m.group_key][0],
            m.alert.event,
            m.alert.severity,
            m.alert.summary,
            m.alert.source,
            orjson.dumps(m.alert.labels).decode(),
            orjson.dumps(m.alert.annotations).decode(),
            m.alert.link,
            m.occurrences,
            stamp,
            stamp,
            stamp if m.alert.event == RESOLVED else None,
        )
        for m in merged
    ]
    connection = await session.connection()
    await connection.exec_driver_sql(SQLITE_UPSERT_ALERTS, rows)


def alert_dict(alert: NormalisedAlert) -> dict[str, Any]:
    return {
        "severity": alert.severity,
        "source": alert.source,
        "summary": alert.summary,
        "labels": alert.labels,
    }
