"""The SLA clock from history: response and resolution, pauses, reopen, retroactive changes."""

from __future__ import annotations

import timeit
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsdesk.sla.calendar import BusinessCalendar, weekly_hours
from opsdesk.sla.clock import ClockState, Crossing, PhaseChange, SlaClock, Target, compute_clock

H = 3600
M = 60
PAUSES = frozenset({"paused", "rejected"})
OFFICE = BusinessCalendar(
    key="office", name="Office", hours=weekly_hours(range(5), "09:00", "18:00")
)
ALWAYS = BusinessCalendar.twenty_four_seven()


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def history(*changes: tuple[datetime, str]) -> list[PhaseChange]:
    return [PhaseChange(at, phase) for at, phase in changes]


def clock(
    timeline: Sequence[PhaseChange],
    now: datetime,
    *,
    target: Target = Target.RESOLUTION,
    goal_s: float = 9 * H,
    calendar: BusinessCalendar = OFFICE,
    thresholds: tuple[float, ...] = (50, 75, 100),
) -> SlaClock:
    return compute_clock(
        created_at=timeline[0].at,
        timeline=timeline,
        target=target,
        goal_s=goal_s,
        calendar=calendar,
        pause_phases=PAUSES,
        thresholds=thresholds,
        now=now,
    )


# 2026-03-06 is a Friday, 2026-03-09 the Monday after.
FRIDAY_1755 = utc(2026, 3, 6, 17, 55)


def test_p2_created_friday_1755_with_one_hour_response_is_due_monday_0955() -> None:
    timeline = history((FRIDAY_1755, "new"))

    at_creation = clock(timeline, FRIDAY_1755, target=Target.RESPONSE, goal_s=H)
    assert at_creation.state is ClockState.RUNNING
    assert at_creation.due_at == utc(2026, 3, 9, 9, 55)
    assert at_creation.next_threshold == Crossing(50, utc(2026, 3, 9, 9, 25))
    assert at_creation.crossed == ()

    over_weekend = clock(timeline, utc(2026, 3, 8, 12), target=Target.RESPONSE, goal_s=H)
    assert over_weekend.elapsed_s == 300
    assert over_weekend.remaining_s == 3300
    assert over_weekend.due_at == utc(2026, 3, 9, 9, 55)

    at_0930 = clock(timeline, utc(2026, 3, 9, 9, 30), target=Target.RESPONSE, goal_s=H)
    assert at_0930.crossed == (Crossing(50, utc(2026, 3, 9, 9, 25)),)
    assert at_0930.next_threshold == Crossing(75, utc(2026, 3, 9, 9, 40))
    assert at_0930.percent == pytest.approx(2100 / 36)

    at_1000 = clock(timeline, utc(2026, 3, 9, 10), target=Target.RESPONSE, goal_s=H)
    assert at_1000.breached
    assert at_1000.breached_at == utc(2026, 3, 9, 9, 55)
    assert at_1000.due_at == utc(2026, 3, 9, 9, 55)  # stays where it was
    assert at_1000.remaining_s == -300
    assert at_1000.percent == pytest.approx(108 + 1 / 3)
    assert [c.percent for c in at_1000.crossed] == [50, 75, 100]
    assert at_1000.next_threshold is None


def test_response_stops_when_accepted() -> None:
    timeline = history((utc(2026, 3, 9, 10), "new"), (utc(2026, 3, 9, 10, 20), "in_progress"))
    result = clock(timeline, utc(2026, 3, 12), target=Target.RESPONSE, goal_s=H)
    assert result.state is ClockState.STOPPED
    assert result.met
    assert result.elapsed_s == 20 * M
    assert result.stopped_at == utc(2026, 3, 9, 10, 20)
    assert result.due_at is None
    assert result.next_threshold is None
    assert result.crossed == ()


