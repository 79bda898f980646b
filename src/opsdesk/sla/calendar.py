"""Business-hours calendars: when the SLA clock may run, and business-time arithmetic.

A ``BusinessCalendar`` is either *24x7* (always open: business time is real time) or a set
of weekly working spans in local wall-clock time of an IANA time zone, minus holidays:

- ``hours``: ``WorkingSpan(weekday, start, end)`` with Monday = 0. A day may have several
  spans (a lunch break is two spans); spans of one weekday must not overlap. ``end`` may be
  ``END_OF_DAY`` (24:00) so that a span reaches midnight; a span over midnight is written
  as two spans (Mon 22:00-24:00 and Tue 00:00-06:00).
- ``holidays``: local dates on which the calendar is closed all day, with their names
  (import them with ``holidays_for`` or ``holidays_from_ical``). A "24x7 except holidays"
  calendar is seven 00:00-24:00 spans plus holidays.

Meaning of business time:
- A span is open from its local start to its local end on its own date, so a 09:00-18:00
  span opens at 09:00 and closes at 18:00 by the wall clock even on the day the clocks
  change; its length is the real time between those two instants (9 h for 09:00-18:00;
  a 00:00-24:00 span on a DST day is 23 h or 25 h, the time that really passed). A wall
  time that occurs twice (fall back) means its first occurrence; one that does not occur
  (spring forward) is read with the offset before the change (02:30 → 03:30 new time).
- Open intervals are half-open: at 18:00 a 09:00-18:00 span is closed.
- ``business_seconds_between(start, end)`` counts open time in [start, end); 0 if end ≤ start.
- ``add_business_seconds(start, s)`` is the instant at which ``s`` business seconds counted
  from ``start`` are used up: a start outside hours counts from the next opening, and an
  amount that runs out exactly at a closing returns that closing (Friday 17:55 + 5 min is
  Friday 18:00, not Monday 09:00). ``s == 0`` returns ``start``.
  For every start and s ≥ 0: ``business_seconds_between(start, add_business_seconds(start,
  s)) == s``.
- Every datetime in and out is timezone-aware; results are in UTC. Arithmetic is exact to
  the microsecond (seconds are floats only at the edges).

Speed: the calendar keeps, per instance, a lazily grown table of its open intervals (one
row per span per working day) with running totals, so both directions are a binary search
however long the period; nothing iterates over seconds or minutes.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_package
import icalendar

WEEKDAY_NAMES: Final = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)

# 24:00 as a span end; ``datetime.time`` cannot say 24:00, and 00:00 is never a valid end.
END_OF_DAY: Final = time(0, 0)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_US: Final = timedelta(microseconds=1)
_DAY_US: Final = 86_400 * 1_000_000
# The table grows by at least this many days at a time, so a sweep over many incidents
# builds it once.
_GROW_DAYS: Final = 400
# Extra days around a requested instant: local dates differ from UTC dates by < 1 day.
_MARGIN_DAYS: Final = 2


@dataclass(frozen=True)
class WorkingSpan:
    """Open from ``start`` to ``end`` (local wall clock) on every ``weekday`` (Monday = 0)."""

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday: must be 0 (Monday) to 6 (Sunday), got {self.weekday}")
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, time) or value.tzinfo is not None:
                raise ValueError(f"{name}: must be a local time of day without a time zone")
        if self.end_seconds <= self.start_seconds:
            raise ValueError(
                f"end: {self.end:%H:%M} is not after start {self.start:%H:%M} on "
                f"{WEEKDAY_NAMES[self.weekday]} (use two spans to cross midnight)"
            )

    @classmethod
    def parse(cls, weekday: int, start: str, end: str) -> WorkingSpan:
        """``WorkingSpan.parse(0, "09:00", "18:00")``; ``"24:00"`` is accepted as an end."""
        return cls(weekday, _parse_time("start", start), _parse_time("end", end))

    @property
    def start_seconds(self) -> int:
        return _seconds_of_day(self.start)

    @property
    def end_seconds(self) -> int:
        return 86_400 if self.end == END_OF_DAY else _seconds_of_day(self.end)

    def __str__(self) -> str:
        end = "24:00" if self.end == END_OF_DAY else f"{self.end:%H:%M}"
        return f"{WEEKDAY_NAMES[self.weekday]} {self.start:%H:%M}-{end}"


def weekly_hours(
    weekdays: Iterable[int], start: str, end: str, *more: tuple[str, str]
) -> tuple[WorkingSpan, ...]:
    """The same spans on several weekdays: ``weekly_hours(range(5), "09:00", "18:00")``."""
    pairs = [(start, end), *more]
    return tuple(WorkingSpan.parse(day, s, e) for day in weekdays for s, e in pairs)


class _Table:
    """Open intervals (µs since the epoch) of the local days ``first``..``last`` - 1.

    ``totals[i]`` is the business time before interval ``i`` measured from an arbitrary
    origin, ``done[i]`` the same after it; differences are all that matter.
    """

    __slots__ = ("done", "ends", "first", "hi_us", "last", "lo_us", "starts", "totals")

    def __init__(
        self,
        first: int,
        last: int,
        lo_us: int,
        hi_us: int,
        starts: list[int],
        ends: list[int],
        totals: list[int],
    ) -> None:
        self.first = first
        self.last = last
        self.lo_us = lo_us
        self.hi_us = hi_us
        self.starts = starts
        self.ends = ends
        self.totals = totals
        self.done = [t + e - s for t, s, e in zip(totals, starts, ends, strict=True)]


@dataclass(frozen=True)
class BusinessCalendar:
    """A named business-hours calendar; see the module docstring for the arithmetic."""

    key: str
    name: str
    time_zone: str = "UTC"
    hours: tuple[WorkingSpan, ...] = ()
    holidays: Mapping[date, str] = field(default_factory=dict, hash=False)
    always_open: bool = False
    _zone: ZoneInfo = field(init=False, repr=False, compare=False, hash=False)
    _by_weekday: tuple[tuple[tuple[int, int], ...], ...] = field(
        init=False, repr=False, compare=False, hash=False
    )
    # The one mutable part: a cache, replaced whole (never edited) so readers in other
    # threads see an old table or a new one, both correct.
    _cache: list[_Table] = field(
        init=False, repr=False, compare=False, hash=False, default_factory=list
    )

    def __post_init__(self) -> None:
        if not self.key or not self.key.strip():
            raise ValueError("key: must not be empty")
        if not isinstance(self.time_zone, str) or not self.time_zone:
            raise ValueError("time_zone: must be an IANA time zone name such as 'Europe/Paris'")
        try:
            zone = ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"time_zone: unknown IANA time zone {self.time_zone!r} (e.g. 'Europe/Paris')"
            ) from None
        object.__setattr__(self, "_zone", zone)
        hours = tuple(self.hours)
        object.__setattr__(self, "hours", hours)
        for index, span in enumerate(hours):
            if not isinstance(span, WorkingSpan):
                raise ValueError(f"hours[{index}]: must be a WorkingSpan, got {span!r}")
        holidays = dict(self.holidays)
        for day, label in holidays.items():
            if isinstance(day, datetime) or not isinstance(day, date):
                raise ValueError(f"holidays: keys must be dates, got {day!r}")
            if not isinstance(label, str):
                raise ValueError(f"holidays: the name of {day} must be text, got {label!r}")
        object.__setattr__(self, "holidays", MappingProxyType(holidays))
        if self.always_open:
            if hours:
                raise ValueError("hours: a 24x7 calendar has no working spans")
            if holidays:
                raise ValueError(
                    "holidays: a 24x7 calendar is never closed; use seven 00:00-24:00 spans "
                    "with holidays instead"
                )
        elif not hours:
            raise ValueError("hours: a calendar needs at least one working span (or always_open)")
        by_day: list[list[WorkingSpan]] = [[] for _ in range(7)]
        for span in hours:
            by_day[span.weekday].append(span)
        for spans in by_day:
            spans.sort(key=lambda s: s.start_seconds)
            for before, after in itertools.pairwise(spans):
                if after.start_seconds < before.end_seconds:
                    raise ValueError(f"hours: {before} overlaps {after}")
        object.__setattr__(
            self,
            "_by_weekday",
            tuple(tuple((s.start_seconds, s.end_seconds) for s in spans) for spans in by_day),
        )

    @classmethod
    def twenty_four_seven(cls, key: str = "24x7", name: str = "24x7") -> BusinessCalendar:
        """Always open: business seconds are real seconds."""
        return cls(key=key, name=name, always_open=True)

    def with_holidays(self, holidays: Mapping[date, str]) -> BusinessCalendar:
        """A copy with these holidays added (an imported year, say) to the existing ones."""
        merged = {**self.holidays, **holidays}
        return BusinessCalendar(
            key=self.key,
            name=self.name,
            time_zone=self.time_zone,
            hours=self.hours,
            holidays=merged,
            always_open=self.always_open,
        )

    # -- the four questions ----------------------------------------------------------------

    def business_seconds_between(self, start: datetime, end: datetime) -> float:
        """Open time in [start, end), in seconds; 0 when ``end`` is not after ``start``."""
        return self.business_us_between(_to_us("start", start), _to_us("end", end)) / 1e6

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime:
        """The instant at which ``seconds`` of business time counted from ``start`` run out."""
        if seconds < 0:
            raise ValueError(f"seconds: must not be negative, got {seconds}")
        return _from_us(self.add_business_us(_to_us("start", start), round(seconds * 1e6)))

    def is_open(self, at: datetime) -> bool:
        """Whether business time passes at ``at``."""
        t = _to_us("at", at)
        if self.always_open:
            return True
        table = self._table_for(t, t)
        i = bisect.bisect_right(table.starts, t) - 1
        return i >= 0 and t < table.ends[i]

    def next_open(self, at: datetime) -> datetime:
        """``at`` itself when open, otherwise the next opening after it (in UTC)."""
        t = _to_us("at", at)
        if self.always_open:
            return _from_us(t)
        table = self._table_for(t, t)
        i = bisect.bisect_right(table.starts, t) - 1
        if i >= 0 and t < table.ends[i]:
            return _from_us(t)
        while i + 1 >= len(table.starts):
            table = self._table_for(t, table.hi_us + _DAY_US * _GROW_DAYS)
            i = bisect.bisect_right(table.starts, t) - 1  # growing may have shifted indices
        return _from_us(table.starts[i + 1])

    # -- the same in integer microseconds since the epoch, for the clock's inner loop -------

    def business_us_between(self, start_us: int, end_us: int) -> int:
        if end_us <= start_us:
            return 0
        if self.always_open:
            return end_us - start_us
        table = self._table_for(start_us, end_us)
        return _position(table, end_us) - _position(table, start_us)

    def add_business_us(self, start_us: int, amount_us: int) -> int:
        if amount_us <= 0:
            return start_us
        if self.always_open:
            return start_us + amount_us
        table = self._table_for(start_us, start_us)
        target = _position(table, start_us) + amount_us
        while not table.done or target > table.done[-1]:
            # Business time grows by at least one span per week, so this ends; grow by
            # about the amount asked for (as real time, which is never less).
            table = self._table_for(start_us, max(table.hi_us, start_us) + amount_us + _DAY_US)
            target = _position(table, start_us) + amount_us
        i = bisect.bisect_left(table.done, target)
        return table.starts[i] + target - table.totals[i]

    # -- the interval table ----------------------------------------------------------------

    def _table_for(self, lo_us: int, hi_us: int) -> _Table:
        """A table whose local days cover [lo_us, hi_us] (grown and cached as needed)."""
        table = self._cache[0] if self._cache else None
        if table is not None and table.lo_us <= lo_us and hi_us < table.hi_us:
            return table
        lo_day = _utc_ordinal(lo_us) - _MARGIN_DAYS
        hi_day = _utc_ordinal(hi_us) + _MARGIN_DAYS + 1
        if table is None:
            first, last = lo_day - _GROW_DAYS // 4, hi_day + _GROW_DAYS
        else:
            first = table.first if lo_day >= table.first else lo_day - _GROW_DAYS
            last = table.last if hi_day <= table.last else hi_day + _GROW_DAYS
        first = max(first, date.min.toordinal() + 1)
        last = min(last, date.max.toordinal() - 1)
        if not (first <= lo_day and hi_day <= last):
            raise ValueError("the instant is outside the supported range of dates")
        table = self._build(first, last, table)
        self._cache[:] = [table]
        return table

    def _build(self, first: int, last: int, old: _Table | None) -> _Table:
        if old is None:
            starts, ends = self._intervals(first, last)
            return self._assemble(first, last, starts, ends, origin=0)
        before_s, before_e = self._intervals(first, old.first)
        after_s, after_e = self._intervals(old.last, last)
        before_total = sum(e - s for s, e in zip(before_s, before_e, strict=True))
        origin = (old.totals[0] if old.totals else 0) - before_total
        return self._assemble(
            first,
            last,
            before_s + old.starts + after_s,
            before_e + old.ends + after_e,
            origin=origin,
        )

    def _assemble(
        self, first: int, last: int, starts: list[int], ends: list[int], origin: int
    ) -> _Table:
        totals: list[int] = []
        running = origin
        for s, e in zip(starts, ends, strict=True):
            totals.append(running)
            running += e - s
        return _Table(
            first, last, self._midnight_us(first), self._midnight_us(last), starts, ends, totals
        )

    def _intervals(self, first: int, last: int) -> tuple[list[int], list[int]]:
        """Open intervals of local days ``first`` ≤ day < ``last``, in time order."""
        starts: list[int] = []
        ends: list[int] = []
        zone = self._zone
        holidays = self.holidays
        by_weekday = self._by_weekday
        for ordinal in range(first, last):
            day = date.fromordinal(ordinal)
            spans = by_weekday[day.weekday()]
            if not spans or day in holidays:
                continue
            midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
            for start_s, end_s in spans:
                s = _local_us(midnight, start_s, zone)
                e = _local_us(midnight, end_s, zone)
                if starts and s < ends[-1]:
                    # A fall-back hour can fold a span onto the previous one; never count twice.
                    s = ends[-1]
                if e > s:
                    starts.append(s)
                    ends.append(e)
        return starts, ends

    def _midnight_us(self, ordinal: int) -> int:
        day = date.fromordinal(ordinal)
        return _local_us(datetime(day.year, day.month, day.day, tzinfo=self._zone), 0, self._zone)


def _position(table: _Table, t: int) -> int:
    """Business time from the table's origin up to instant ``t``."""
    i = bisect.bisect_right(table.starts, t) - 1
    if i < 0:
        return table.totals[0] if table.totals else 0
    return table.totals[i] + min(t, table.ends[i]) - table.starts[i]


