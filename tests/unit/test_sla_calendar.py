"""Business-hours calendars: gaps, holidays, DST, 24x7, validation, importers, properties."""

from __future__ import annotations

import time as wallclock
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsdesk.sla.calendar import (
    END_OF_DAY,
    BusinessCalendar,
    WorkingSpan,
    holidays_for,
    holidays_from_ical,
    weekly_hours,
)

H = 3600


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def office(time_zone: str = "UTC", holidays: dict[date, str] | None = None) -> BusinessCalendar:
    """Mon-Fri 09:00-18:00; 2026-03-06 is a Friday, 2026-03-09 the Monday after."""
    return BusinessCalendar(
        key="office",
        name="Office",
        time_zone=time_zone,
        hours=weekly_hours(range(5), "09:00", "18:00"),
        holidays=holidays or {},
    )


def test_friday_1755_plus_one_hour_is_monday_0955() -> None:
    cal = office()
    start = utc(2026, 3, 6, 17, 55)
    assert cal.add_business_seconds(start, H) == utc(2026, 3, 9, 9, 55)
    assert cal.add_business_seconds(start, 0.5 * H) == utc(2026, 3, 9, 9, 25)
    assert cal.add_business_seconds(start, 0.75 * H) == utc(2026, 3, 9, 9, 40)
    assert cal.business_seconds_between(start, utc(2026, 3, 9, 9, 55)) == H


def test_time_running_out_at_closing_is_the_closing_not_the_next_opening() -> None:
    cal = office()
    assert cal.add_business_seconds(utc(2026, 3, 6, 17, 55), 300) == utc(2026, 3, 6, 18, 0)


def test_overnight_gap() -> None:
    cal = office()
    assert cal.add_business_seconds(utc(2026, 3, 3, 17, 30), H) == utc(2026, 3, 4, 9, 30)
    assert cal.business_seconds_between(utc(2026, 3, 3, 17, 0), utc(2026, 3, 4, 10, 0)) == 2 * H


def test_weekend_gap() -> None:
    cal = office()
    assert cal.business_seconds_between(utc(2026, 3, 6, 12), utc(2026, 3, 9, 12)) == 9 * H
    assert cal.business_seconds_between(utc(2026, 3, 7, 0), utc(2026, 3, 9, 0)) == 0


def test_a_start_outside_hours_counts_from_the_next_opening() -> None:
    cal = office()
    assert cal.add_business_seconds(utc(2026, 3, 7, 10), H) == utc(2026, 3, 9, 10)
    assert cal.add_business_seconds(utc(2026, 3, 9, 6), H) == utc(2026, 3, 9, 10)


def test_zero_seconds_is_the_start_itself_even_outside_hours() -> None:
    cal = office()
    assert cal.add_business_seconds(utc(2026, 3, 7, 10), 0) == utc(2026, 3, 7, 10)


def test_a_holiday_is_closed_all_day() -> None:
    cal = office(holidays={date(2026, 3, 9): "Founders' day"})
    start = utc(2026, 3, 6, 17, 55)
    assert cal.add_business_seconds(start, H) == utc(2026, 3, 10, 9, 55)
    assert cal.business_seconds_between(utc(2026, 3, 9, 0), utc(2026, 3, 10, 0)) == 0
    assert not cal.is_open(utc(2026, 3, 9, 12))
    assert cal.next_open(utc(2026, 3, 9, 12)) == utc(2026, 3, 10, 9)


def test_imported_public_holiday_closes_the_day() -> None:
    # 2026-05-01 (Labour Day in France) is a Friday.
    cal = office("Europe/Paris", holidays=holidays_for("FR", 2026))
    thursday_5pm = datetime(2026, 4, 30, 17, tzinfo=ZoneInfo("Europe/Paris"))
    due = cal.add_business_seconds(thursday_5pm, 2 * H)
    assert due == datetime(2026, 5, 4, 10, tzinfo=ZoneInfo("Europe/Paris"))


def test_several_spans_a_day_lunch_break() -> None:
    cal = BusinessCalendar(
        key="lunch",
        name="With lunch",
        hours=weekly_hours(range(5), "09:00", "12:00", ("13:00", "18:00")),
    )
    assert cal.add_business_seconds(utc(2026, 3, 9, 11, 30), H) == utc(2026, 3, 9, 13, 30)
    assert cal.business_seconds_between(utc(2026, 3, 9), utc(2026, 3, 10)) == 8 * H
    assert not cal.is_open(utc(2026, 3, 9, 12, 30))
    assert cal.next_open(utc(2026, 3, 9, 12, 30)) == utc(2026, 3, 9, 13)