def test_response_accepted_late_keeps_its_breach() -> None:
    timeline = history((utc(2026, 3, 9, 10), "new"), (utc(2026, 3, 9, 12), "in_progress"))
    result = clock(timeline, utc(2026, 3, 12), target=Target.RESPONSE, goal_s=H)
    assert result.state is ClockState.STOPPED
    assert result.breached
    assert not result.met
    assert result.breached_at == utc(2026, 3, 9, 11)
    assert result.elapsed_s == 2 * H


def test_response_never_restarts_after_acceptance() -> None:
    timeline = history(
        (utc(2026, 3, 9, 10), "new"),
        (utc(2026, 3, 9, 10, 10), "in_progress"),
        (utc(2026, 3, 9, 11), "resolved"),
        (utc(2026, 3, 9, 12), "in_progress"),  # reopened
    )
    result = clock(timeline, utc(2026, 3, 10, 12), target=Target.RESPONSE, goal_s=H)
    assert result.state is ClockState.STOPPED
    assert result.elapsed_s == 10 * M


def test_response_held_while_rejected_and_running_again_when_resubmitted() -> None:
    timeline = history(
        (utc(2026, 3, 9, 10), "new"),
        (utc(2026, 3, 9, 10, 10), "rejected"),
        (utc(2026, 3, 9, 14), "new"),  # the reporter resubmits
    )
    held = clock(timeline, utc(2026, 3, 9, 13), target=Target.RESPONSE, goal_s=H)
    assert held.state is ClockState.PAUSED
    assert held.elapsed_s == 10 * M
    assert held.paused_s == 2 * H + 50 * M
    assert held.due_at is None
    assert held.next_threshold is None
    running = clock(timeline, utc(2026, 3, 9, 14, 20), target=Target.RESPONSE, goal_s=H)
    assert running.state is ClockState.RUNNING
    assert running.elapsed_s == 30 * M
    assert running.paused_s == 3 * H + 50 * M
    assert running.due_at == utc(2026, 3, 9, 14, 50)


def test_response_stops_when_closed_without_acceptance() -> None:
    timeline = history(
        (utc(2026, 3, 9, 10), "new"),
        (utc(2026, 3, 9, 10, 10), "rejected"),
        (utc(2026, 3, 9, 11), "completed"),
    )
    result = clock(timeline, utc(2026, 3, 10), target=Target.RESPONSE, goal_s=H)
    assert result.state is ClockState.STOPPED
    assert result.elapsed_s == 10 * M
    assert result.paused_s == 50 * M


def test_an_incident_created_already_accepted_meets_its_response_at_once() -> None:
    timeline = history((utc(2026, 3, 9, 10), "in_progress"))
    result = clock(timeline, utc(2026, 3, 9, 12), target=Target.RESPONSE, goal_s=H)
    assert result.state is ClockState.STOPPED
    assert result.elapsed_s == 0
    assert result.met


def test_pause_and_resume_inside_working_hours_pushes_the_due_time() -> None:
    created = utc(2026, 3, 9, 10)
    plain = history((created, "new"), (utc(2026, 3, 9, 10, 5), "in_progress"))
    paused = [
        *plain,
        *history((utc(2026, 3, 9, 11), "paused"), (utc(2026, 3, 9, 12), "in_progress")),
    ]
    now = utc(2026, 3, 9, 13)
    without = clock(plain, now)
    with_pause = clock(paused, now)
    assert without.due_at == utc(2026, 3, 10, 10)
    assert with_pause.due_at == utc(2026, 3, 10, 11)
    assert with_pause.paused_s == H
    assert with_pause.elapsed_s == 2 * H


def test_pause_outside_working_hours_costs_nothing_and_counts_no_pause() -> None:
    created = utc(2026, 3, 6, 10)
    timeline = history(
        (created, "in_progress"),
        (utc(2026, 3, 6, 19), "paused"),  # Friday evening
        (utc(2026, 3, 9, 8), "in_progress"),  # Monday before opening
    )
    during = clock(timeline, utc(2026, 3, 7, 12))
    assert during.state is ClockState.PAUSED
    assert during.due_at is None
    assert during.paused_s == 0
    after = clock(timeline, utc(2026, 3, 9, 12))
    never_paused = clock(history((created, "in_progress")), utc(2026, 3, 9, 12))
    assert after.elapsed_s == never_paused.elapsed_s == 11 * H
    assert after.due_at == never_paused.due_at == utc(2026, 3, 9, 10)
    assert after.paused_s == 0


