"""Shift rotations and overrides: who is on duty for a shift role at a given moment.

A shift role (COC: scenario + role) is staffed by one or more **rotations** (layers). A
rotation hands over at ``handoff`` local time in the scenario's time zone, every
``turn_days`` days (1 = daily, 7 = weekly), to the next of its ordered ``members``,
starting with the first member on ``start_date``. Turns are counted in calendar days of
that time zone, so a turn keeps its wall-clock hand-over across daylight-saving changes
(a weekly turn that spans the spring change lasts 167 hours, not 168).

A rotation may be limited to some weekdays and a daily window (``weekdays``,
``window_start``..``window_end``, local time; a window that ends before it starts runs past
midnight): COC's "fixed" shifts with working hours. Outside it, the rotation has nobody.

An **override** puts one person on duty for a time range and wins over every rotation;
when overrides overlap, the one created last wins. Among rotations, the lower ``priority``
number is asked first; the first one with somebody on duty answers, and the others give
the fallbacks an assigner can use when that person is away.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ALL_WEEKDAYS = (1, 2, 3, 4, 5, 6, 7)  # ISO: 1 = Monday


class BadTimeZone(ValueError):
    """Raised for a name that is not an IANA time zone."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadTimeZone(f"{name!r} is not an IANA time zone such as Europe/Berlin") from None


@dataclass(frozen=True)
class Rotation:
    id: int
    name: str
    members: Sequence[str]
    start_date: date
    handoff: time = time(0, 0)
    turn_days: int = 7
    priority: int = 100
    end_date: date | None = None
    weekdays: Sequence[int] = ALL_WEEKDAYS
    window_start: time | None = None
    window_end: time | None = None


@dataclass(frozen=True)
class Override:
    id: int
    user_id: str
    starts_at: datetime
    ends_at: datetime
    reason: str = ""


@dataclass(frozen=True)
class Turn:
    """One rotation's person on duty, and the turn they are in (UTC bounds)."""

    rotation: Rotation
    user_id: str
    index: int
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class OnDuty:
    """The answer to "who is on duty": the person, what put them there, and the fallbacks."""

    user_id: str | None
    override: Override | None
    turn: Turn | None
    fallbacks: tuple[Turn, ...]

    @property
    def reason(self) -> str:
        if self.override is not None:
            why = f": {self.override.reason}" if self.override.reason else ""
            return f"override #{self.override.id}{why}"
        if self.turn is not None:
            return f"rotation '{self.turn.rotation.name}' turn {self.turn.index + 1}"
        return "nobody is on duty"

    def candidates(self) -> list[tuple[str, str]]:
        """(user id, reason) in the order an assigner should try them."""
        found: list[tuple[str, str]] = []
        if self.override is not None:
            found.append((self.override.user_id, self.reason))
        for turn in (self.turn, *self.fallbacks):
            if turn is not None and turn.user_id not in {user for user, _ in found}:
                found.append(
                    (turn.user_id, f"rotation '{turn.rotation.name}' turn {turn.index + 1}")
                )
        return found


def _local_handoff(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of ``at`` on ``day`` in ``tz`` (a time skipped by DST moves forward)."""
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=tz)
    # Round-trip through UTC: a wall time inside a spring-forward gap normalises forward.
    return aware.astimezone(ZoneInfo("UTC"))


def _in_window(rotation: Rotation, local: datetime) -> bool:
    start, end = rotation.window_start, rotation.window_end
    if start is None or end is None:
        return local.isoweekday() in rotation.weekdays
    now = local.time()
    if start < end:
        return local.isoweekday() in rotation.weekdays and start <= now < end
    # Past midnight: the part after midnight belongs to the previous day's shift.
    if now >= start:
        return local.isoweekday() in rotation.weekdays
    if now < end:
        return (local - timedelta(days=1)).isoweekday() in rotation.weekdays
    return False


def turn_at(rotation: Rotation, at: datetime, tz: ZoneInfo) -> Turn | None:
    """The rotation's turn at ``at`` (aware), or None before its start, after its end,
    outside its window or when it has no members."""
    if not rotation.members:
        return None
    local = at.astimezone(tz)
    day = local.date()
    # Compare instants, not wall times: a hand-over inside a skipped hour happens later
    # than its wall time says, and the turn must begin exactly where the last one ended.
    if at < _local_handoff(day, rotation.handoff, tz):
        day -= timedelta(days=1)
    elapsed_days = (day - rotation.start_date).days
    if elapsed_days < 0:
        return None
    if rotation.end_date is not None and day > rotation.end_date:
        return None
    if not _in_window(rotation, local):
        return None
    turns = elapsed_days // rotation.turn_days
    first_day = rotation.start_date + timedelta(days=turns * rotation.turn_days)
    index = turns % len(rotation.members)
    return Turn(
        rotation=rotation,
        user_id=rotation.members[index],
        index=index,
        starts_at=_local_handoff(first_day, rotation.handoff, tz),
        ends_at=_local_handoff(
            first_day + timedelta(days=rotation.turn_days), rotation.handoff, tz
        ),
    )


def on_duty(
    *,
    rotations: Sequence[Rotation],
    overrides: Sequence[Override],
    at: datetime,
    tz: ZoneInfo,
) -> OnDuty:
    """Who is on duty at ``at`` given a role's rotations and the overrides covering ``at``."""
    covering = [o for o in overrides if o.starts_at <= at < o.ends_at]
    override = max(covering, key=lambda o: o.id) if covering else None
    turns = [
        turn
        for rotation in sorted(rotations, key=lambda r: (r.priority, r.id))
        if (turn := turn_at(rotation, at, tz)) is not None
    ]
    primary = turns[0] if turns else None
    if override is not None:
        return OnDuty(
            user_id=override.user_id, override=override, turn=None, fallbacks=tuple(turns)
        )
    return OnDuty(
        user_id=None if primary is None else primary.user_id,
        override=None,
        turn=primary,
        fallbacks=tuple(turns[1:]),
    )
