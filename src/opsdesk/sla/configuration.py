"""SLA configuration: policies and calendars as rows and as domain values, the cached
configuration every clock reads, the defaults, and their administration (any change
recomputes every clock)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.assignment import workgroups as assignment_workgroups
from opsdesk.auth import service as auth
from opsdesk.auth.roles import Caller, Role
from opsdesk.core import jobs
from opsdesk.core.cache import forget, remember
from opsdesk.core.errors import Conflict, NotFound, ValidationFailed
from opsdesk.sla.calendar import (
    END_OF_DAY,
    BusinessCalendar,
    WorkingSpan,
    holidays_for,
    holidays_from_ical,
)
from opsdesk.sla.models import SlaCalendarRow, SlaPolicyRow
from opsdesk.sla.policies import (
    DEFAULT_CALENDARS,
    DEFAULT_POLICIES,
    ActionKind,
    EscalationAction,
    IncidentFacts,
    SlaPolicy,
    Threshold,
    match_policy,
)
from opsdesk.sla.schemas import CalendarIn, PolicyIn

log = logging.getLogger(__name__)


MATCH_FIELDS = ("levels", "categories", "applications", "regions", "organisations")
_CACHE_KEY = ("sla", "config")
CACHE = "reference"


# Picked up by the worker, which recomputes in batches (clocks.recompute_batch).
RECOMPUTE_JOB = "sla.recompute"


async def enqueue_recompute(session: AsyncSession, *, now: datetime) -> bool:
    """Recompute every incident's clocks (after a policy or calendar change), in jobs."""
    return await jobs.enqueue(session, kind=RECOMPUTE_JOB, payload={"after_id": 0}, now=now)


def _span_out(span: WorkingSpan) -> dict[str, Any]:
    end = "24:00" if span.end == END_OF_DAY else f"{span.end:%H:%M}"
    return {"weekday": span.weekday, "start": f"{span.start:%H:%M}", "end": end}


def calendar_values(calendar: BusinessCalendar) -> dict[str, Any]:
    """A calendar as the columns of its row."""
    return {
        "key": calendar.key,
        "name": calendar.name,
        "time_zone": calendar.time_zone,
        "hours": [_span_out(span) for span in calendar.hours],
        "holidays": {day.isoformat(): name for day, name in sorted(calendar.holidays.items())},
        "always_open": calendar.always_open,
    }


def calendar_of(row: SlaCalendarRow) -> BusinessCalendar:
    """The domain calendar of a stored row (raises ValueError naming the bad part)."""
    return BusinessCalendar(
        key=row.key,
        name=row.name,
        time_zone=row.time_zone,
        hours=tuple(
            WorkingSpan.parse(int(span["weekday"]), str(span["start"]), str(span["end"]))
            for span in row.hours
        ),
        holidays={date.fromisoformat(day): name for day, name in (row.holidays or {}).items()},
        always_open=row.always_open,
    )


def thresholds_values(thresholds: Iterable[Threshold]) -> list[dict[str, Any]]:
    return [
        {
            "percent": t.percent,
            "actions": [{"kind": str(a.kind), "workgroup": a.workgroup} for a in t.actions],
        }
        for t in thresholds
    ]


def policy_values(policy: SlaPolicy) -> dict[str, Any]:
    """A policy as the columns of its row."""
    return {
        "key": policy.key,
        "name": policy.name,
        "order": policy.order,
        "match": {name: sorted(getattr(policy, name)) for name in MATCH_FIELDS},
        "calendar": policy.calendar,
        "response_s": policy.response_s,
        "resolution_s": policy.resolution_s,
        "pause_phases": sorted(policy.pause_phases),
        "thresholds": thresholds_values(policy.thresholds),
    }


