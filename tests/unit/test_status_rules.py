"""The status page's pure rules: update order, component states, template placeholders."""

from __future__ import annotations

import pytest

from opsdesk.reviews.status_rules import (
    DEFAULT_TEMPLATES,
    PLACEHOLDERS,
    ComponentState,
    UpdateState,
    check_transition,
    component_state,
    fill,
    impact_of,
    normal_email,
    unknown_placeholders,
)


@pytest.mark.parametrize("previous", [None, *UpdateState])
@pytest.mark.parametrize("new", list(UpdateState))
def test_after_resolved_only_investigating_reopens(
    previous: UpdateState | None, new: UpdateState
) -> None:
    refused = check_transition(previous, new)
    if previous is UpdateState.RESOLVED and new is not UpdateState.INVESTIGATING:
        assert refused is not None and "resolved" in refused
    else:
        assert refused is None


@pytest.mark.parametrize(
    ("level", "interrupted", "expected"),
    [
        ("P1", True, ComponentState.MAJOR_OUTAGE),
        ("level_10", True, ComponentState.MAJOR_OUTAGE),
        ("level_20", False, ComponentState.PARTIAL_OUTAGE),
        ("level_30", False, ComponentState.DEGRADED),
        ("P1", False, ComponentState.PARTIAL_OUTAGE),
        ("P2", False, ComponentState.PARTIAL_OUTAGE),
        ("P4", True, ComponentState.PARTIAL_OUTAGE),
        ("P3", False, ComponentState.DEGRADED),
        ("P5", False, ComponentState.DEGRADED),
    ],
)
def test_impact_by_level_and_interruption(
    level: str, interrupted: bool, expected: ComponentState
) -> None:
    assert impact_of(level, interrupted) is expected


def test_component_state_is_the_worst_impact_unless_overridden() -> None:
    assert component_state([]) is ComponentState.OPERATIONAL
    worst = component_state([ComponentState.DEGRADED, ComponentState.MAJOR_OUTAGE])
    assert worst is ComponentState.MAJOR_OUTAGE
    overridden = component_state([ComponentState.MAJOR_OUTAGE], ComponentState.DEGRADED)
    assert overridden is ComponentState.DEGRADED


def test_fill_replaces_known_placeholders_and_leaves_other_braces() -> None:
    text = fill("{state}: {title} {unknown} {{x}}", {"state": "Identified", "title": "A {b}"})
    assert text == "Identified: A {b} {unknown} {{x}}"
    assert unknown_placeholders("{title} {nope} {state} {x_y}") == ["nope", "x_y"]


def test_default_templates_use_only_known_placeholders_and_place_the_message() -> None:
    assert set(DEFAULT_TEMPLATES) == set(UpdateState)
    for template in DEFAULT_TEMPLATES.values():
        for text in (template.subject, template.body, template.message):
            assert unknown_placeholders(text) == []
        assert "{message}" in template.body
    assert "message" in PLACEHOLDERS


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (" Ops@Example.COM ", "ops@example.com"),
        ("a@b", None),
        ("two@@example.com", None),
        ("x@example.com\r\nBcc: y@example.com", None),
        ("Name <x@example.com>", None),
        ("a,b@example.com", None),
    ],
)
def test_normal_email(value: str, expected: str | None) -> None:
    assert normal_email(value) == expected
