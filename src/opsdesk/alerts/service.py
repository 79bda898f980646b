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
from datetime import datetime, timedelta

from sqlalchemy import (
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.alerts.models import Alert, AlertGroup, ConversionRule, Integration
from opsdesk.alerts.payloads import ACKNOWLEDGED, FIRING, RESOLVED, NormalisedAlert
from opsdesk.alerts.rules import RuleView, first_match, level_for, title_for
from opsdesk.alerts.upserts import (
    Merged,
    alert_dict,
    alert_values,
    group_values,
    merge,
    pg_upsert_all,
    sqlite_upsert_alerts,
    statements_for,
    upsert_groups,
)
from opsdesk.auth.roles import Caller
from opsdesk.auth.service import caller_by_id
from opsdesk.core.cache import remember
from opsdesk.core.errors import Unauthenticated
from opsdesk.incidents.acting import Actor
from opsdesk.incidents.actions import apply_action, phase_of_incident
from opsdesk.incidents.creation import create_incident
from opsdesk.incidents.fields import Channel, HistoryAction, Source
from opsdesk.incidents.history import record_history
from opsdesk.incidents.lifecycle import Action, Phase
from opsdesk.incidents.models import Incident
from opsdesk.incidents.rules import IncidentRules
from opsdesk.incidents.schemas import AcceptParams, IncidentCreate, ResolveParams

KINDS = ("alertmanager", "grafana", "pagerduty", "generic", "coc")
DEFAULT_CATEGORY = "inc_type_p_other_issues"


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
    statements = statements_for(dialect)
    full: list[NormalisedAlert] = []
    bare: list[NormalisedAlert] = []  # PagerDuty acknowledge / resolve by key alone
    for alert in alerts:
        (full if alert.event != ACKNOWLEDGED and alert.summary else bare).append(alert)
    merged = merge(integration, full)
    result.dedup_keys = [a.dedup_key for a in alerts]
    resolved_now = await _resolve_transitions(session, integration, alerts, now)
    if merged:
        cutoff = now - timedelta(seconds=integration.group_window_s)
        groups_by_key = group_values(integration, merged, now)
        keys = sorted(groups_by_key)
        if dialect == "postgresql":
            group_rows = await pg_upsert_all(
                session, integration, merged, groups_by_key, now, cutoff
            )
        else:
            group_rows = await upsert_groups(
                session, statements.upsert_live_groups, [groups_by_key[k] for k in keys], cutoff
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
                await upsert_groups(
                    session, statements.upsert_groups, [groups_by_key[k] for k in over], None
                )
            )
        # PostgreSQL wrote the alerts of live groups in the same statement as the groups.
        pending = [m for m in merged if dialect != "postgresql" or m.group_key in over]
        if pending and dialect == "sqlite":
            await sqlite_upsert_alerts(session, integration, pending, group_rows, now)
        elif pending:
            await session.execute(
                statements.upsert_alerts,
                [alert_values(integration, m, group_rows[m.group_key][0], now) for m in pending],
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
    merged: Sequence[Merged],
    group_rows: dict[str, tuple[int, int | None]],
    now: datetime,
    rules: IncidentRules,
    result: IngestResult,
) -> None:
    """An incident for each group that has firing alerts and none yet, per the first rule."""
    statements = statements_for(session.get_bind().dialect.name)
    done: set[str] = set()
    for m in merged:
        if m.alert.event != FIRING or m.group_key in done:
            continue
        done.add(m.group_key)
        group_id, incident_id = group_rows[m.group_key]
        if incident_id is not None:
            continue
        alert = alert_dict(m.alert)
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
            forward_rule_id=rule.id,
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


async def move_alert_groups(
    session: AsyncSession,
    *,
    from_id: int | None = None,
    to_id: int,
    group_ids: Sequence[int] | None = None,
) -> list[int]:
    """Point alert groups at incident ``to_id``: every group of ``from_id``, or the named
    ``group_ids`` (undoing a merge). New alerts of a moved open group then go to ``to_id``.
    Returns the ids of the groups moved; the caller has locked both incidents."""
    query = select(AlertGroup.id)
    if group_ids is not None:
        query = query.where(AlertGroup.id.in_(list(group_ids)))
    else:
        query = query.where(AlertGroup.incident_id == from_id)
    ids = list(await session.scalars(query.order_by(AlertGroup.id)))
    if ids:
        await session.execute(
            update(AlertGroup)
            .where(AlertGroup.id.in_(ids))
            .values(incident_id=to_id)
            .execution_options(synchronize_session=False)
        )
    return ids