def test_open_intervals_are_half_open() -> None:
    cal = office()
    assert cal.is_open(utc(2026, 3, 9, 9))
    assert cal.is_open(utc(2026, 3, 9, 17, 59, 59))
    assert not cal.is_open(utc(2026, 3, 9, 18))
    assert not cal.is_open(utc(2026, 3, 9, 8, 59, 59))
    assert cal.next_open(utc(2026, 3, 9, 10)) == utc(2026, 3, 9, 10)
    assert cal.next_open(utc(2026, 3, 6, 18)) == utc(2026, 3, 9, 9)


def test_local_hours_in_the_calendars_time_zone() -> None:
    cal = office("Asia/Kolkata")  # UTC+05:30, no DST
    assert cal.is_open(utc(2026, 3, 9, 3, 30))  # 09:00 IST
    assert not cal.is_open(utc(2026, 3, 9, 12, 30))  # 18:00 IST
    assert cal.next_open(utc(2026, 3, 9, 0)) == utc(2026, 3, 9, 3, 30)


def test_daylight_saving_spring_forward_keeps_wall_clock_hours() -> None:
    # America/New_York: 2026-03-08 (Sunday) 02:00 EST -> 03:00 EDT.
    cal = office("America/New_York")
    friday_5pm = utc(2026, 3, 6, 22)  # 17:00 EST
    assert cal.add_business_seconds(friday_5pm, 2 * H) == utc(2026, 3, 9, 14)  # 10:00 EDT
    monday = cal.business_seconds_between(utc(2026, 3, 9, 0), utc(2026, 3, 10, 0))
    assert monday == 9 * H
    assert cal.next_open(utc(2026, 3, 9, 12)) == utc(2026, 3, 9, 13)  # 09:00 EDT


def test_a_working_day_on_the_dst_day_is_nine_hours_and_full_days_are_real_time() -> None:
    paris = ZoneInfo("Europe/Paris")
    every_day = BusinessCalendar(
        key="7d",
        name="7 days",
        time_zone="Europe/Paris",
        hours=weekly_hours(range(7), "09:00", "18:00"),
    )
    # 2026-03-29: 02:00 CET -> 03:00 CEST; 2026-10-25: 03:00 CEST -> 02:00 CET.
    for day in (date(2026, 3, 29), date(2026, 10, 25)):
        start = datetime.combine(day, time(0), paris)
        assert every_day.business_seconds_between(start, start + timedelta(days=1)) == 9 * H
        assert every_day.next_open(start) == datetime.combine(day, time(9), paris)
    round_clock = BusinessCalendar(
        key="local-24",
        name="Local 24h",
        time_zone="Europe/Paris",
        hours=weekly_hours(range(7), "00:00", "24:00"),
    )
    spring = datetime.combine(date(2026, 3, 29), time(0), paris)
    autumn = datetime.combine(date(2026, 10, 25), time(0), paris)
    assert round_clock.business_seconds_between(spring, spring + timedelta(days=1)) == 23 * H
    assert round_clock.business_seconds_between(autumn, autumn + timedelta(days=1)) == 25 * H


def test_a_span_starting_in_the_skipped_hour_opens_one_gap_later() -> None:
    cal = BusinessCalendar(
        key="night",
        name="Night",
        time_zone="Europe/Paris",
        hours=(WorkingSpan.parse(6, "02:30", "04:00"),),
    )
    sunday = datetime(2026, 3, 29, tzinfo=ZoneInfo("Europe/Paris"))
    # 02:30 does not exist that night; read with the old offset it is 03:30 CEST.
    assert cal.next_open(sunday) == utc(2026, 3, 29, 1, 30)
    assert cal.business_seconds_between(sunday, sunday + timedelta(days=1)) == 0.5 * H


def test_twenty_four_seven_is_real_time() -> None:
    cal = BusinessCalendar.twenty_four_seven()
    start = utc(2026, 3, 6, 17, 55)
    assert cal.add_business_seconds(start, H) == utc(2026, 3, 6, 18, 55)
    assert cal.business_seconds_between(start, start + timedelta(days=3)) == 72 * H
    assert cal.is_open(utc(2026, 3, 8, 3))
    assert cal.next_open(utc(2026, 3, 8, 3)) == utc(2026, 3, 8, 3)
    # Real time, even across a DST change in some zone.
    paris = datetime(2026, 3, 29, tzinfo=ZoneInfo("Europe/Paris"))
    assert cal.business_seconds_between(paris, paris + timedelta(days=1)) == 23 * H