def policy_of(row: SlaPolicyRow) -> SlaPolicy:
    match = row.match or {}
    return SlaPolicy(
        key=row.key,
        name=row.name,
        order=row.order,
        calendar=row.calendar,
        response_s=row.response_s,
        resolution_s=row.resolution_s,
        levels=frozenset(match.get("levels", ())),
        categories=frozenset(match.get("categories", ())),
        applications=frozenset(match.get("applications", ())),
        regions=frozenset(match.get("regions", ())),
        organisations=frozenset(match.get("organisations", ())),
        pause_phases=frozenset(row.pause_phases),
        thresholds=tuple(
            Threshold(
                float(t["percent"]),
                tuple(
                    EscalationAction(ActionKind(a["kind"]), a.get("workgroup"))
                    for a in t.get("actions", ())
                ),
            )
            for t in row.thresholds
        ),
    )


@dataclass(frozen=True)
class SlaConfig:
    """The active policies (in matching order) and every calendar, as domain objects."""

    policies: tuple[SlaPolicy, ...]
    calendars: Mapping[str, BusinessCalendar]

    def policy_for(self, facts: IncidentFacts) -> SlaPolicy | None:
        return match_policy(self.policies, facts)

    def policy(self, key: str) -> SlaPolicy | None:
        return next((p for p in self.policies if p.key == key), None)


async def load_config(session: AsyncSession) -> SlaConfig:
    """Policies and calendars, cached a few seconds per process (calendars keep their
    interval tables between calls, which is what makes a sweep cheap)."""

    async def load() -> SlaConfig:
        calendars: dict[str, BusinessCalendar] = {}
        for row in await session.scalars(select(SlaCalendarRow)):
            try:
                calendars[row.key] = calendar_of(row)
            except ValueError:
                log.exception("SLA calendar %r is invalid and is ignored", row.key)
        policies: list[SlaPolicy] = []
        policy_rows = await session.scalars(
            select(SlaPolicyRow)
            .where(SlaPolicyRow.active.is_(True))
            .order_by(SlaPolicyRow.order, SlaPolicyRow.key)
        )
        for policy_row in policy_rows:
            try:
                policy = policy_of(policy_row)
            except ValueError:
                log.exception("SLA policy %r is invalid and is ignored", policy_row.key)
                continue
            if policy.calendar in calendars:
                policies.append(policy)
        return SlaConfig(policies=tuple(policies), calendars=calendars)

    return await remember(session, CACHE, _CACHE_KEY, load)


def forget_config(session: AsyncSession) -> None:
    """After an administrator's change: this process sees it at once."""
    forget(session, CACHE)


async def seed_sla_defaults(*, session: AsyncSession, now: datetime) -> int:
    """Add the default calendars and policies that are missing; returns how many."""
    added = 0
    have = set(await session.scalars(select(SlaCalendarRow.key)))
    for calendar in DEFAULT_CALENDARS.values():
        if calendar.key not in have:
            session.add(SlaCalendarRow(**calendar_values(calendar), updated_at=now))
            added += 1
    await session.flush()
    have = set(await session.scalars(select(SlaPolicyRow.key)))
    for policy in DEFAULT_POLICIES:
        if policy.key not in have:
            session.add(SlaPolicyRow(**policy_values(policy), active=True, updated_at=now))
            added += 1
    await session.flush()
    if added:
        forget_config(session)
    return added


def _invalid(error: ValueError, prefix: str = "") -> ValidationFailed:
    """The domain's "field: reason" message as a ValidationFailed naming that field."""
    message = str(error)
    name, _sep, _rest = message.partition(":")
    field_name = f"{prefix}{name.strip()}" if name and " " not in name.strip() else prefix or None
    return ValidationFailed(f"{prefix}{message}" if prefix else message, field=field_name)


async def _changed(session: AsyncSession, now: datetime) -> None:
    await session.flush()
    forget_config(session)
    await enqueue_recompute(session, now=now)


async def list_calendars(*, session: AsyncSession, caller: Caller) -> list[SlaCalendarRow]:
    auth.require_role(caller, Role.ADMIN)
    return list(await session.scalars(select(SlaCalendarRow).order_by(SlaCalendarRow.key)))


