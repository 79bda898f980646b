"""Shift rotations: turns across week boundaries, overrides, windows and daylight saving."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsdesk.assignment.rotation import (
    BadTimeZone,
    Override,
    Rotation,
    on_duty,
    turn_at,
    zone,
)

BERLIN = ZoneInfo("Europe/Berlin")
PEOPLE = ("ann", "bob", "cat", "dan")


def weekly(**changes: object) -> Rotation:
    values: dict[str, object] = {
        "id": 1,
        "name": "weekly",
        "members": PEOPLE,
        "start_date": date(2026, 1, 5),  # a Monday
        "handoff": time(9, 0),
        "turn_days": 7,
    }
    values.update(changes)
    return Rotation(**values)  # type: ignore[arg-type]


def at(text: str, tz: ZoneInfo = BERLIN) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def who(rotation: Rotation, moment: datetime, tz: ZoneInfo = BERLIN) -> str | None:
    turn = turn_at(rotation, moment, tz)
    return None if turn is None else turn.user_id


def test_weekly_turn_changes_at_the_monday_handoff_not_at_midnight() -> None:
    rotation = weekly()
    assert who(rotation, at("2026-01-05T09:00")) == "ann"
    assert who(rotation, at("2026-01-11T23:59")) == "ann"  # Sunday night: still week one
    assert who(rotation, at("2026-01-12T00:30")) == "ann"  # Monday before the hand-over
    assert who(rotation, at("2026-01-12T08:59")) == "ann"
    assert who(rotation, at("2026-01-12T09:00")) == "bob"
    assert who(rotation, at("2026-01-26T09:00")) == "dan"
    assert who(rotation, at("2026-02-02T09:00")) == "ann"  # wraps around


def test_nobody_before_the_start_or_after_the_end() -> None:
    rotation = weekly(end_date=date(2026, 1, 18))
    assert who(rotation, at("2026-01-05T08:59")) is None
    assert who(rotation, at("2026-01-19T08:59")) == "bob"  # the turn begun on the 12th
    assert who(rotation, at("2026-01-19T09:00")) is None


def test_daily_turns() -> None:
    rotation = weekly(turn_days=1, handoff=time(0, 0))
    assert [who(rotation, at(f"2026-01-{day:02d}T12:00")) for day in range(5, 10)] == [
        "ann",
        "bob",
        "cat",
        "dan",
        "ann",
    ]


def test_a_turn_over_the_spring_change_keeps_its_wall_clock_handoff() -> None:
    # Berlin moves from +01:00 to +02:00 on Sunday 29 March 2026 at 02:00.
    rotation = weekly(start_date=date(2026, 3, 23))
    turn = turn_at(rotation, at("2026-03-28T12:00"), BERLIN)
    assert turn is not None
    assert turn.user_id == "ann"
    assert turn.starts_at == datetime(2026, 3, 23, 8, 0, tzinfo=UTC)  # 09:00 +01:00
    assert turn.ends_at == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)  # 09:00 +02:00
    assert turn.ends_at - turn.starts_at == timedelta(hours=167)
    assert who(rotation, at("2026-03-30T08:59")) == "ann"
    assert who(rotation, at("2026-03-30T09:00")) == "bob"


def test_a_daily_turn_over_the_autumn_change_lasts_25_hours() -> None:
    # Berlin moves back from +02:00 to +01:00 on Sunday 25 October 2026 at 03:00.
    rotation = weekly(turn_days=1, start_date=date(2026, 10, 20))
    turn = turn_at(rotation, at("2026-10-25T08:00"), BERLIN)
    assert turn is not None
    assert turn.ends_at - turn.starts_at == timedelta(hours=25)
    # Just before and after the repeated hour the same person is on duty.
    assert who(rotation, datetime(2026, 10, 25, 0, 30, tzinfo=UTC)) == turn.user_id
    assert who(rotation, datetime(2026, 10, 25, 1, 30, tzinfo=UTC)) == turn.user_id


def test_a_handoff_inside_the_skipped_hour_moves_forward() -> None:
    rotation = weekly(turn_days=1, handoff=time(2, 30), start_date=date(2026, 3, 28))
    turn = turn_at(rotation, at("2026-03-29T12:00"), BERLIN)
    assert turn is not None
    assert turn.starts_at == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 +02:00
    # Between 03:00 and 03:30 the wall clock is past 02:30, but the hand-over is not yet.
    before = turn_at(rotation, datetime(2026, 3, 29, 1, 10, tzinfo=UTC), BERLIN)
    assert before is not None
    assert before.index == turn.index - 1
    assert before.ends_at == turn.starts_at


def test_the_same_rotation_in_another_zone_hands_over_at_its_local_time() -> None:
    rotation = weekly()
    tokyo = ZoneInfo("Asia/Tokyo")
    moment = datetime(2026, 1, 12, 0, 30, tzinfo=UTC)  # 09:30 Tokyo, 01:30 Berlin
    assert who(rotation, moment, tokyo) == "bob"
    assert who(rotation, moment, BERLIN) == "ann"


def test_working_hours_window_and_weekdays() -> None:
    rotation = weekly(
        turn_days=1,
        handoff=time(0, 0),
        weekdays=(1, 2, 3, 4, 5),
        window_start=time(9, 0),
        window_end=time(17, 0),
    )
    assert who(rotation, at("2026-01-05T08:59")) is None
    assert who(rotation, at("2026-01-05T09:00")) == "ann"
    assert who(rotation, at("2026-01-05T16:59")) == "ann"
    assert who(rotation, at("2026-01-05T17:00")) is None
    assert who(rotation, at("2026-01-10T12:00")) is None  # Saturday


def test_a_night_window_belongs_to_the_day_it_starts() -> None:
    rotation = weekly(
        turn_days=1,
        handoff=time(0, 0),
        weekdays=(5,),  # Friday nights only
        window_start=time(22, 0),
        window_end=time(6, 0),
    )
    assert who(rotation, at("2026-01-09T23:00")) is not None  # Friday 23:00
    assert who(rotation, at("2026-01-10T05:00")) is not None  # Saturday 05:00, Friday's night
    assert who(rotation, at("2026-01-10T23:00")) is None  # Saturday night
    assert who(rotation, at("2026-01-09T05:00")) is None  # Thursday's night


def test_an_override_wins_and_the_newest_of_overlapping_ones_wins() -> None:
    rotation = weekly()
    swap = Override(
        id=1, user_id="zed", starts_at=at("2026-01-06T00:00"), ends_at=at("2026-01-07T00:00")
    )
    newer = Override(
        id=2,
        user_id="yan",
        starts_at=at("2026-01-06T12:00"),
        ends_at=at("2026-01-06T13:00"),
        reason="doctor",
    )

    def duty(text: str) -> str | None:
        return on_duty(
            rotations=[rotation], overrides=[swap, newer], at=at(text), tz=BERLIN
        ).user_id

    assert duty("2026-01-06T11:59") == "zed"
    assert duty("2026-01-06T12:30") == "yan"
    assert duty("2026-01-06T13:00") == "zed"
    assert duty("2026-01-07T00:00") == "ann"  # the end is exclusive
    answer = on_duty(rotations=[rotation], overrides=[newer], at=at("2026-01-06T12:30"), tz=BERLIN)
    assert answer.reason == "override #2: doctor"
    assert answer.candidates()[0] == ("yan", "override #2: doctor")
    assert answer.candidates()[1][0] == "ann"  # the rotation's person is the fallback


def test_lower_priority_number_answers_first_and_the_rest_are_fallbacks() -> None:
    primary = weekly(id=1, name="primary", priority=10, members=("ann",))
    backup = weekly(id=2, name="backup", priority=20, members=("bob",))
    answer = on_duty(
        rotations=[backup, primary], overrides=[], at=at("2026-01-06T12:00"), tz=BERLIN
    )
    assert answer.user_id == "ann"
    assert answer.reason == "rotation 'primary' turn 1"
    assert [turn.user_id for turn in answer.fallbacks] == ["bob"]


def test_nobody_on_duty_is_an_answer() -> None:
    answer = on_duty(rotations=[], overrides=[], at=at("2026-01-06T12:00"), tz=BERLIN)
    assert answer.user_id is None
    assert answer.reason == "nobody is on duty"
    assert answer.candidates() == []


def test_unknown_time_zone_is_refused() -> None:
    assert zone("Europe/Berlin") == BERLIN
    with pytest.raises(BadTimeZone, match="IANA"):
        zone("Mars/Olympus")


ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata")


@settings(max_examples=300, deadline=None)
@given(
    zone_name=st.sampled_from(ZONES),
    members=st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=6),
    turn_days=st.integers(min_value=1, max_value=14),
    handoff=st.times(),
    start=st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)),
    offset_s=st.integers(min_value=0, max_value=3 * 366 * 86400),
)
def test_every_moment_after_the_start_has_exactly_one_turn_that_contains_it(
    zone_name: str,
    members: list[str],
    turn_days: int,
    handoff: time,
    start: date,
    offset_s: int,
) -> None:
    tz = ZoneInfo(zone_name)
    rotation = weekly(
        members=tuple(members), turn_days=turn_days, handoff=handoff, start_date=start
    )
    first = turn_at(rotation, datetime.combine(start, handoff, tz) + timedelta(hours=1), tz)
    moment = datetime.combine(start, time(0), UTC) + timedelta(days=2, seconds=offset_s)
    turn = turn_at(rotation, moment, tz)
    assert turn is not None
    assert turn.starts_at <= moment < turn.ends_at
    assert turn.user_id == members[turn.index]
    # The next turn starts where this one ends, with the next member.
    following = turn_at(rotation, turn.ends_at, tz)
    assert following is not None
    assert following.starts_at == turn.ends_at
    assert following.index == (turn.index + 1) % len(members)
    assert first is None or first.index == 0
