"""SLA policies: matching (ordered, first match wins), defaults, validation, clocks per policy."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from opsdesk.incidents.fields import LEVELS
from opsdesk.sla.calendar import BusinessCalendar
from opsdesk.sla.clock import ClockState, Crossing, PhaseChange, Target
from opsdesk.sla.policies import (
    DEFAULT_CALENDARS,
    DEFAULT_PAUSE_PHASES,
    DEFAULT_POLICIES,
    PAUSE_CHOICES,
    ActionKind,
    EscalationAction,
    IncidentFacts,
    SlaPolicy,
    Threshold,
    match_policy,
    policy_clocks,
)

H = 3600


def policy(
    key: str,
    order: int,
    *,
    levels: frozenset[str] = frozenset(),
    categories: frozenset[str] = frozenset(),
    applications: frozenset[str] = frozenset(),
    regions: frozenset[str] = frozenset(),
    organisations: frozenset[str] = frozenset(),
) -> SlaPolicy:
    return SlaPolicy(
        key=key,
        name=key,
        order=order,
        calendar="business-hours",
        resolution_s=H,
        levels=levels,
        categories=categories,
        applications=applications,
        regions=regions,
        organisations=organisations,
    )


def test_first_match_by_order_wins_whatever_the_input_order() -> None:
    network_p1 = policy(
        "network-p1", 10, levels=frozenset({"level_10"}), categories=frozenset({"network"})
    )
    any_p1 = policy("any-p1", 20, levels=frozenset({"level_10"}))
    fallback = policy("fallback", 99)
    policies = [fallback, any_p1, network_p1]
    assert match_policy(policies, IncidentFacts(level="level_10", category="network")) is network_p1
    assert match_policy(policies, IncidentFacts(level="level_10", category="database")) is any_p1
    assert match_policy(policies, IncidentFacts(level="level_30")) is fallback


def test_equal_order_falls_back_to_the_key() -> None:
    b = policy("b", 1)
    a = policy("a", 1)
    assert match_policy([b, a], IncidentFacts()) is a


def test_no_match_is_none() -> None:
    only_eu = policy("eu", 1, regions=frozenset({"eu"}))
    assert match_policy([only_eu], IncidentFacts(region="us")) is None
    assert match_policy([], IncidentFacts()) is None


def test_every_criterion_must_hold_and_an_unset_value_matches_only_empty_criteria() -> None:
    narrow = policy(
        "narrow",
        1,
        levels=frozenset({"level_20"}),
        categories=frozenset({"network"}),
        applications=frozenset({"erp"}),
        regions=frozenset({"eu"}),
        organisations=frozenset({"acme", "globex"}),
    )
    facts = IncidentFacts(
        level="level_20", category="network", application="erp", region="eu", organisation="acme"
    )
    assert narrow.matches(facts)
    for field, other in (
        ("level", "level_30"),
        ("category", "storage"),
        ("application", "crm"),
        ("region", "us"),
        ("organisation", "initech"),
        ("organisation", None),
    ):
        changed = IncidentFacts(**{**facts.__dict__, field: other})
        assert not narrow.matches(changed), field
    assert policy("open", 1).matches(IncidentFacts())


def test_default_policies_one_per_level() -> None:
    for level in LEVELS:
        matched = match_policy(DEFAULT_POLICIES, IncidentFacts(level=level))
        assert matched is not None
        assert matched.levels == frozenset({level})
    calendars = {p.levels.__iter__().__next__(): p.calendar for p in DEFAULT_POLICIES}
    assert calendars == {
        "level_10": "24x7",
        "level_20": "24x7",
        "level_30": "business-hours",
        "level_40": "business-hours",
        "level_50": "business-hours",
    }
    assert all(p.calendar in DEFAULT_CALENDARS for p in DEFAULT_POLICIES)
    p1 = DEFAULT_POLICIES[0]
    assert (p1.response_s, p1.resolution_s) == (15 * 60, 4 * H)
    # Goals grow as the level drops.
    for higher, lower in itertools.pairwise(DEFAULT_POLICIES):
        assert higher.response_s is not None and lower.response_s is not None
        assert higher.resolution_s is not None and lower.resolution_s is not None
        assert higher.response_s < lower.response_s
        assert higher.resolution_s < lower.resolution_s
    assert match_policy(DEFAULT_POLICIES, IncidentFacts()) is None


def test_default_calendars_and_escalations() -> None:
    assert DEFAULT_CALENDARS["24x7"].always_open
    office = DEFAULT_CALENDARS["business-hours"]
    assert office.time_zone == "UTC"
    assert [str(s) for s in office.hours][:1] == ["Monday 09:00-18:00"]
    assert len(office.hours) == 5
    p3 = DEFAULT_POLICIES[2]
    assert p3.threshold_percents == (50, 75, 100)
    assert p3.pause_phases == DEFAULT_PAUSE_PHASES == {"paused", "rejected", "awaiting_requester"}
    assert [a.kind for a in p3.actions_at(75)] == [
        ActionKind.NOTIFY_ASSIGNEE,
        ActionKind.NOTIFY_MANAGER,
    ]
    assert p3.actions_at(60) == ()


def test_the_pause_choices_are_the_lifecycle_phases_a_policy_may_pause_in() -> None:
    assert PAUSE_CHOICES == ("pause_requested", "paused", "level_change_requested", "rejected")
    created = datetime(2026, 3, 9, 10, tzinfo=UTC)
    for phase in PAUSE_CHOICES:  # each one is accepted, and holds the resolution clock
        held = SlaPolicy(
            key="p",
            name="p",
            order=1,
            calendar="24x7",
            resolution_s=H,
            pause_phases=frozenset({phase}),
        )
        clock = policy_clocks(
            held,
            DEFAULT_CALENDARS,
            created_at=created,
            timeline=[PhaseChange(created, "in_progress"), PhaseChange(created, phase)],
            now=datetime(2026, 3, 9, 11, tzinfo=UTC),
        )[Target.RESOLUTION]
        assert (clock.state, clock.paused_s) == (ClockState.PAUSED, H), phase
    for phase in ("new", "in_progress"):
        with pytest.raises(ValueError, match="pause_phases"):
            SlaPolicy(
                key="p",
                name="p",
                order=1,
                calendar="24x7",
                resolution_s=H,
                pause_phases=frozenset({phase}),
            )


def test_thresholds_are_kept_in_percent_order() -> None:
    escalate = Threshold(
        150,
        (
            EscalationAction(ActionKind.REASSIGN, "l2-network"),
            EscalationAction(ActionKind.RAISE_LEVEL),
        ),
    )
    warn = Threshold(50, (EscalationAction(ActionKind.NOTIFY_GROUP),))
    made = SlaPolicy(
        key="k", name="n", order=1, calendar="24x7", response_s=60, thresholds=(escalate, warn)
    )
    assert made.threshold_percents == (50, 150)
    assert made.actions_at(150)[0].workgroup == "l2-network"
    assert EscalationAction("notify_manager").kind is ActionKind.NOTIFY_MANAGER  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"key": ""}, "key"),
        ({"calendar": ""}, "calendar"),
        ({"response_s": None, "resolution_s": None}, "response_s: a policy needs"),
        ({"response_s": 0}, "response_s"),
        ({"resolution_s": -1}, "resolution_s"),
        ({"levels": frozenset({"P1"})}, "levels: unknown level 'P1'"),
        ({"pause_phases": frozenset({"paused", "new"})}, "pause_phases: 'new'"),
        ({"thresholds": (Threshold(50), Threshold(50.0))}, "thresholds"),
    ],
)
def test_invalid_policies_name_the_field(kwargs: dict[str, object], field: str) -> None:
    arguments: dict[str, object] = {
        "key": "k",
        "name": "n",
        "order": 1,
        "calendar": "24x7",
        "response_s": 60,
        **kwargs,
    }
    with pytest.raises(ValueError, match=field):
        SlaPolicy(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: EscalationAction(ActionKind.REASSIGN), "workgroup: reassign needs"),
        (lambda: EscalationAction(ActionKind.NOTIFY_GROUP, "ops"), "workgroup: only reassign"),
        (lambda: EscalationAction("page_everyone"), "kind: must be one of"),  # type: ignore[arg-type]
        (lambda: Threshold(0), "percent"),
        (lambda: Threshold(-10), "percent"),
        (lambda: Threshold(float("inf")), "percent"),
        (lambda: Threshold(float("nan")), "percent"),
    ],
)
def test_invalid_escalations_name_the_field(make: object, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        make()  # type: ignore[operator]


def test_policy_clocks_gives_each_goal_its_clock() -> None:
    p3 = DEFAULT_POLICIES[2]  # 2 business hours to accept, 3 business days to resolve
    created = datetime(2026, 3, 6, 17, tzinfo=UTC)  # Friday
    timeline = [
        PhaseChange(created, "new"),
        PhaseChange(datetime(2026, 3, 9, 9, 15, tzinfo=UTC), "in_progress"),
    ]
    clocks = policy_clocks(
        p3,
        DEFAULT_CALENDARS,
        created_at=created,
        timeline=timeline,
        now=datetime(2026, 3, 9, 10, tzinfo=UTC),
    )
    response = clocks[Target.RESPONSE]
    assert response.state is ClockState.STOPPED
    assert response.elapsed_s == 1.25 * H
    assert response.crossed == (Crossing(50, datetime(2026, 3, 6, 18, tzinfo=UTC)),)
    resolution = clocks[Target.RESOLUTION]
    assert resolution.elapsed_s == 2 * H
    assert resolution.due_at == datetime(2026, 3, 11, 17, tzinfo=UTC)


def test_policy_clocks_skips_an_absent_goal_and_needs_a_known_calendar() -> None:
    response_only = SlaPolicy(key="r", name="r", order=1, calendar="24x7", response_s=60)
    created = datetime(2026, 3, 9, 10, tzinfo=UTC)
    clocks = policy_clocks(
        response_only,
        DEFAULT_CALENDARS,
        created_at=created,
        timeline=[PhaseChange(created, "new")],
        now=created,
    )
    assert list(clocks) == [Target.RESPONSE]
    lost = SlaPolicy(key="lost", name="lost", order=1, calendar="mars", response_s=60)
    with pytest.raises(ValueError, match="calendar: policy 'lost' uses unknown calendar 'mars'"):
        policy_clocks(
            lost,
            DEFAULT_CALENDARS,
            created_at=created,
            timeline=[PhaseChange(created, "new")],
            now=created,
        )


def test_a_policy_on_an_administrators_calendar() -> None:
    paris = BusinessCalendar(
        key="paris",
        name="Paris office",
        time_zone="Europe/Paris",
        hours=DEFAULT_CALENDARS["business-hours"].hours,
    )
    made = SlaPolicy(key="fr", name="France", order=1, calendar="paris", response_s=H)
    created = datetime(2026, 3, 9, 7, 30, tzinfo=UTC)  # 08:30 in Paris
    clocks = policy_clocks(
        made,
        {"paris": paris},
        created_at=created,
        timeline=[PhaseChange(created, "new")],
        now=created,
    )
    assert clocks[Target.RESPONSE].due_at == datetime(2026, 3, 9, 9, tzinfo=UTC)  # 10:00 Paris