def test_outputs_are_utc_and_inputs_may_be_any_aware_zone() -> None:
    cal = office()
    start = datetime(2026, 3, 9, 10, tzinfo=ZoneInfo("Asia/Tokyo"))  # 01:00 UTC
    result = cal.add_business_seconds(start, H)
    assert result == utc(2026, 3, 9, 10)
    assert result.tzinfo is UTC


def test_end_before_start_is_zero() -> None:
    cal = office()
    assert cal.business_seconds_between(utc(2026, 3, 9, 12), utc(2026, 3, 9, 10)) == 0


def test_year_long_spans_are_fast_and_exact() -> None:
    cal = office()
    started = wallclock.perf_counter()
    year = cal.business_seconds_between(utc(2026, 1, 1), utc(2027, 1, 1))
    ten_years = cal.business_seconds_between(utc(2020, 1, 1), utc(2030, 1, 1))
    for _ in range(1000):
        cal.business_seconds_between(utc(2026, 1, 1), utc(2027, 1, 1))
    elapsed = wallclock.perf_counter() - started
    assert year == 261 * 9 * H  # 2026 has 261 weekdays
    assert ten_years == 2609 * 9 * H
    assert cal.add_business_seconds(utc(2026, 1, 1), year) == utc(2026, 12, 31, 18)
    assert elapsed < 2.0


def test_the_cache_grows_backwards_and_forwards_consistently() -> None:
    cal = office()
    fresh = office()
    # Ask about 2026 first, then 1990 and 2090; a fresh calendar asked in one go agrees.
    cal.business_seconds_between(utc(2026, 3, 2), utc(2026, 3, 3))
    far = cal.business_seconds_between(utc(1990, 1, 1), utc(2090, 1, 1))
    assert far == fresh.business_seconds_between(utc(1990, 1, 1), utc(2090, 1, 1))
    assert cal.add_business_seconds(utc(1990, 1, 1), far) == utc(2089, 12, 30, 18)  # a Friday


def test_a_long_run_of_holidays_is_skipped() -> None:
    mondays = {date(2026, 1, 5) + timedelta(weeks=w): "closed" for w in range(104)}
    cal = BusinessCalendar(
        key="mondays",
        name="Mondays",
        hours=(WorkingSpan.parse(0, "09:00", "10:00"),),
        holidays=mondays,
    )
    first_open = utc(2028, 1, 3, 9)  # the first Monday after two years of holidays
    assert cal.next_open(utc(2026, 1, 1)) == first_open
    assert cal.add_business_seconds(utc(2026, 1, 1), 1800) == utc(2028, 1, 3, 9, 30)
    assert cal.business_seconds_between(utc(2026, 1, 1), first_open) == 0


def test_24x7_still_refuses_naive_datetimes() -> None:
    cal = BusinessCalendar.twenty_four_seven()
    with pytest.raises(ValueError, match="at: must be a timezone-aware"):
        cal.next_open(datetime(2026, 3, 9))
    with pytest.raises(ValueError, match="at: must be a timezone-aware"):
        cal.is_open(datetime(2026, 3, 9))


def test_calendars_are_values() -> None:
    assert office() == office()
    assert hash(office()) == hash(office())
    assert office() != office("Europe/Paris")
    cal = office(holidays={date(2026, 1, 1): "New Year"})
    with pytest.raises(TypeError):
        cal.holidays[date(2026, 1, 2)] = "x"  # type: ignore[index]
    more = cal.with_holidays({date(2026, 12, 25): "Christmas"})
    assert set(more.holidays) == {date(2026, 1, 1), date(2026, 12, 25)}
    assert set(cal.holidays) == {date(2026, 1, 1)}


def test_end_of_day_and_span_text() -> None:
    span = WorkingSpan.parse(0, "22:00", "24:00")
    assert span.end == END_OF_DAY
    assert span.end_seconds == 86_400
    assert str(span) == "Monday 22:00-24:00"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"time_zone": ""}, "time_zone"),
        ({"key": " "}, "key"),
        ({"hours": ()}, "hours"),
        ({"hours": ("09:00-18:00",)}, "hours"),
        (
            {
                "hours": (
                    WorkingSpan.parse(0, "09:00", "12:00"),
                    WorkingSpan.parse(0, "11:00", "14:00"),
                )
            },
            "hours: Monday 09:00-12:00 overlaps Monday 11:00-14:00",
        ),
        ({"holidays": {"2026-01-01": "New Year"}}, "holidays"),
        ({"holidays": {datetime(2026, 1, 1): "New Year"}}, "holidays"),
        ({"always_open": True}, "hours: a 24x7 calendar"),
    ],
)
def test_invalid_calendars_name_the_field(kwargs: dict[str, object], field: str) -> None:
    arguments: dict[str, object] = {
        "key": "k",
        "name": "n",
        "hours": weekly_hours(range(5), "09:00", "18:00"),
        **kwargs,
    }
    with pytest.raises(ValueError, match=field):
        BusinessCalendar(**arguments)  # type: ignore[arg-type]


