"""Pure alert rules: payload parsing, fingerprints, group keys, rule matching, rate limits."""

from __future__ import annotations

from typing import Any

import pytest

from opsdesk.alerts.fingerprints import group_key, label_fingerprint
from opsdesk.alerts.payloads import parse_generic, parse_pagerduty, parse_webhook, severity_of
from opsdesk.alerts.ratelimit import RateLimiter
from opsdesk.alerts.rules import RuleView, check_conditions, first_match, level_for, title_for
from opsdesk.core.errors import ValidationFailed


def test_fingerprint_is_order_free_and_label_sensitive() -> None:
    one = label_fingerprint({"alertname": "DiskFull", "instance": "db1"})
    assert one == label_fingerprint({"instance": "db1", "alertname": "DiskFull"})
    assert one != label_fingerprint({"alertname": "DiskFull", "instance": "db2"})
    assert len(one) == 16 and int(one, 16) >= 0
    # The empty label set is FNV-1a's offset basis, as in Prometheus.
    assert label_fingerprint({}) == "cbf29ce484222325"


def test_group_keys_follow_labels_then_sender_then_alert() -> None:
    by_labels, chosen = group_key(
        group_by=["alertname"], labels={"alertname": "A", "x": "1"}, sender_group="g", dedup_key="k"
    )
    same, _ = group_key(
        group_by=["alertname"], labels={"alertname": "A", "x": "2"}, sender_group="h", dedup_key="j"
    )
    assert by_labels == same and chosen == {"alertname": "A"}
    sender, _ = group_key(group_by=[], labels={}, sender_group="g", dedup_key="k")
    alone, _ = group_key(group_by=[], labels={}, sender_group="", dedup_key="k")
    assert len({by_labels, sender, alone}) == 3


@pytest.mark.parametrize(
    ("word", "severity"),
    [
        ("critical", "critical"),
        ("page", "critical"),
        ("Major", "error"),
        ("warn", "warning"),
        ("info", "info"),
        ("", "warning"),
        ("whatever", "warning"),
    ],
)
def test_severity_words(word: str, severity: str) -> None:
    assert severity_of(word) == severity


def test_level_from_severity_by_default_and_from_the_rule_when_set() -> None:
    default = RuleView(id=1, conditions=())
    assert [level_for(default, s) for s in ("critical", "error", "warning", "info")] == [
        "level_20",
        "level_30",
        "level_30",
        "level_40",
    ]
    assert level_for(RuleView(id=2, conditions=(), level="level_10"), "info") == "level_10"


def test_rules_match_in_order_on_labels_severity_and_summary() -> None:
    alert: dict[str, Any] = {
        "severity": "critical",
        "source": "db1",
        "summary": "Disk full",
        "labels": {"env": "prod"},
    }
    staging = RuleView(id=1, conditions=[{"key": "env", "op": "eq", "value": "staging"}])
    off = RuleView(id=2, conditions=[], enabled=False)
    disk = RuleView(
        id=3,
        conditions=[
            {"key": "summary", "op": "regex", "value": "^Disk"},
            {"key": "severity", "op": "in", "value": ["critical", "error"]},
            {"key": "env", "op": "ne", "value": "test"},
            {"key": "source", "op": "contains", "value": "db"},
        ],
    )
    assert first_match([staging, off, disk], alert) is disk
    assert first_match([staging], alert) is None


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ("x", "conditions: must be a list"),
        ([{"key": "a", "op": "eq", "value": "b"}] * 6, "conditions: at most 5"),
        ([{"key": "a", "op": "like", "value": "b"}], "conditions[0].op"),
        ([{"key": "a", "op": "regex", "value": "("}], "conditions[0].value: not a regular"),
        ([{"key": "a", "op": "in", "value": "b"}], "conditions[0].value: must be a list"),
        ([{"key": "", "op": "eq", "value": "b"}], "conditions[0].key"),
    ],
)
def test_bad_conditions_name_the_field(conditions: Any, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message.replace("[", r"\[").replace("(", r"\(")):
        check_conditions(conditions)


def test_title_is_one_line_and_fits() -> None:
    assert title_for({"summary": "a\n  b", "labels": {}}) == "a b"
    assert title_for({"summary": "", "labels": {"alertname": "X"}}) == "X"
    assert len(title_for({"summary": "y" * 500, "labels": {}})) == 200


def test_webhook_parses_and_fingerprints_when_absent() -> None:
    [alert] = parse_webhook(
        {
            "groupKey": "g",
            "status": "firing",
            "alerts": [
                {
                    "labels": {"alertname": "A", "severity": "page"},
                    "annotations": {"description": "long"},
                }
            ],
        }
    )
    assert alert.dedup_key == label_fingerprint({"alertname": "A", "severity": "page"})
    assert alert.event == "firing" and alert.severity == "critical" and alert.summary == "long"
    assert alert.sender_group == "g"


def test_pagerduty_needs_a_key_for_acknowledge() -> None:
    with pytest.raises(ValidationFailed, match="dedup_key: is required for acknowledge"):
        parse_pagerduty({"routing_key": "k", "event_action": "acknowledge"})
    key, alert = parse_pagerduty({"routing_key": "k", "event_action": "resolve", "dedup_key": "d"})
    assert key == "k" and alert.event == "resolved"


def test_generic_defaults() -> None:
    [alert] = parse_generic({"summary": "s"})
    assert (alert.event, alert.severity) == ("firing", "warning")
    with pytest.raises(ValidationFailed, match="alerts: at most"):
        parse_generic({"alerts": [{"summary": "s"}] * 10_001})


def test_token_bucket_refills_with_time() -> None:
    limiter = RateLimiter()
    assert [limiter.take(1, per_second=2, now=0.0) for _ in range(3)] == [0, 0, 1]
    assert limiter.take(2, per_second=2, now=0.0) == 0  # buckets are per integration
    assert limiter.take(1, per_second=2, now=0.5) == 0
    assert limiter.take(1, per_second=0, now=0.5) == 0  # 0: no limit