def test_pause_from_inside_to_outside_working_hours_counts_the_business_part() -> None:
    timeline = history(
        (utc(2026, 3, 9, 10), "in_progress"),
        (utc(2026, 3, 9, 17), "paused"),
        (utc(2026, 3, 9, 20), "in_progress"),
    )
    result = clock(timeline, utc(2026, 3, 10, 10))
    assert result.paused_s == H
    assert result.elapsed_s == 8 * H


def test_pause_requested_and_level_change_requested_do_not_pause() -> None:
    timeline = history(
        (utc(2026, 3, 9, 10), "in_progress"),
        (utc(2026, 3, 9, 11), "pause_requested"),
        (utc(2026, 3, 9, 12), "level_change_requested"),
        (utc(2026, 3, 9, 13), "in_progress"),
    )
    result = clock(timeline, utc(2026, 3, 9, 14))
    assert result.elapsed_s == 4 * H
    assert result.paused_s == 0


def test_draft_holds_the_clock() -> None:
    timeline = history((utc(2026, 3, 9, 10), "draft"), (utc(2026, 3, 9, 12), "new"))
    result = clock(timeline, utc(2026, 3, 9, 13), target=Target.RESPONSE, goal_s=H)
    assert result.elapsed_s == H
    assert result.paused_s == 2 * H


def test_resolution_stops_when_resolved_and_a_reopen_continues_the_elapsed_time() -> None:
    timeline = history(
        (utc(2026, 3, 9, 10), "new"),
        (utc(2026, 3, 9, 10, 30), "in_progress"),
        (utc(2026, 3, 9, 12), "resolved"),
        (utc(2026, 3, 9, 15), "in_progress"),  # the reporter refuses the fix
    )
    resolved = clock(timeline, utc(2026, 3, 9, 14), goal_s=4 * H)
    assert resolved.state is ClockState.STOPPED
    assert resolved.stopped_at == utc(2026, 3, 9, 12)
    assert resolved.elapsed_s == 2 * H
    assert resolved.met
    reopened = clock(timeline, utc(2026, 3, 9, 15, 30), goal_s=4 * H)
    assert reopened.state is ClockState.RUNNING
    assert reopened.stopped_at is None
    assert reopened.elapsed_s == 2.5 * H
    assert reopened.paused_s == 0
    assert reopened.due_at == utc(2026, 3, 9, 17)
    assert reopened.crossed == (Crossing(50, utc(2026, 3, 9, 12)),)
    assert reopened.next_threshold == Crossing(75, utc(2026, 3, 9, 16))


def test_resolved_then_closed_stays_stopped_since_the_resolution() -> None:
    timeline = history(
        (utc(2026, 3, 9, 10), "in_progress"),
        (utc(2026, 3, 9, 12), "resolved"),
        (utc(2026, 3, 11, 12), "completed"),
    )
    result = clock(timeline, utc(2026, 3, 12))
    assert result.stopped_at == utc(2026, 3, 9, 12)
    assert result.elapsed_s == 2 * H


def test_a_breach_stays_recorded_after_the_clock_stops() -> None:
    timeline = history((utc(2026, 3, 9, 10), "in_progress"), (utc(2026, 3, 10, 12), "resolved"))
    result = clock(timeline, utc(2026, 3, 20), goal_s=9 * H)
    assert result.state is ClockState.STOPPED
    assert result.breached
    assert result.breached_at == utc(2026, 3, 10, 10)
    assert result.remaining_s == -2 * H