def _local_us(midnight: datetime, seconds: int, zone: ZoneInfo) -> int:
    """The instant of local wall-clock ``seconds`` after midnight of ``midnight``'s date.

    Wall-clock, not elapsed: 18:00 is 18:00 whether the day has 23, 24 or 25 hours. A
    repeated wall time (fall back) is its first occurrence; a skipped one (spring forward)
    is read with the offset in force before the change, so it lands one gap later.
    """
    if seconds == 86_400:
        nxt = midnight.date() + timedelta(days=1)
        local = datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone)
    else:
        local = midnight.replace(
            hour=seconds // 3600, minute=seconds // 60 % 60, second=seconds % 60
        )
    return (local - _EPOCH) // _US


def _seconds_of_day(value: time) -> int:
    return value.hour * 3600 + value.minute * 60 + value.second


def _parse_time(name: str, text: str) -> time:
    if text.strip() == "24:00":
        return END_OF_DAY
    try:
        return time.fromisoformat(text.strip())
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected HH:MM, got {text!r}") from None


def _to_us(name: str, at: datetime) -> int:
    try:
        # A naive datetime cannot be subtracted from an aware one: TypeError.
        return (at - _EPOCH) // _US
    except TypeError:
        raise ValueError(f"{name}: must be a timezone-aware datetime, got {at!r}") from None


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(0, 0, us)  # positional: three times faster than microseconds=