def test_a_24x7_calendar_takes_no_holidays() -> None:
    with pytest.raises(ValueError, match="holidays"):
        BusinessCalendar(key="k", name="n", always_open=True, holidays={date(2026, 1, 1): "x"})


@pytest.mark.parametrize(
    ("weekday", "start", "end", "field"),
    [
        (0, "18:00", "09:00", "end"),
        (0, "09:00", "09:00", "end"),
        (7, "09:00", "18:00", "weekday"),
        (-1, "09:00", "18:00", "weekday"),
        (0, "25:00", "26:00", "start"),
        (0, "09:00", "nine", "end"),
    ],
)
def test_invalid_spans_name_the_field(weekday: int, start: str, end: str, field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}"):
        WorkingSpan.parse(weekday, start, end)


def test_naive_datetimes_and_negative_amounts_are_refused() -> None:
    cal = office()
    with pytest.raises(ValueError, match="start: must be a timezone-aware"):
        cal.business_seconds_between(datetime(2026, 3, 9), utc(2026, 3, 10))
    with pytest.raises(ValueError, match="at: must be a timezone-aware"):
        cal.is_open(datetime(2026, 3, 9))
    with pytest.raises(ValueError, match="seconds: must not be negative"):
        cal.add_business_seconds(utc(2026, 3, 9), -1)


# -- importers ---------------------------------------------------------------------------------


def test_holidays_for_a_country_and_a_subdivision() -> None:
    france = holidays_for("fr", [2026, 2027])
    assert france[date(2026, 7, 14)]
    assert date(2027, 5, 1) in france
    bavaria = holidays_for("DE", 2026, subdivision="BY")
    germany = holidays_for("DE", 2026)
    assert date(2026, 1, 6) in bavaria  # Epiphany: Bavaria only
    assert date(2026, 1, 6) not in germany
    assert list(bavaria) == sorted(bavaria)


def test_holidays_for_unknown_country_or_subdivision_names_it() -> None:
    with pytest.raises(ValueError, match=r"country: .*'XX'"):
        holidays_for("XX", 2026)
    with pytest.raises(ValueError, match=r"subdivision: 'ZZ'"):
        holidays_for("DE", 2026, subdivision="ZZ")
    with pytest.raises(ValueError, match="years"):
        holidays_for("FR", [0])