def test_resolving_exactly_at_the_due_instant_counts_as_reached() -> None:
    timeline = history((utc(2026, 3, 9, 10), "in_progress"), (utc(2026, 3, 9, 11), "resolved"))
    result = clock(timeline, utc(2026, 3, 9, 12), goal_s=H)
    assert result.breached
    assert result.breached_at == utc(2026, 3, 9, 11)


def test_level_change_p3_to_p1_halfway_applies_p1_from_creation() -> None:
    # P3: 27 business hours on office hours. P1: 4 h on 24x7. Raised at Tuesday 10:00.
    created = utc(2026, 3, 9, 10)
    timeline = history(
        (created, "new"),
        (utc(2026, 3, 9, 10, 30), "in_progress"),
        (utc(2026, 3, 10, 10), "in_progress"),  # level change (raise): phase unchanged
    )
    now = utc(2026, 3, 10, 10, 1)
    as_p3 = clock(timeline, now, goal_s=27 * H)
    assert as_p3.elapsed_s == 9 * H + 60
    assert not as_p3.breached
    assert as_p3.due_at == utc(2026, 3, 12, 10)

    as_p1 = clock(timeline, now, goal_s=4 * H, calendar=ALWAYS)
    assert as_p1.breached
    assert as_p1.breached_at == utc(2026, 3, 9, 14)  # in the past: P1 counted from creation
    assert as_p1.due_at == utc(2026, 3, 9, 14)
    assert as_p1.elapsed_s == 24 * H + 60
    assert [c.at for c in as_p1.crossed] == [
        utc(2026, 3, 9, 12),
        utc(2026, 3, 9, 13),
        utc(2026, 3, 9, 14),
    ]
    # The response target too: P1's 15 minutes were missed (accepted after 30).
    p1_response = clock(timeline, now, target=Target.RESPONSE, goal_s=15 * M, calendar=ALWAYS)
    assert p1_response.breached_at == utc(2026, 3, 9, 10, 15)


def test_level_change_early_enough_is_not_yet_breached_and_keeps_pauses() -> None:
    created = utc(2026, 3, 9, 10)
    timeline = history(
        (created, "in_progress"),
        (utc(2026, 3, 9, 10, 30), "paused"),
        (utc(2026, 3, 9, 11, 30), "in_progress"),
    )
    as_p1 = clock(timeline, utc(2026, 3, 9, 12), goal_s=4 * H, calendar=ALWAYS)
    assert not as_p1.breached
    assert as_p1.paused_s == H
    assert as_p1.elapsed_s == H
    assert as_p1.due_at == utc(2026, 3, 9, 15)  # 4 h plus the hour on hold


def test_a_calendar_change_recalculates_from_creation() -> None:
    timeline = history((utc(2026, 3, 6, 16), "in_progress"))
    now = utc(2026, 3, 9, 10)
    on_office = clock(timeline, now, goal_s=4 * H)
    on_24x7 = clock(timeline, now, goal_s=4 * H, calendar=ALWAYS)
    assert on_office.elapsed_s == 3 * H
    assert on_office.due_at == utc(2026, 3, 9, 11)
    assert on_24x7.elapsed_s == 66 * H
    assert on_24x7.breached_at == utc(2026, 3, 6, 20)


def test_24x7_counts_nights_and_weekends() -> None:
    timeline = history((FRIDAY_1755, "new"))
    result = clock(timeline, FRIDAY_1755, target=Target.RESPONSE, goal_s=H, calendar=ALWAYS)
    assert result.due_at == utc(2026, 3, 6, 18, 55)
    assert result.next_threshold == Crossing(50, utc(2026, 3, 6, 18, 25))


def test_due_time_across_a_dst_change_in_the_calendars_zone() -> None:
    new_york = ZoneInfo("America/New_York")  # 2026-03-08: clocks go forward
    calendar = BusinessCalendar(
        key="ny",
        name="NY",
        time_zone="America/New_York",
        hours=weekly_hours(range(5), "09:00", "18:00"),
    )
    created = datetime(2026, 3, 6, 17, tzinfo=new_york)
    result = clock(history((created, "new")), created, goal_s=2 * H, calendar=calendar)
    assert result.due_at == datetime(2026, 3, 9, 10, tzinfo=new_york)
    assert result.due_at == utc(2026, 3, 9, 14)