def _utc_ordinal(us: int) -> int:
    return _from_us(us).toordinal()


# -- importers -------------------------------------------------------------------------------


def holidays_for(
    country: str,
    years: int | Iterable[int],
    subdivision: str | None = None,
    language: str | None = None,
) -> dict[date, str]:
    """Public holidays of a country (ISO 3166 code, e.g. "FR") for some years.

    Uses the ``holidays`` package's own tables (no network). Two holidays on one date are
    joined with "; ". Unknown country or subdivision → ValueError naming it.
    """
    wanted = [years] if isinstance(years, int) else list(years)
    for year in wanted:
        if not isinstance(year, int) or not 1 <= year <= 9999:
            raise ValueError(f"years: {year!r} is not a year")
    if not isinstance(country, str) or not country.strip():
        raise ValueError("country: must be an ISO 3166 code such as 'FR'")
    country = country.strip().upper()
    try:
        table = holidays_package.country_holidays(
            country, subdiv=subdivision, years=wanted, language=language
        )
    except NotImplementedError:
        supported = holidays_package.list_supported_countries()
        if subdivision is not None and country in supported:
            raise ValueError(
                f"subdivision: {subdivision!r} is not a subdivision of {country!r}"
            ) from None
        raise ValueError(f"country: no holiday table for {country!r}") from None
    return {day: str(label) for day, label in sorted(table.items())}


