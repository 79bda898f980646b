"""Alert ingestion: one transaction per request, SQL Core upserts, one incident per group.

The hot path. A post's alerts are merged by dedup key, their groups upserted (the partial
unique index on open groups makes concurrent posts meet on one row and wait for each other),
then the alerts upserted with ``INSERT … ON CONFLICT DO UPDATE`` (count + n, last seen).
Only a group without an incident costs more: the conversion rule is matched and the incident
created through the incident service, in the same transaction. Locks are always taken groups
first, then alerts, each in key order, so concurrent posts cannot deadlock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import orjson
from sqlalchemy import (
    Table,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from opsdesk.alerts.fingerprints import group_key
from opsdesk.alerts.models import Alert, AlertGroup, ConversionRule, Integration
from opsdesk.alerts.payloads import ACKNOWLEDGED, FIRING, RESOLVED, NormalisedAlert
from opsdesk.alerts.rules import RuleView, first_match, level_for, title_for
from opsdesk.auth.roles import Caller
from opsdesk.auth.service import caller_by_id
from opsdesk.core.cache import remember
from opsdesk.core.errors import Unauthenticated
from opsdesk.incidents.actions import Actor, apply_action, phase_of_incident
from opsdesk.incidents.fields import Channel, HistoryAction, Source, Status
from opsdesk.incidents.lifecycle import Action, Phase
from opsdesk.incidents.models import Incident
from opsdesk.incidents.schemas import AcceptParams, IncidentCreate, ResolveParams
from opsdesk.incidents.service import IncidentRules, create_incident, record_history

KINDS = ("alertmanager", "grafana", "pagerduty", "generic", "coc")
DEFAULT_CATEGORY = "inc_type_p_other_issues"
# An incident in one of these no longer holds its group: the next alert opens a new one.
FINISHED = (str(Status.COMPLETED), str(Status.REJECTED))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class IntegrationView:
    """What ingestion needs of an integration, cached a few seconds per process."""

    id: int
    name: str
    kind: str
    rate_limit_per_s: int
    group_by: tuple[str, ...]
    group_window_s: int
    acting: Caller
    rules: tuple[RuleView, ...]


@dataclass
class IngestResult:
    alerts: int = 0
    new_incidents: list[str] = field(default_factory=list)
    dedup_keys: list[str] = field(default_factory=list)
    dropped: int = 0


def _rule_view(rule: ConversionRule) -> RuleView:
    return RuleView(
        id=rule.id,
        conditions=tuple(rule.conditions),
        creates_incident=rule.creates_incident,
        level=rule.level,
        category=rule.category,
        application=rule.application,
        assignee_id=rule.assignee_id,
        assignee_scene=rule.assignee_scene,
        assignee_role=rule.assignee_role,
        auto_resolve=rule.auto_resolve,
        enabled=rule.enabled,
    )


async def integration_by_key(
    *, session: AsyncSession, key: str, kind: str | tuple[str, ...] | None = None
) -> IntegrationView:
    """The active integration with this key (and of this kind); Unauthenticated names the key."""
    digest = hash_key(key)

    async def load() -> IntegrationView | None:
        row = await session.scalar(select(Integration).where(Integration.key_hash == digest))
        if row is None or not row.active:
            return None
        acting = await caller_by_id(session=session, user_id=row.acting_user_id)
        if acting is None:
            return None
        rules = await session.scalars(
            select(ConversionRule)
            .where(ConversionRule.integration_id == row.id)
            .order_by(ConversionRule.position, ConversionRule.id)
        )
        return IntegrationView(
            id=row.id,
            name=row.name,
            kind=row.kind,
            rate_limit_per_s=row.rate_limit_per_s,
            group_by=tuple(row.group_by),
            group_window_s=row.group_window_s,
            acting=acting,
            rules=tuple(_rule_view(rule) for rule in rules),
        )

    view = await remember(session, "integrations", digest, load)
    kinds = (kind,) if isinstance(kind, str) else kind
    if view is None or (kinds is not None and view.kind not in kinds):
        raise Unauthenticated(
            "integration_key: no active integration with this key", field="integration_key"
        )
    return view


# ---- ingestion ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Statements:
    close_stale: Any
    upsert_live_groups: Insert
    upsert_groups: Insert
    upsert_alerts: Insert
    link_incident: Any


def _insert_for(dialect: str) -> Any:
    return pg_insert if dialect == "postgresql" else sqlite_insert


@cache
def _statements(dialect: str) -> _Statements:
    groups: Table = AlertGroup.__table__  # type: ignore[assignment]
    alerts: Table = Alert.__table__  # type: ignore[assignment]
    incidents: Table = Incident.__table__  # type: ignore[assignment]
    insert = _insert_for(dialect)
    close_stale = (
        update(groups)
        .where(
            groups.c.integration_id == bindparam("b_integration_id"),
            groups.c.closed_at.is_(None),
            groups.c.group_key.in_(bindparam("keys", expanding=True)),
            _group_is_over(groups, incidents),
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
        where=~_group_is_over(groups, incidents),
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
    return _Statements(close_stale, upsert_live_groups, upsert_groups, upsert_alerts, link_incident)


def _group_is_over(groups: Table, incidents: Table) -> Any:
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
class _Merged:
    alert: NormalisedAlert
    occurrences: int
    group_key: str
    group_labels: dict[str, str]


def _merge(integration: IntegrationView, alerts: Sequence[NormalisedAlert]) -> list[_Merged]:
    """One entry per dedup key (the last one wins, the count is every occurrence)."""
    merged: dict[str, _Merged] = {}
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
        merged[alert.dedup_key] = _Merged(alert, 1, key, labels)
    return [merged[key] for key in sorted(merged)]


async def ingest(
    *,
    session: AsyncSession,
    integration: IntegrationView,
    alerts: Sequence[NormalisedAlert],
    now: datetime,
    rules: IncidentRules = IncidentRules(),
) -> IngestResult:
    """Store a request's alerts and act on them; the caller's transaction commits once."""
    result = IngestResult(alerts=len(alerts))
    dialect = session.get_bind().dialect.name
    statements = _statements(dialect)
    full: list[NormalisedAlert] = []
    bare: list[NormalisedAlert] = []  # PagerDuty acknowledge / resolve by key alone
    for alert in alerts:
        (full if alert.event != ACKNOWLEDGED and alert.summary else bare).append(alert)
    merged = _merge(integration, full)
    result.dedup_keys = [a.dedup_key for a in alerts]
    resolved_now = await _resolve_transitions(session, integration, alerts, now)
    if merged:
        cutoff = now - timedelta(seconds=integration.group_window_s)
        group_values = _group_values(integration, merged, now)
        keys = sorted(group_values)
        if dialect == "postgresql":
            group_rows = await _pg_upsert_all(
                session, integration, merged, group_values, now, cutoff
            )
        else:
            group_rows = await _upsert_groups(
                session, statements.upsert_live_groups, [group_values[k] for k in keys], cutoff
            )
        over = [key for key in keys if key not in group_rows]
        if over:
            await session.execute(
                statements.close_stale,
                {
                    "b_integration_id": integration.id,
                    "keys": over,
                    "b_cutoff": cutoff,
                    "b_now": now,
                },
            )
            group_rows.update(
                await _upsert_groups(
                    session, statements.upsert_groups, [group_values[k] for k in over], None
                )
            )
        # PostgreSQL wrote the alerts of live groups in the same statement as the groups.
        pending = [m for m in merged if dialect != "postgresql" or m.group_key in over]
        if pending and dialect == "sqlite":
            await _sqlite_upsert_alerts(session, integration, pending, group_rows, now)
        elif pending:
            await session.execute(
                statements.upsert_alerts,
                [_alert_values(integration, m, group_rows[m.group_key][0], now) for m in pending],
            )
        await _open_incidents(session, integration, merged, group_rows, now, rules, result)
    acknowledged = [a.dedup_key for a in bare if a.event == ACKNOWLEDGED]
    if acknowledged:
        await _acknowledge(session, integration, acknowledged, now, rules)
    if resolved_now:
        await _note_resolved(session, integration, resolved_now, now, rules)
    known = {a.dedup_key for a in bare}
    if known:
        found = await session.scalars(
            select(Alert.dedup_key).where(
                Alert.integration_id == integration.id, Alert.dedup_key.in_(known)
            )
        )
        result.dropped = len(known - set(found))
    return result


def _group_values(
    integration: IntegrationView, merged: Sequence[_Merged], now: datetime
) -> dict[str, dict[str, Any]]:
    values: dict[str, dict[str, Any]] = {}
    for m in merged:
        row = values.get(m.group_key)
        if row is None:
            values[m.group_key] = {
                "integration_id": integration.id,
                "group_key": m.group_key,
                "labels": m.group_labels,
                "title": title_for(_alert_dict(m.alert)),
                "alert_count": m.occurrences,
                "first_seen": now,
                "last_seen": now,
            }
        else:
            row["alert_count"] += m.occurrences
    return values


def _alert_values(
    integration: IntegrationView, m: _Merged, group_id: int, now: datetime
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


async def _upsert_groups(
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
_PG_UPSERT_ALL = text(
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


async def _pg_upsert_all(
    session: AsyncSession,
    integration: IntegrationView,
    merged: Sequence[_Merged],
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
    returned = await session.execute(_PG_UPSERT_ALL, params)
    return {key: (int(group_id), incident_id) for group_id, key, incident_id, _n in returned.all()}


# SQLite: the same upsert as ``upsert_alerts``, handed to sqlite3's executemany with the
# values already in their stored form (JSON text, UTC timestamps as SQLAlchemy writes them):
# per-value bind processing cost more than the insert itself.
_SQLITE_UPSERT_ALERTS = (
    "INSERT INTO alerts (integration_id, dedup_key, group_id, status, severity, summary, source,"
    " labels, annotations, link, count, first_seen, last_seen, resolved_at, acknowledged_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)"
    " ON CONFLICT (integration_id, dedup_key) DO UPDATE SET count = alerts.count + excluded.count,"
    " last_seen = excluded.last_seen, status = excluded.status, severity = excluded.severity,"
    " summary = excluded.summary, labels = excluded.labels, annotations = excluded.annotations,"
    " resolved_at = excluded.resolved_at, group_id = CASE WHEN excluded.status = 'firing'"
    " THEN excluded.group_id ELSE alerts.group_id END"
)


def _sqlite_time(at: datetime) -> str:
    """How ``UTCDateTime`` stores a time on SQLite: naive UTC, microseconds."""
    return at.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


async def _sqlite_upsert_alerts(
    session: AsyncSession,
    integration: IntegrationView,
    merged: Sequence[_Merged],
    group_rows: dict[str, tuple[int, int | None]],
    now: datetime,
) -> None:
    stamp = _sqlite_time(now)
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
    await connection.exec_driver_sql(_SQLITE_UPSERT_ALERTS, rows)


def _alert_dict(alert: NormalisedAlert) -> dict[str, Any]:
    return {
        "severity": alert.severity,
        "source": alert.source,
        "summary": alert.summary,
        "labels": alert.labels,
    }


async def _resolve_transitions(
    session: AsyncSession,
    integration: IntegrationView,
    alerts: Sequence[NormalisedAlert],
    now: datetime,
) -> dict[int, list[str]]:
    """Mark firing alerts resolved; {group id: summaries of the alerts that just resolved}."""
    keys = sorted({a.dedup_key for a in alerts if a.event == RESOLVED})
    if not keys:
        return {}
    where = (
        Alert.integration_id == integration.id,
        Alert.dedup_key.in_(keys),
        Alert.status == FIRING,
    )
    groups = sorted(set(await session.scalars(select(Alert.group_id).where(*where))))
    if not groups:
        return {}
    # Groups first, then alerts: the lock order every post follows.
    await session.execute(
        select(AlertGroup.id)
        .where(AlertGroup.id.in_(groups))
        .order_by(AlertGroup.id)
        .with_for_update()
    )
    rows = await session.execute(
        update(Alert)
        .where(*where)
        .values(status=RESOLVED, resolved_at=now, last_seen=now)
        .returning(Alert.group_id, Alert.summary)
    )
    found: dict[int, list[str]] = {}
    for group_id, summary in rows.all():
        found.setdefault(int(group_id), []).append(summary)
    return found


async def _open_incidents(
    session: AsyncSession,
    integration: IntegrationView,
    merged: Sequence[_Merged],
    group_rows: dict[str, tuple[int, int | None]],
    now: datetime,
    rules: IncidentRules,
    result: IngestResult,
) -> None:
    """An incident for each group that has firing alerts and none yet, per the first rule."""
    statements = _statements(session.get_bind().dialect.name)
    done: set[str] = set()
    for m in merged:
        if m.alert.event != FIRING or m.group_key in done:
            continue
        done.add(m.group_key)
        group_id, incident_id = group_rows[m.group_key]
        if incident_id is not None:
            continue
        alert = _alert_dict(m.alert)
        rule = first_match(integration.rules, alert)
        if rule is None or not rule.creates_incident:
            continue
        incident = await create_incident(
            session=session,
            caller=integration.acting,
            data=IncidentCreate(
                title=title_for(alert),
                description=_description(integration, m.alert),
                level=level_for(rule, m.alert.severity),
                category=rule.category,
                application=rule.application,
                assignee_id=rule.assignee_id,
                assignee_scene=rule.assignee_scene,
                assignee_role=rule.assignee_role,
                source=Source.ALARM,
                channel=Channel.MONITORING,
                fault_occurred_at=now,
            ),
            now=now,
            rules=rules,
            default_channel=Channel.MONITORING,
        )
        await session.execute(
            statements.link_incident,
            {"b_group_id": group_id, "b_incident_id": incident.id, "b_rule_id": rule.id},
        )
        group_rows[m.group_key] = (group_id, incident.id)
        result.new_incidents.append(incident.number)


def _description(integration: IntegrationView, alert: NormalisedAlert) -> str:
    lines = [f"Opened by the {integration.kind} integration {integration.name!r}.", ""]
    lines.append(alert.summary)
    description = alert.annotations.get("description")
    if isinstance(description, str) and description != alert.summary:
        lines.append(description)
    if alert.labels:
        lines.append("")
        lines.extend(f"{name}: {value}" for name, value in sorted(alert.labels.items()))
    if alert.link:
        lines.extend(["", f"Source: {alert.link}"])
    return "\n".join(lines)[:20_000]


async def _locked_incident(session: AsyncSession, incident_id: int) -> Incident | None:
    return await session.scalar(
        select(Incident).where(Incident.id == incident_id).with_for_update()
    )


async def _acknowledge(
    session: AsyncSession,
    integration: IntegrationView,
    keys: Sequence[str],
    now: datetime,
    rules: IncidentRules,
) -> None:
    """PagerDuty's acknowledge: the alert is marked, a new incident is accepted."""
    rows = await session.execute(
        select(AlertGroup.id, AlertGroup.incident_id)
        .join(Alert, Alert.group_id == AlertGroup.id)
        .where(
            Alert.integration_id == integration.id,
            Alert.dedup_key.in_(sorted(keys)),
            Alert.status == FIRING,
        )
        .distinct()
    )
    groups = sorted(rows.all())
    if not groups:
        return
    await session.execute(
        update(Alert)
        .where(
            Alert.integration_id == integration.id,
            Alert.dedup_key.in_(sorted(keys)),
            Alert.status == FIRING,
        )
        .values(acknowledged_at=now, last_seen=now)
    )
    for _group_id, incident_id in groups:
        if incident_id is None:
            continue
        incident = await _locked_incident(session, incident_id)
        if incident is not None and phase_of_incident(incident) == Phase.NEW:
            await apply_action(
                session=session,
                incident=incident,
                actor=Actor(integration.acting),
                action=Action.ACCEPT,
                params=AcceptParams(comment=f"Acknowledged by the sender ({integration.name})"),
                now=now,
                rules=rules,
            )


