"""The SLA clock of one target, computed from the incident's phase history.

Nothing is stored and nothing is counted incrementally: the clock is a pure function of
(creation, phase timeline, target, goal, calendar, pause phases, thresholds, now). A level,
policy or calendar change is therefore recalculated retroactively by calling
``compute_clock`` again with the new goal and calendar over the same timeline: the new goal
applies from creation, pause time is kept, and if the new goal was already exceeded the
breach instant lies in the past.

Targets (the phase names are those of ``opsdesk.incidents.lifecycle.Phase``):

- **response** (time to accept): runs from creation while the incident waits in "new";
  it stops for good the first time the incident enters any other phase that is not a
  pause phase ("in_progress" when accepted, or "resolved"/"completed" when closed
  without acceptance). A rejection ("rejected" is a default pause phase) holds it; a
  resubmission (rejected → new) lets it run on.
- **resolution** (time to resolve): runs from creation in every phase except the pause
  phases; stops on entering "resolved" or "completed". A reopen (→ "in_progress") makes
  it run again, continuing from the elapsed time already used.

For both targets "draft" holds the clock as a pause phase does, and the stop phases win
over a pause phase of the same name.

Measures (business seconds on the calendar; see ``opsdesk.sla.calendar``):

- ``elapsed_s``: business time the clock has run; ``paused_s``: business time spent in
  pause phases (up to ``now``, or up to the stop for a stopped clock).
- ``remaining_s = goal_s - elapsed_s`` (negative once breached); ``percent =
  elapsed_s / goal_s * 100``.
- A threshold of p % is *crossed* at the instant elapsed time reaches p % of the goal
  (reaching it exactly counts). ``breached`` means 100 % was reached; ``breached_at`` is
  that instant, kept after the clock stops. A clock stopped before the goal is *met*.
- ``due_at``: the instant elapsed time reaches the goal if the clock keeps running from
  ``now`` (counted from the next opening when ``now`` is outside hours); the breach
  instant once breached; None while paused or stopped.
- ``next_threshold``: (percent, instant) of the lowest threshold not yet crossed, if the
  clock keeps running; None while paused or stopped. This is what a job scheduler waits for.
- ``stopped_at``: when a stopped clock stopped (accepted, resolved); None otherwise.

For the scheduler: while no phase change happens and the goal and calendar stay the same,
``due_at`` and ``next_threshold`` do not depend on ``now``. So store them and sweep with an
indexed query (``next_at <= now``); call ``compute_clock`` again only when an incident
changes, its policy or calendar changes, or a stored instant falls due.

History rows dated after ``now`` (clock skew between machines) are ignored.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final, NamedTuple

from opsdesk.sla.calendar import BusinessCalendar

DEFAULT_THRESHOLDS: Final = (50.0, 75.0, 100.0)
DRAFT: Final = "draft"
NEW: Final = "new"
STOP_PHASES: Final = frozenset({"resolved", "completed"})

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_US: Final = timedelta(microseconds=1)


class Target(StrEnum):
    RESPONSE = "response"
    RESOLUTION = "resolution"


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


@dataclass(frozen=True)
class PhaseChange:
    """From ``at`` on, the incident is in ``phase`` (the first change is the creation)."""

    at: datetime
    phase: str


_TARGETS: Final[dict[str, Target]] = {t.value: t for t in Target}
_RUNNING: Final = ClockState.RUNNING
_PAUSED: Final = ClockState.PAUSED
_STOPPED: Final = ClockState.STOPPED
_RESPONSE: Final = Target.RESPONSE


class Crossing(NamedTuple):
    percent: float
    at: datetime


@dataclass(frozen=True)
class SlaClock:
    """One target's clock at ``now``; the module docstring defines every field."""

    target: Target
    goal_s: float
    state: ClockState
    elapsed_s: float
    paused_s: float
    remaining_s: float
    percent: float
    due_at: datetime | None
    breached: bool
    breached_at: datetime | None
    crossed: tuple[Crossing, ...]
    next_threshold: Crossing | None
    stopped_at: datetime | None
    now: datetime

    @property
    def met(self) -> bool:
        """Stopped within the goal."""
        return self.state is ClockState.STOPPED and not self.breached


