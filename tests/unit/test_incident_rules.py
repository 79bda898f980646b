"""Pure incident rules: levels, numbering, owner, changes, roles; no database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from opsdesk.auth.roles import Caller, Role
from opsdesk.core.errors import ValidationFailed
from opsdesk.incidents.changes import FieldChange, diff
from opsdesk.incidents.fields import (
    LEVELS,
    STATUS_LABELS,
    Status,
    history_action_label,
    parse_level,
)
from opsdesk.incidents.numbering import looks_like_number, new_incident_number
from opsdesk.incidents.rules import normalize_owner


@pytest.mark.parametrize(
    ("raw", "key"),
    [("P1", "level_10"), ("p5", "level_50"), (" level_30 ", "level_30"), ("P6", None), ("", None)],
)
def test_parse_level(raw: str, key: str | None) -> None:
    assert parse_level(raw) == key


def test_every_status_has_itil_and_chinese_labels() -> None:
    assert set(STATUS_LABELS) == set(Status)
    assert STATUS_LABELS[Status.COMPLETED].en == "Closed"
    assert STATUS_LABELS[Status.TRIGGERED].zh == "未受理"
    assert len(LEVELS) == 5


def test_history_labels_fall_back_to_the_key() -> None:
    assert history_action_label("create_incident").en == "create incident"
    assert history_action_label("something_new").en == "something_new"


def test_numbers_have_coc_shape_and_utc_time() -> None:
    at = datetime(2024, 3, 22, 15, 15, 6, 17_000, tzinfo=UTC)
    number = new_incident_number(at)
    assert number.startswith("IM20240322151506017")
    assert len(number) == 26
    assert looks_like_number(number)
    assert len({new_incident_number(at) for _ in range(5000)}) == 5000
    assert not looks_like_number("IM123")


def test_owner_individual_shift_and_none() -> None:
    person = "a" * 32
    assert normalize_owner({"assignee_id": person})["owner_type"] == "individual"
    shift = normalize_owner({"assignee_scene": "noc", "assignee_role": "duty"})
    assert shift == {
        "owner_type": "shift",
        "assignee_id": None,
        "assignee_scene": "noc",
        "assignee_role": "duty",
    }
    assert normalize_owner({})["owner_type"] is None


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"owner_type": "individual"}, "assignee_id"),
        ({"owner_type": "shift", "assignee_scene": "noc"}, "assignee_role"),
        ({"assignee_role": "duty"}, "assignee_scene"),
        ({"assignee_id": "a" * 32, "assignee_scene": "noc"}, "assignee_scene"),
        ({"owner_type": "shift", "assignee_id": "a" * 32}, "assignee_id"),
    ],
)
def test_owner_rules(values: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        normalize_owner(values)
    assert raised.value.field == field


def test_diff_reports_only_changed_fields_with_json_values() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    changes = diff({"a": 1, "b": "x", "t": None}, {"a": 1, "b": "y", "t": at})
    assert changes == [
        FieldChange("b", "x", "y"),
        FieldChange("t", None, "2026-01-01T00:00:00+00:00"),
    ]


def test_role_order() -> None:
    assert Role.ADMIN.at_least(Role.TECHNICIAN)
    assert not Role.END_USER.at_least(Role.TECHNICIAN)
    caller = Caller(user_id="a" * 32, email="a@b.c", name="a", role=Role.TECHNICIAN)
    assert caller.is_staff and caller.can(Role.TECHNICIAN) and not caller.can(Role.ADMIN)