async def get_calendar(*, session: AsyncSession, caller: Caller, key: str) -> SlaCalendarRow:
    auth.require_role(caller, Role.ADMIN)
    row = await session.get(SlaCalendarRow, key)
    if row is None:
        raise NotFound(f"key: no SLA calendar {key!r}", field="key")
    return row


def _check_key(key: str) -> None:
    if not key or len(key) > 64 or not all(c.isalnum() or c in "-_." for c in key):
        raise ValidationFailed("key: 1 to 64 letters, digits, '-', '_' or '.'", field="key")


async def put_calendar(
    *, session: AsyncSession, caller: Caller, key: str, data: CalendarIn, now: datetime
) -> SlaCalendarRow:
    """Create or replace a calendar; every open incident's clocks are recomputed."""
    auth.require_role(caller, Role.ADMIN)
    _check_key(key)
    spans = []
    for index, span in enumerate(data.hours):
        try:
            spans.append(WorkingSpan.parse(span.weekday, span.start, span.end))
        except ValueError as exc:
            raise _invalid(exc, f"hours.{index}.") from None
    try:
        calendar = BusinessCalendar(
            key=key,
            name=data.name,
            time_zone=data.time_zone,
            hours=tuple(spans),
            holidays=dict(data.holidays),
            always_open=data.always_open,
        )
    except ValueError as exc:
        raise _invalid(exc) from None
    values = calendar_values(calendar)
    row = await session.get(SlaCalendarRow, key)
    if row is None:
        row = SlaCalendarRow(key=key)
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = now
    await _changed(session, now)
    return row


async def delete_calendar(*, session: AsyncSession, caller: Caller, key: str) -> None:
    row = await get_calendar(session=session, caller=caller, key=key)
    users = list(
        await session.scalars(select(SlaPolicyRow.key).where(SlaPolicyRow.calendar == key))
    )
    if users:
        raise Conflict(
            f"key: calendar {key!r} is used by policies {', '.join(sorted(users))}", field="key"
        )
    await session.delete(row)
    await session.flush()
    forget_config(session)


async def import_holidays(
    *,
    session: AsyncSession,
    caller: Caller,
    key: str,
    now: datetime,
    country: str | None = None,
    years: Sequence[int] = (),
    subdivision: str | None = None,
    ical: bytes | None = None,
) -> tuple[SlaCalendarRow, int]:
    """Add a country's public holidays for some years, or an iCal file's all-day events;
    returns the calendar and how many dates were added."""
    row = await get_calendar(session=session, caller=caller, key=key)
    if row.always_open:
        raise ValidationFailed(
            "key: a 24x7 calendar has no holidays; use seven 00:00-24:00 spans instead",
            field="key",
        )
    if ical is not None:
        try:
            found = holidays_from_ical(ical)
        except ValueError as exc:
            reason = str(exc).removeprefix("data: ")
            raise ValidationFailed(f"file: {reason}", field="file") from None
    elif country is not None:
        try:
            found = holidays_for(country, list(years), subdivision)
        except ValueError as exc:
            raise _invalid(exc) from None
    else:
        raise ValidationFailed(
            "country: give a country and years, or an iCal file", field="country"
        )
    merged = dict(row.holidays or {})
    added = 0
    for day, name in found.items():
        if day.isoformat() not in merged:
            added += 1
        merged[day.isoformat()] = name
    row.holidays = dict(sorted(merged.items()))
    row.updated_at = now
    await _changed(session, now)
    return row, added


async def list_policies(*, session: AsyncSession, caller: Caller) -> list[SlaPolicyRow]:
    auth.require_role(caller, Role.ADMIN)
    return list(
        await session.scalars(select(SlaPolicyRow).order_by(SlaPolicyRow.order, SlaPolicyRow.key))
    )


