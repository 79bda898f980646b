"""Parsing list parameters into a spec, without a database."""

from __future__ import annotations

import pytest

from opsdesk.core.errors import ValidationFailed
from opsdesk.incidents.queries import parse_list_params


def test_defaults() -> None:
    spec = parse_list_params({})
    assert (spec.page.page, spec.page.per_page, spec.page.offset) == (1, 20, 0)
    assert spec.conditions == []
    assert len(spec.order) == 2  # created_at desc, then id as a stable tie-breaker


def test_repeated_parameters_and_comma_lists_combine() -> None:
    spec = parse_list_params({"level": ["P1,P2"], "category": ["a", "b"], "page": ["3"]})
    assert len(spec.conditions) == 3
    assert spec.page.offset == 40


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"nope": ["1"]}, "nope"),
        ({"per_page": ["0"]}, "per_page"),
        ({"sort": ["-nope"]}, "sort"),
        ({"urgency": ["0"]}, "urgency"),
        ({"updated_at_to": ["noon"]}, "updated_at_to"),
    ],
)
def test_errors_name_the_parameter(params: dict[str, list[str]], field: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse_list_params(params)
    assert raised.value.field == field