async def _note_resolved(
    session: AsyncSession,
    integration: IntegrationView,
    resolved: dict[int, list[str]],
    now: datetime,
    rules: IncidentRules,
) -> None:
    """A work-log row on each incident whose alerts resolved; auto-resolve per rule."""
    for group_id in sorted(resolved):
        group = await session.get(AlertGroup, group_id)
        if group is None or group.incident_id is None:
            continue
        incident = await _locked_incident(session, group.incident_id)
        if incident is None:
            continue
        firing = await session.scalar(
            select(func.count()).where(Alert.group_id == group_id, Alert.status == FIRING)
        )
        names = resolved[group_id]
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        session.add(
            record_history(
                incident=incident,
                action=HistoryAction.WORK_LOG,
                operator_id=None,
                now=now,
                comment=f"{len(names)} alert(s) resolved: {shown}. Still firing: {firing or 0}.",
                internal=True,
            )
        )
        rule = next((r for r in integration.rules if r.id == group.rule_id), None)
        if firing == 0 and rule is not None and rule.auto_resolve:
            await _auto_resolve(session, integration, incident, rule, now, rules)
            group.closed_at = now
    await session.flush()


async def _auto_resolve(
    session: AsyncSession,
    integration: IntegrationView,
    incident: Incident,
    rule: RuleView,
    now: datetime,
    rules: IncidentRules,
) -> None:
    actor = Actor(integration.acting)
    if phase_of_incident(incident) == Phase.NEW:
        await apply_action(
            session=session,
            incident=incident,
            actor=actor,
            action=Action.ACCEPT,
            params=AcceptParams(comment="Accepted to resolve: every alert resolved"),
            now=now,
            rules=rules,
        )
    if phase_of_incident(incident) not in (Phase.IN_PROGRESS, Phase.PAUSED):
        return
    await apply_action(
        session=session,
        incident=incident,
        actor=actor,
        action=Action.RESOLVE,
        params=ResolveParams(
            cause="Monitoring: every alert of the group resolved",
            solution=f"Resolved automatically by the rule of integration {integration.name!r}",
            category=incident.category or rule.category or DEFAULT_CATEGORY,
        ),
        now=now,
        rules=rules,
    )