ICS = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//opsdesk tests//EN
BEGIN:VEVENT
UID:1
DTSTART;VALUE=DATE:20261225
DTEND;VALUE=DATE:20261227
SUMMARY:Christmas break
END:VEVENT
BEGIN:VEVENT
UID:2
DTSTART;VALUE=DATE:20260101
SUMMARY:New Year
END:VEVENT
BEGIN:VEVENT
UID:3
DTSTART;VALUE=DATE:20260814
DURATION:P3D
END:VEVENT
BEGIN:VEVENT
UID:4
DTSTART:20260310T100000Z
DTEND:20260310T110000Z
SUMMARY:A meeting is not a holiday
END:VEVENT
END:VCALENDAR
"""


def test_holidays_from_ical_expands_all_day_events() -> None:
    found = holidays_from_ical(ICS)
    assert found == {
        date(2026, 1, 1): "New Year",
        date(2026, 8, 14): "Holiday",
        date(2026, 8, 15): "Holiday",
        date(2026, 8, 16): "Holiday",
        date(2026, 12, 25): "Christmas break",
        date(2026, 12, 26): "Christmas break",
    }


def test_holidays_from_ical_joins_two_names_on_one_date() -> None:
    data = ICS.replace(b"DTSTART;VALUE=DATE:20260101", b"DTSTART;VALUE=DATE:20261225")
    assert holidays_from_ical(data)[date(2026, 12, 25)] == "Christmas break; New Year"


@pytest.mark.parametrize(
    "data",
    [b"", b"hello", b"\xff\xfe\x00garbage", b"BEGIN:VEVENT\nEND:VEVENT\n", b"BEGIN:VCALENDAR\n"],
)
def test_holidays_from_ical_refuses_garbage(data: bytes) -> None:
    with pytest.raises(ValueError, match=r"^data: "):
        holidays_from_ical(data)


def test_holidays_from_an_empty_calendar_are_none() -> None:
    assert holidays_from_ical(b"BEGIN:VCALENDAR\nVERSION:2.0\nEND:VCALENDAR\n") == {}


# -- properties against a reference written straight from the definition ----------------------

ZONES = ("UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata")
LO = datetime(2025, 1, 1, tzinfo=UTC)
HI = datetime(2027, 12, 31, tzinfo=UTC)


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    spans: list[WorkingSpan] = []
    for weekday in range(7):
        cuts = sorted(draw(st.sets(st.integers(0, 96), max_size=4)))
        for begin, end in zip(cuts[::2], cuts[1::2], strict=False):
            spans.append(
                WorkingSpan(
                    weekday,
                    time(begin // 4, begin % 4 * 15),
                    END_OF_DAY if end == 96 else time(end // 4, end % 4 * 15),
                )
            )
    if not spans:
        spans.append(WorkingSpan.parse(draw(st.integers(0, 6)), "09:00", "17:00"))
    days = draw(st.sets(st.dates(date(2025, 1, 1), date(2027, 12, 31)), max_size=30))
    return BusinessCalendar(
        key="random",
        name="Random",
        time_zone=draw(st.sampled_from(ZONES)),
        hours=tuple(spans),
        holidays=dict.fromkeys(days, "holiday"),
    )


instants = st.datetimes(
    min_value=LO.replace(tzinfo=None), max_value=HI.replace(tzinfo=None), timezones=st.just(UTC)
)


def reference_between(cal: BusinessCalendar, start: datetime, end: datetime) -> float:
    """Day by day, span by span, straight from the module docstring."""
    zone = ZoneInfo(cal.time_zone)
    total = timedelta()
    day = start.astimezone(zone).date() - timedelta(days=1)
    while day <= end.astimezone(zone).date():
        if day not in cal.holidays:
            for span in cal.hours:
                if span.weekday != day.weekday():
                    continue
                # In UTC: arithmetic between two datetimes of one zone ignores DST.
                opens = datetime.combine(day, span.start, zone).astimezone(UTC)
                closes = (
                    datetime.combine(day + timedelta(days=1), time(0), zone)
                    if span.end == END_OF_DAY
                    else datetime.combine(day, span.end, zone)
                ).astimezone(UTC)
                lo, hi = max(opens, start), min(closes, end)
                if hi > lo:
                    total += hi - lo
        day += timedelta(days=1)
    return total / timedelta(seconds=1)


@settings(max_examples=200, deadline=None)
@given(cal=calendars(), a=instants, b=instants)
def test_between_matches_the_reference(cal: BusinessCalendar, a: datetime, b: datetime) -> None:
    start, end = min(a, b), max(a, b)
    if end - start > timedelta(days=60):
        end = start + timedelta(days=60)
    assert cal.business_seconds_between(start, end) == pytest.approx(
        reference_between(cal, start, end), abs=1e-6
    )


@settings(max_examples=200, deadline=None)
@given(
    cal=calendars(),
    start=instants,
    seconds=st.integers(0, 400 * H).map(lambda s: s / 4) | st.floats(0, 100 * H),
)
def test_add_and_between_are_inverse(
    cal: BusinessCalendar, start: datetime, seconds: float
) -> None:
    end = cal.add_business_seconds(start, seconds)
    assert end >= start
    assert cal.business_seconds_between(start, end) == pytest.approx(seconds, abs=1e-6)
    if seconds >= 1e-6:
        # Used up exactly at ``end``: a moment earlier some was still left.
        before = end - timedelta(microseconds=1)
        assert cal.business_seconds_between(start, before) < seconds
        assert cal.is_open(before)


@settings(max_examples=200, deadline=None)
@given(cal=calendars(), a=instants, b=instants, c=instants)
def test_between_is_additive(cal: BusinessCalendar, a: datetime, b: datetime, c: datetime) -> None:
    x, y, z = sorted((a, b, c))
    whole = cal.business_seconds_between(x, z)
    assert whole == pytest.approx(
        cal.business_seconds_between(x, y) + cal.business_seconds_between(y, z), abs=1e-6
    )


@settings(max_examples=200, deadline=None)
@given(cal=calendars(), at=instants)
def test_next_open_is_open_and_nothing_is_open_before_it(
    cal: BusinessCalendar, at: datetime
) -> None:
    opening = cal.next_open(at)
    assert opening >= at
    assert cal.is_open(opening)
    assert cal.business_seconds_between(at, opening) == 0
    assert cal.is_open(at) == (opening == at)