def compute_clock(
    *,
    created_at: datetime,
    timeline: Sequence[PhaseChange],
    target: Target | str,
    goal_s: float,
    calendar: BusinessCalendar,
    pause_phases: Collection[str],
    thresholds: Iterable[float] = DEFAULT_THRESHOLDS,
    now: datetime,
) -> SlaClock:
    """The clock of ``target`` at ``now``; raises ValueError naming a bad argument."""
    target = _target(target)
    if not goal_s > 0:
        raise ValueError(f"goal_s: must be a positive number of seconds, got {goal_s}")
    percents = _percents(thresholds)
    created_us = _to_us("created_at", created_at)
    now_us = _to_us("now", now)
    if now_us < created_us:
        raise ValueError("now: is before created_at")
    changes = _changes(created_us, timeline, now_us)
    goal_us = round(goal_s * 1e6)
    if goal_us < 1:
        raise ValueError(f"goal_s: must be at least one microsecond, got {goal_s}")
    holds = pause_phases if isinstance(pause_phases, frozenset) else frozenset(pause_phases)

    elapsed = 0
    paused = 0
    state = _RUNNING
    stopped_at: int | None = None
    marks = sorted({*percents, 100.0})
    needs = [max(1, round(goal_us * p / 100)) for p in marks]
    reached: dict[float, int] = {}
    between = calendar.business_us_between
    add = calendar.add_business_us
    last = len(changes) - 1
    for index, (start, phase) in enumerate(changes):
        end = changes[index + 1][0] if index < last else now_us
        state = _state_in(target, phase, holds)
        if state is _STOPPED:
            if stopped_at is None:  # resolved, then completed: stopped since resolved
                stopped_at = start
            if target is _RESPONSE:
                break
            continue
        stopped_at = None
        if end <= start:
            continue
        used = between(start, end)
        if state is _PAUSED:
            paused += used
            continue
        for mark, need in zip(marks, needs, strict=True):
            if elapsed < need <= elapsed + used:
                reached[mark] = add(start, need - elapsed)
        elapsed += used

    crossed = tuple(Crossing(p, _from_us(reached[p])) for p in percents if p in reached)
    breached_us = reached.get(100.0)
    due_at: datetime | None = None
    next_threshold: Crossing | None = None
    if state is _RUNNING:
        if breached_us is not None:
            due_at = _from_us(breached_us)
        else:
            due_at = _from_us(add(now_us, goal_us - elapsed))
        for percent, need in zip(marks, needs, strict=True):
            if percent in percents and percent not in reached:
                next_threshold = Crossing(percent, _from_us(add(now_us, need - elapsed)))
                break
    return SlaClock(
        target=target,
        goal_s=goal_us / 1e6,
        state=state,
        elapsed_s=elapsed / 1e6,
        paused_s=paused / 1e6,
        remaining_s=(goal_us - elapsed) / 1e6,
        percent=elapsed / goal_us * 100,
        due_at=due_at,
        breached=breached_us is not None,
        breached_at=None if breached_us is None else _from_us(breached_us),
        crossed=crossed,
        next_threshold=next_threshold,
        stopped_at=None if stopped_at is None else _from_us(stopped_at),
        now=_from_us(now_us),
    )


def _state_in(target: Target, phase: str, holds: frozenset[str]) -> ClockState:
    if phase in STOP_PHASES:
        return _STOPPED
    if phase in holds or phase == DRAFT:
        return _PAUSED
    if target is _RESPONSE and phase != NEW:
        return _STOPPED
    return _RUNNING


def _target(value: Target | str) -> Target:
    found = _TARGETS.get(value)
    if found is None:
        names = ", ".join(t.value for t in Target)
        raise ValueError(f"target: must be one of {names}, got {value!r}")
    return found


def _percents(thresholds: Iterable[float]) -> tuple[float, ...]:
    if isinstance(thresholds, tuple):
        return _cached_percents(thresholds)
    return _cached_percents(tuple(thresholds))


@functools.lru_cache(maxsize=256)
def _cached_percents(thresholds: tuple[float, ...]) -> tuple[float, ...]:
    values = tuple(float(p) for p in thresholds)
    for p in values:
        if not p > 0:
            raise ValueError(f"thresholds: percents must be positive, got {p}")
    return tuple(sorted(set(values)))


def _changes(
    created_us: int, timeline: Sequence[PhaseChange], now_us: int
) -> list[tuple[int, str]]:
    if not timeline:
        raise ValueError("timeline: must hold at least the creation")
    changes: list[tuple[int, str]] = []
    previous = created_us
    for index, change in enumerate(timeline):
        try:
            at = (change.at - _EPOCH) // _US
        except TypeError:
            raise ValueError(f"timeline[{index}].at: must be a timezone-aware datetime") from None
        if index == 0 and at != created_us:
            raise ValueError("timeline[0].at: the first change is the creation, at created_at")
        if at < previous:
            raise ValueError(f"timeline[{index}].at: changes must be in time order")
        previous = at
        if at > now_us:
            break
        changes.append((at, change.phase))
    return changes


def _to_us(name: str, at: datetime) -> int:
    try:
        # A naive datetime cannot be subtracted from an aware one: TypeError.
        return (at - _EPOCH) // _US
    except TypeError:
        raise ValueError(f"{name}: must be a timezone-aware datetime, got {at!r}") from None


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(0, 0, us)  # positional: three times faster than microseconds=
