"""The pure major-incident rules: settings parsing, auto-declaration, reminder timing, and
the war-room status moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opsdesk.reviews.major_rules import (
    MajorRules,
    Rule,
    RulesError,
    is_reminder_due,
    parse_levels,
    parse_minutes,
    reminder_due,
)
from opsdesk.reviews.war_room_states import (
    MoveRefused,
    WarRoomStatus,
    check_move,
    downgrade_note,
    downgrade_reason,
    parse_status,
)

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
S = WarRoomStatus


def test_settings_parse_levels_and_minutes() -> None:
    assert parse_levels("P1, level_20", setting="X") == {"level_10", "level_20"}
    assert parse_levels("", setting="X") == frozenset()
    assert parse_minutes("P1=15,*=60,P2=30", setting="X") == {
        "level_10": 15,
        "level_20": 30,
        "level_30": 60,
        "level_40": 60,
        "level_50": 60,
    }
    with pytest.raises(RulesError, match="X: 'P9' is no level"):
        parse_levels("P9", setting="X")
    with pytest.raises(RulesError, match="not LEVEL=MINUTES"):
        parse_minutes("P1:15", setting="X")


def test_which_rule_declares() -> None:
    rules = MajorRules(
        auto_levels=frozenset({"level_10"}), critical_applications=frozenset({"app_pay"})
    )
    assert rules.rule_for(level="level_10", application=None, service_interrupted=False) == (
        Rule.LEVEL,
        "level P1 declares a major incident",
    )
    met = rules.rule_for(level="level_30", application="app_pay", service_interrupted=True)
    assert met is not None and met[0] == Rule.CRITICAL_APPLICATION
    assert (
        rules.rule_for(level="level_30", application="app_pay", service_interrupted=False) is None
    )
    assert rules.rule_for(level="level_20", application="app_web", service_interrupted=True) is None


def test_reminders_repeat_each_interval_while_no_update_comes() -> None:
    every = timedelta(minutes=15)
    assert reminder_due(interval=every, last_update=T0, last_reminder=None, now=T0) == T0 + every
    assert not is_reminder_due(
        interval=every, last_update=T0, last_reminder=None, now=T0 + timedelta(minutes=14)
    )
    assert is_reminder_due(interval=every, last_update=T0, last_reminder=None, now=T0 + every)
    reminded = T0 + every
    assert not is_reminder_due(
        interval=every, last_update=T0, last_reminder=reminded, now=reminded + timedelta(minutes=1)
    )
    assert is_reminder_due(
        interval=every, last_update=T0, last_reminder=reminded, now=reminded + every
    )
    assert reminder_due(interval=None, last_update=T0, last_reminder=None, now=T0) is None
    assert MajorRules(update_minutes={"level_10": 0}).interval("level_10") is None


def test_war_room_moves() -> None:
    assert parse_status("3") == S.FAULT_DELIMITATION
    assert parse_status("recovered") == S.RECOVERED
    with pytest.raises(MoveRefused, match="unknown status"):
        parse_status("exploded")
    check_move(S.STARTED, S.FAULT_DELIMITATION, fault_cause="", fault_impact="")
    check_move(S.RECOVERED, S.FAULT_DELIMITATION, fault_cause="", fault_impact="")
    with pytest.raises(MoveRefused, match="cannot go from fault_delimitation to started"):
        check_move(S.FAULT_DELIMITATION, S.STARTED, fault_cause="", fault_impact="")
    with pytest.raises(MoveRefused) as refused:
        check_move(S.RECOVERED, S.CLOSED, fault_cause="cert", fault_impact="")
    assert refused.value.field == "fault_impact"
    check_move(S.RECOVERED, S.CLOSED, fault_cause="cert", fault_impact="checkout down")
    with pytest.raises(MoveRefused, match="none"):
        check_move(S.CLOSED, S.RECOVERED, fault_cause="a", fault_impact="b")
    # A downgraded incident's room closes from any open status without cause and impact,
    # but a closed room stays closed.
    for current in (S.STARTED, S.FAULT_DELIMITATION, S.RECOVERED):
        check_move(current, S.CLOSED, fault_cause="", fault_impact="", downgraded=True)
    with pytest.raises(MoveRefused, match="none"):
        check_move(S.CLOSED, S.CLOSED, fault_cause="", fault_impact="", downgraded=True)


@pytest.mark.parametrize("reason", ["", "one user only", "a: b"])
def test_a_downgrade_note_gives_its_reason_back(reason: str) -> None:
    assert downgrade_reason(downgrade_note(reason)) == reason


@pytest.mark.parametrize("note", ["", "disk replaced", "Downgraded from major incidents", "x"])
def test_other_closing_notes_are_no_downgrade(note: str) -> None:
    assert downgrade_reason(note) is None