def holidays_from_ical(data: bytes) -> dict[date, str]:
    """All-day events of an iCalendar file as holidays, one entry per date.

    A multi-day event (DTEND exclusive, or DURATION) gives each of its dates; events with a
    time of day are not holidays and are skipped; recurrence rules are not expanded (export
    the calendar with one event per occurrence). Not iCalendar → ValueError.
    """
    try:
        parsed = icalendar.Calendar.from_ical(data)
    except (ValueError, UnicodeDecodeError, IndexError, KeyError) as error:
        raise ValueError(f"data: not an iCalendar file ({error})") from None
    if parsed.name != "VCALENDAR":
        raise ValueError(f"data: expected a VCALENDAR, found {parsed.name or 'nothing'}")
    found: dict[date, str] = {}
    for event in parsed.walk("VEVENT"):
        try:
            start = event.decoded("DTSTART")
        except KeyError:
            continue
        if isinstance(start, datetime) or not isinstance(start, date):
            continue
        days = 1
        if "DTEND" in event:
            end = event.decoded("DTEND")
            if isinstance(end, date) and not isinstance(end, datetime):
                days = max(1, (end - start).days)
        elif "DURATION" in event:
            duration = event.decoded("DURATION")
            if isinstance(duration, timedelta):
                days = max(1, duration.days)
        name = str(event.get("SUMMARY", "")).strip() or "Holiday"
        for offset in range(days):
            day = start + timedelta(days=offset)
            found[day] = f"{found[day]}; {name}" if day in found and found[day] != name else name
    return dict(sorted(found.items()))