def test_custom_thresholds_beyond_and_without_100() -> None:
    timeline = history((utc(2026, 3, 9, 10), "in_progress"))
    late = clock(timeline, utc(2026, 3, 9, 11, 10), goal_s=H, thresholds=(80, 150))
    assert late.breached  # a breach is a breach even without a 100 % threshold
    assert late.crossed == (Crossing(80, utc(2026, 3, 9, 10, 48)),)
    assert late.next_threshold == Crossing(150, utc(2026, 3, 9, 11, 30))
    assert late.due_at == utc(2026, 3, 9, 11)


def test_history_after_now_is_ignored() -> None:
    timeline = history((utc(2026, 3, 9, 10), "in_progress"), (utc(2026, 3, 9, 12), "resolved"))
    result = clock(timeline, utc(2026, 3, 9, 11))
    assert result.state is ClockState.RUNNING
    assert result.elapsed_s == H


def test_target_may_be_given_as_text() -> None:
    timeline = history((utc(2026, 3, 9, 10), "new"))
    result = compute_clock(
        created_at=timeline[0].at,
        timeline=timeline,
        target="response",
        goal_s=H,
        calendar=OFFICE,
        pause_phases=["paused"],
        now=utc(2026, 3, 9, 10, 30),
    )
    assert result.target is Target.RESPONSE
    assert result.percent == 50


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timeline": []}, "timeline"),
        ({"timeline": history((utc(2026, 3, 9, 11), "new"))}, r"timeline\[0\]\.at"),
        (
            {
                "timeline": history(
                    (utc(2026, 3, 9, 10), "new"), (utc(2026, 3, 9, 9), "in_progress")
                )
            },
            r"timeline\[1\]\.at: changes must be in time order",
        ),
        (
            {
                "timeline": [
                    PhaseChange(utc(2026, 3, 9, 10), "new"),
                    PhaseChange(datetime(2026, 3, 9, 11), "x"),
                ]
            },
            r"timeline\[1\]\.at: must be a timezone-aware",
        ),
        ({"created_at": datetime(2026, 3, 9, 10)}, "created_at"),
        ({"now": utc(2026, 3, 9, 9)}, "now: is before created_at"),
        ({"goal_s": 0}, "goal_s"),
        ({"goal_s": -5}, "goal_s"),
        ({"target": "update"}, "target: must be one of response, resolution"),
        ({"thresholds": (50, 0)}, "thresholds"),
    ],
)
def test_bad_arguments_name_the_field(change: dict[str, object], field: str) -> None:
    arguments: dict[str, object] = {
        "created_at": utc(2026, 3, 9, 10),
        "timeline": history((utc(2026, 3, 9, 10), "new")),
        "target": Target.RESOLUTION,
        "goal_s": H,
        "calendar": OFFICE,
        "pause_phases": PAUSES,
        "now": utc(2026, 3, 9, 12),
        **change,
    }
    with pytest.raises(ValueError, match=field):
        compute_clock(**arguments)  # type: ignore[arg-type]


def test_compute_clock_cost_per_call() -> None:
    """Not a benchmark: a guard that one clock stays in the tens of microseconds."""
    timeline = history(
        (utc(2026, 3, 2, 10), "new"),
        (utc(2026, 3, 2, 10, 20), "in_progress"),
        (utc(2026, 3, 2, 13), "paused"),
        (utc(2026, 3, 3, 6), "in_progress"),
    )
    now = utc(2026, 3, 4, 10)
    clock(timeline, now, goal_s=27 * H)
    seconds = min(timeit.repeat(lambda: clock(timeline, now, goal_s=27 * H), number=2000, repeat=3))
    assert seconds / 2000 < 500e-6


