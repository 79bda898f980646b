"""Assignment rules as data: matching, first match wins, round-robin and least-loaded."""

from __future__ import annotations

from collections import Counter

from opsdesk.assignment.rules import (
    Candidate,
    Conditions,
    IncidentFacts,
    Rule,
    Strategy,
    TargetType,
    Trigger,
    matching_rules,
    pick_in_turn,
    pick_least_loaded,
)

DB_OUTAGE = IncidentFacts(
    title="Database replica lag",
    description="The ORDERS replica is 20 minutes behind",
    category="inc_type_p_performance_issues",
    application="app_orders",
    level="level_20",
    region="eu-west-101",
    source="incident_source_alarm",
)


def rule(rule_id: int, position: int, **conditions: list[str]) -> Rule:
    return Rule(
        id=rule_id,
        name=f"rule {rule_id}",
        position=position,
        conditions=Conditions.from_mapping(conditions),
        target_type=TargetType.WORKGROUP,
        strategy=Strategy.ROUND_ROBIN,
        target_workgroup="dba",
    )


def test_every_condition_must_hold_and_any_listed_value_will_do() -> None:
    assert Conditions.from_mapping({}).matches(DB_OUTAGE)
    assert Conditions.from_mapping({"applications": ["app_crm", "app_orders"]}).matches(DB_OUTAGE)
    assert not Conditions.from_mapping(
        {"applications": ["app_orders"], "levels": ["level_10"]}
    ).matches(DB_OUTAGE)
    assert Conditions.from_mapping(
        {"regions": ["eu-west-101"], "sources": ["incident_source_alarm"]}
    ).matches(DB_OUTAGE)
    assert not Conditions.from_mapping({"categories": ["inc_type_p_network_issues"]}).matches(
        DB_OUTAGE
    )
    # A condition on a field the incident leaves empty does not hold.
    assert not Conditions.from_mapping({"regions": ["eu-west-101"]}).matches(
        IncidentFacts(title="x")
    )


def test_keywords_match_title_or_description_ignoring_case() -> None:
    assert Conditions.from_mapping({"keywords": ["orders"]}).matches(DB_OUTAGE)
    assert Conditions.from_mapping({"keywords": ["vpn", "REPLICA"]}).matches(DB_OUTAGE)
    assert not Conditions.from_mapping({"keywords": ["vpn"]}).matches(DB_OUTAGE)


def test_first_match_wins_by_position_then_id() -> None:
    rules = [
        rule(3, 30),
        rule(1, 10, levels=["level_10"]),
        rule(2, 20, applications=["app_orders"]),
        rule(4, 20),
    ]
    assert [r.id for r in matching_rules(rules, DB_OUTAGE, Trigger.CREATE)] == [2, 4, 3]


def test_rules_apply_on_their_triggers_only() -> None:
    create_only = Rule(
        id=1,
        name="create only",
        position=1,
        conditions=Conditions(),
        target_type=TargetType.PERSON,
        strategy=Strategy.DIRECT,
        on_reopen=False,
        target_user_id="ann",
    )
    assert list(matching_rules([create_only], DB_OUTAGE, Trigger.CREATE)) == [create_only]
    assert list(matching_rules([create_only], DB_OUTAGE, Trigger.REOPEN)) == []


def members(*ids: str, **open_counts: int) -> list[Candidate]:
    return [Candidate(user_id=i, open_count=open_counts.get(i, 0)) for i in ids]


def test_round_robin_spreads_100_incidents_25_each_over_4_members() -> None:
    team = members("ann", "bob", "cat", "dan")
    picks = []
    for turn in range(100):
        chosen = pick_in_turn(team, turn, frozenset())
        assert chosen is not None
        picks.append(chosen.user_id)
    assert Counter(picks) == {"ann": 25, "bob": 25, "cat": 25, "dan": 25}
    assert picks[:5] == ["ann", "bob", "cat", "dan", "ann"]


def test_round_robin_leaves_out_who_cannot_take_it_and_shares_evenly() -> None:
    team = [
        Candidate("ann", 0),
        Candidate("bob", 0, available=False),
        Candidate("cat", 3, capacity=3),
        Candidate("dan", 0, skills=frozenset({"oracle"})),
    ]
    picks = [pick_in_turn(team, turn, frozenset()) for turn in range(6)]
    assert [p.user_id for p in picks if p is not None] == ["ann", "dan"] * 3
    oracle = pick_in_turn(team, 7, frozenset({"oracle"}))
    assert oracle is not None
    assert oracle.user_id == "dan"
    assert pick_in_turn(team, 0, frozenset({"postgres"})) is None
    assert pick_in_turn([], 0, frozenset()) is None


def test_least_loaded_follows_open_counts_and_ties_go_to_member_order() -> None:
    team = members("ann", "bob", "cat", ann=4, bob=2, cat=2)
    chosen = pick_least_loaded(team, frozenset())
    assert chosen is not None
    assert chosen.user_id == "bob"
    team = [Candidate("ann", 1), Candidate("bob", 0, available=False), Candidate("cat", 2)]
    chosen = pick_least_loaded(team, frozenset())
    assert chosen is not None
    assert chosen.user_id == "ann"
    assert pick_least_loaded([Candidate("ann", 5, capacity=5)], frozenset()) is None