async def get_policy(*, session: AsyncSession, caller: Caller, key: str) -> SlaPolicyRow:
    auth.require_role(caller, Role.ADMIN)
    row = await session.get(SlaPolicyRow, key)
    if row is None:
        raise NotFound(f"key: no SLA policy {key!r}", field="key")
    return row


async def put_policy(
    *, session: AsyncSession, caller: Caller, key: str, data: PolicyIn, now: datetime
) -> SlaPolicyRow:
    """Create or replace a policy; every open incident's clocks are recomputed."""
    auth.require_role(caller, Role.ADMIN)
    _check_key(key)
    if await session.get(SlaCalendarRow, data.calendar) is None:
        raise ValidationFailed(f"calendar: no SLA calendar {data.calendar!r}", field="calendar")
    thresholds = []
    for t_index, threshold in enumerate(data.thresholds):
        actions = []
        for a_index, action in enumerate(threshold.actions):
            where = f"thresholds.{t_index}.actions.{a_index}."
            try:
                kind = ActionKind(action.kind)
            except ValueError:
                names = ", ".join(k.value for k in ActionKind)
                raise ValidationFailed(
                    f"{where}kind: must be one of {names}, got {action.kind!r}",
                    field=f"{where}kind",
                ) from None
            try:
                actions.append(EscalationAction(kind, action.workgroup))
            except ValueError as exc:
                raise _invalid(exc, where) from None
            if action.workgroup is not None:
                try:
                    await assignment_workgroups.check_workgroup(
                        session=session, key=action.workgroup
                    )
                except (NotFound, ValidationFailed):
                    raise ValidationFailed(
                        f"{where}workgroup: no workgroup {action.workgroup!r}",
                        field=f"{where}workgroup",
                    ) from None
        try:
            thresholds.append(Threshold(threshold.percent, tuple(actions)))
        except ValueError as exc:
            raise _invalid(exc, f"thresholds.{t_index}.") from None
    try:
        policy = SlaPolicy(
            key=key,
            name=data.name,
            order=data.order,
            calendar=data.calendar,
            response_s=data.response_s,
            resolution_s=data.resolution_s,
            levels=frozenset(data.levels),
            categories=frozenset(data.categories),
            applications=frozenset(data.applications),
            regions=frozenset(data.regions),
            organisations=frozenset(data.organisations),
            pause_phases=frozenset(data.pause_phases),
            thresholds=tuple(thresholds),
        )
    except ValueError as exc:
        raise _invalid(exc) from None
    row = await session.get(SlaPolicyRow, key)
    if row is None:
        row = SlaPolicyRow(key=key)
        session.add(row)
    for name, value in policy_values(policy).items():
        setattr(row, name, value)
    row.active = data.active
    row.updated_at = now
    await _changed(session, now)
    return row


async def delete_policy(*, session: AsyncSession, caller: Caller, key: str, now: datetime) -> None:
    row = await get_policy(session=session, caller=caller, key=key)
    await session.delete(row)
    await _changed(session, now)


async def reorder_policies(
    *, session: AsyncSession, caller: Caller, keys: Sequence[str], now: datetime
) -> list[SlaPolicyRow]:
    """Put the named policies first, in this order (10, 20, …); the others follow."""
    auth.require_role(caller, Role.ADMIN)
    rows = {row.key: row for row in await list_policies(session=session, caller=caller)}
    seen: set[str] = set()
    for index, key in enumerate(keys):
        if key not in rows:
            raise ValidationFailed(f"keys.{index}: no SLA policy {key!r}", field=f"keys.{index}")
        if key in seen:
            raise ValidationFailed(f"keys.{index}: {key!r} is named twice", field=f"keys.{index}")
        seen.add(key)
    rest = [key for key in rows if key not in seen]
    for position, key in enumerate([*keys, *rest], start=1):
        rows[key].order = position * 10
        rows[key].updated_at = now
    await _changed(session, now)
    return await list_policies(session=session, caller=caller)