# -- properties --------------------------------------------------------------------------------

PHASES = ("new", "in_progress", "pause_requested", "paused", "rejected", "resolved", "completed")
START = utc(2026, 3, 1)


@st.composite
def timelines(draw: st.DrawFn) -> list[PhaseChange]:
    gaps = draw(st.lists(st.integers(0, 3 * 24 * 60), max_size=8))
    phases = draw(st.lists(st.sampled_from(PHASES), min_size=len(gaps) + 1, max_size=len(gaps) + 1))
    at = START
    changes = [PhaseChange(at, phases[0])]
    for gap, phase in zip(gaps, phases[1:], strict=True):
        at += timedelta(minutes=gap)
        changes.append(PhaseChange(at, phase))
    return changes


calendars_ = st.sampled_from([OFFICE, ALWAYS])
targets = st.sampled_from(list(Target))
goals = st.integers(1, 40 * H)
offsets = st.integers(0, 20 * 24 * 60).map(lambda m: START + timedelta(minutes=m))


@settings(max_examples=300, deadline=None)
@given(timelines(), targets, goals, calendars_, offsets, offsets)
def test_elapsed_is_monotonic_in_now(
    timeline: list[PhaseChange],
    target: Target,
    goal: int,
    calendar: BusinessCalendar,
    a: datetime,
    b: datetime,
) -> None:
    early, late = sorted((a, b))
    first = clock(timeline, early, target=target, goal_s=goal, calendar=calendar)
    second = clock(timeline, late, target=target, goal_s=goal, calendar=calendar)
    assert first.elapsed_s <= second.elapsed_s
    assert first.paused_s <= second.paused_s
    if first.breached:
        assert second.breached_at == first.breached_at
    assert set(first.crossed) <= set(second.crossed)


@settings(max_examples=300, deadline=None)
@given(timelines(), targets, goals, calendars_, offsets)
def test_accounting_adds_up(
    timeline: list[PhaseChange],
    target: Target,
    goal: int,
    calendar: BusinessCalendar,
    now: datetime,
) -> None:
    result = clock(timeline, now, target=target, goal_s=goal, calendar=calendar)
    total = calendar.business_seconds_between(START, now)
    assert result.elapsed_s + result.paused_s <= total + 1e-6
    assert result.remaining_s == pytest.approx(goal - result.elapsed_s)
    assert result.percent == pytest.approx(result.elapsed_s / goal * 100)
    assert result.breached == (result.elapsed_s >= goal)
    assert all(c.at <= now for c in result.crossed)
    assert [c.percent for c in result.crossed] == sorted(c.percent for c in result.crossed)
    if result.state is ClockState.RUNNING:
        assert result.due_at is not None
        if not result.breached:
            assert result.due_at > now or result.remaining_s == 0
            assert calendar.business_seconds_between(now, result.due_at) == pytest.approx(
                result.remaining_s
            )
    else:
        assert result.due_at is None
        assert result.next_threshold is None


@settings(max_examples=300, deadline=None)
@given(timelines(), targets, goals, calendars_, offsets, st.integers(0, 10 * 24 * 60))
def test_scheduled_instants_do_not_move_while_nothing_happens(
    timeline: list[PhaseChange],
    target: Target,
    goal: int,
    calendar: BusinessCalendar,
    now: datetime,
    later_minutes: int,
) -> None:
    last_change = timeline[-1].at
    now = max(now, last_change)
    first = clock(timeline, now, target=target, goal_s=goal, calendar=calendar)
    if first.state is not ClockState.RUNNING or first.next_threshold is None:
        return
    later = min(now + timedelta(minutes=later_minutes), first.next_threshold.at)
    second = clock(timeline, later, target=target, goal_s=goal, calendar=calendar)
    assert second.due_at == first.due_at
    if later < first.next_threshold.at:
        assert second.next_threshold == first.next_threshold
    else:
        assert first.next_threshold in second.crossed
