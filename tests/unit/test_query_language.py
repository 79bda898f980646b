"""The COC filter language: parsing, validation, limits, and fuzzing (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsdesk.query.condition import (
    MAX_DEPTH,
    MAX_TERMS,
    AllOf,
    AnyOf,
    Node,
    Ref,
    parse_condition,
    referenced,
)
from opsdesk.query.errors import QueryError
from opsdesk.query.request import (
    Catalogue,
    FieldSpec,
    Filter,
    Kind,
    ListQuery,
    Operator,
    Sort,
    parse_request,
)

CATALOGUE = Catalogue.of(
    FieldSpec("ticket_id", Kind.STRING),
    FieldSpec("title", Kind.STRING, sortable=False),
    FieldSpec(
        "level_id", Kind.ENUM, frozenset({"level_10", "level_20", "level_30"}), groupable=True
    ),
    FieldSpec("create_time", Kind.TIMESTAMP),
    FieldSpec("reopen_count", Kind.INTEGER),
)


def refuse(body: Any, field: str, words: str = "") -> QueryError:
    with pytest.raises(QueryError) as caught:
        parse_request(body, CATALOGUE)
    assert caught.value.field == field, caught.value.message
    assert words in caught.value.message
    return caught.value


# Condition expressions --------------------------------------------------------------------


def test_and_binds_tighter_than_or_and_parentheses_group() -> None:
    names = {"f1", "f2", "f3"}
    assert parse_condition("f1 & f2 | f3", names) == AnyOf(
        (AllOf((Ref("f1"), Ref("f2"))), Ref("f3"))
    )
    assert parse_condition("( f1 & f2) | f3", names) == parse_condition("f1&f2|f3", names)
    assert parse_condition("f1 & (f2 | f3)", names) == AllOf(
        (Ref("f1"), AnyOf((Ref("f2"), Ref("f3"))))
    )
    assert parse_condition("((f1))", names) == Ref("f1")
    assert referenced(parse_condition("f1 | (f3 & f1)", names)) == {"f1", "f3"}


def test_groups_of_one_operator_merge_and_repeats_count_once() -> None:
    names = {"f1", "f2", "f3"}
    assert parse_condition("f1 | (f2 | (f3 | f1)) | f2", names) == AnyOf(
        (Ref("f1"), Ref("f2"), Ref("f3"))
    )
    assert parse_condition("&".join(["f1"] * 3000), names) == Ref("f1")
    assert parse_condition("(f1&f2)|(f1&f2)|f3", names) == AnyOf(
        (AllOf((Ref("f1"), Ref("f2"))), Ref("f3"))
    )


def test_more_distinct_references_than_the_limit_are_refused() -> None:
    names = {f"f{n}" for n in range(40)}
    pairs = [f"(f{a}&f{b})" for a in range(40) for b in range(a + 1, 40)]
    assert (
        parse_request(
            {
                "string_filters": [
                    {"field": "title", "operator": "=", "values": ["x"], "name": name}
                    for name in sorted(names)[:20]
                ],
                "int_filters": [
                    {"field": "reopen_count", "operator": "=", "values": ["1"], "name": name}
                    for name in sorted(names)[20:]
                ],
                "condition": "|".join(pairs[: MAX_TERMS // 2]),
            },
            CATALOGUE,
        ).where
        is not None
    )
    with pytest.raises(QueryError, match=f"at most {MAX_TERMS}") as refused:
        parse_request(
            {
                "string_filters": [
                    {"field": "title", "operator": "=", "values": ["x"], "name": name}
                    for name in sorted(names)[:20]
                ],
                "int_filters": [
                    {"field": "reopen_count", "operator": "=", "values": ["1"], "name": name}
                    for name in sorted(names)[20:]
                ],
                "condition": "|".join(pairs),
            },
            CATALOGUE,
        )
    assert refused.value.field == "condition"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("f1 &", "ends where"),
        ("(f1 | f2", "is not closed"),
        ("f1 | f2)", "')' without a matching '('"),
        ("f1 f2", "join filters"),
        ("f1 && f2", "expected a filter name"),
        ("f1 | nope", "no filter is named 'nope'"),
        ("f1; DROP TABLE incidents", "unexpected"),
        ("f1 = 1", "unexpected"),
        ("   ", "is empty"),
        ("(" * (MAX_DEPTH + 1) + "f1" + ")" * (MAX_DEPTH + 1), "nest deeper"),
        ("f1 |" * 5000, "longer than 10000"),
    ],
)
def test_malformed_conditions_are_parameter_errors(text: str, words: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_condition(text, {"f1", "f2"})
    assert caught.value.field == "condition"
    assert words in caught.value.message


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="f12 ()&|x-_.:;=\n\t'\"", max_size=300))
def test_any_condition_text_parses_or_is_a_parameter_error(text: str) -> None:
    outcome: Node | QueryError
    try:
        outcome = parse_condition(text, {"f1", "f2", "f12"})
    except QueryError as error:
        outcome = error
    if isinstance(outcome, QueryError):
        assert outcome.field == "condition"
    else:
        assert referenced(outcome) <= {"f1", "f2", "f12"}


# Requests ---------------------------------------------------------------------------------


def test_the_seed_request_shape() -> None:
    query = parse_request(
        {
            "string_filters": [
                {
                    "field": "create_time",
                    "operator": ">=",
                    "values": ["1700000000000"],
                    "name": "create_time_start",
                },
                {
                    "field": "create_time",
                    "operator": "<=",
                    "values": ["1800000000000"],
                    "name": "create_time_end",
                },
            ],
            "sort_filter": {
                "field": "create_time",
                "operator": "desc",
                "values": ["create_time"],
                "name": "create_time",
            },
        },
        CATALOGUE,
    )
    start = query.filters["create_time_start"]
    assert start == Filter(
        field="create_time",
        kind=Kind.TIMESTAMP,
        operator=Operator.GE,
        values=(datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),),
        name="create_time_start",
    )
    assert query.where == AllOf((Ref("create_time_start"), Ref("create_time_end")))
    assert query.sort == Sort("create_time", descending=True)


def test_condition_combines_named_filters_and_unused_ones_are_anded() -> None:
    query = parse_request(
        {
            "string_filters": [
                {"field": "level_id", "operator": "=", "values": ["level_10"], "name": "p1"},
                {"field": "title", "operator": "like", "values": ["vpn"], "name": "vpn"},
                {"field": "ticket_id", "operator": "startwith", "values": ["IM2026"]},
            ],
            "int_filters": [
                {"field": "reopen_count", "operator": ">", "values": ["0"], "name": "reopened"}
            ],
            "condition": "(p1 | reopened) & vpn",
        },
        CATALOGUE,
    )
    # The condition's own AND and the AND of the unused filter are one flat group.
    assert query.where == AllOf((AnyOf((Ref("p1"), Ref("reopened"))), Ref("vpn"), Ref("#2")))
    assert query.filters["reopened"].values == (0,)


def test_sort_by_values_and_group_and_fields_and_counts() -> None:
    query = parse_request(
        {
            "sort_filter": {"operator": "asc", "values": ["ticket_id"]},
            "group_by_filter": {"field": "level_id"},
            "fields": ["ticket_id", "title"],
            "count_filters": [
                {
                    "name": "p1",
                    "filters": [{"field": "level_id", "operator": "=", "values": ["level_10"]}],
                },
                {
                    "name": "reopened",
                    "filters": [{"field": "reopen_count", "operator": ">", "values": ["0"]}],
                },
            ],
        },
        CATALOGUE,
    )
    assert query.sort == Sort("ticket_id", descending=False)
    assert query.group_by == "level_id"
    assert query.fields == ("ticket_id", "title")
    assert [count.name for count in query.counts] == ["p1", "reopened"]
    assert query.where is None


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ([], "body", "must be an object"),
        ({"string_filters": {}}, "string_filters", "must be an array"),
        ({"string_filters": [{}] * 21}, "string_filters", "at most 20"),
        (
            {"string_filters": [{"field": "nope", "operator": "=", "values": ["x"]}]},
            "string_filters[0].field",
            "unknown field 'nope'",
        ),
        (
            {"string_filters": [{"field": "title", "operator": "~", "values": ["x"]}]},
            "string_filters[0].operator",
            "unknown operator '~'",
        ),
        (
            {"string_filters": [{"field": "level_id", "operator": "like", "values": ["x"]}]},
            "string_filters[0].operator",
            "does not apply to enum",
        ),
        (
            {"string_filters": [{"field": "level_id", "operator": "=", "values": ["P9"]}]},
            "string_filters[0].values[0]",
            "is not a value of level_id",
        ),
        (
            {"string_filters": [{"field": "title", "operator": "=", "values": ["a", "b"]}]},
            "string_filters[0].values",
            "exactly one value",
        ),
        (
            {"string_filters": [{"field": "title", "operator": "in", "values": []}]},
            "string_filters[0].values",
            "at least one",
        ),
        (
            {"string_filters": [{"field": "title", "operator": "in", "values": ["x"] * 101}]},
            "string_filters[0].values",
            "at most 100",
        ),
        (
            {"string_filters": [{"field": "title", "operator": "=", "values": ["x" * 1001]}]},
            "string_filters[0].values[0]",
            "longer than 1000",
        ),
        (
            {"string_filters": [{"field": "title", "operator": "=", "values": [5]}]},
            "string_filters[0].values[0]",
            "must be a string",
        ),
        (
            {
                "string_filters": [
                    {"field": "create_time", "operator": ">", "values": ["yesterday"]}
                ]
            },
            "string_filters[0].values[0]",
            "epoch milliseconds",
        ),
        (
            {"string_filters": [{"field": "create_time", "operator": ">", "values": ["-5"]}]},
            "string_filters[0].values[0]",
            "between 1970 and 9999",
        ),
        (
            {"string_filters": [{"field": "reopen_count", "operator": ">", "values": ["1"]}]},
            "string_filters[0].field",
            "int_filters",
        ),
        (
            {"int_filters": [{"field": "reopen_count", "operator": ">", "values": ["1.5"]}]},
            "int_filters[0].values[0]",
            "not an integer",
        ),
        (
            {
                "int_filters": [
                    {"field": "reopen_count", "operator": "=", "values": ["99999999999999999999"]}
                ]
            },
            "int_filters[0].values[0]",
            "not an integer",
        ),
        (
            {
                "string_filters": [
                    {"field": "title", "operator": "=", "values": ["x"], "name": "a b"}
                ]
            },
            "string_filters[0].name",
            "not a filter name",
        ),
        (
            {
                "string_filters": [
                    {"field": "title", "operator": "=", "values": ["x"], "name": "a"},
                    {"field": "title", "operator": "=", "values": ["y"], "name": "a"},
                ]
            },
            "string_filters[1].name",
            "used twice",
        ),
        (
            {
                "string_filters": [
                    {"field": "title", "operator": "=", "values": ["x"], "name": "a"}
                ],
                "condition": "a | b",
            },
            "condition",
            "no filter is named 'b'",
        ),
        ({"condition": 7}, "condition", "must be a string"),
        (
            {"sort_filter": {"operator": "sideways", "field": "title"}},
            "sort_filter.operator",
            "'asc' or 'desc'",
        ),
        (
            {"sort_filter": {"operator": "asc", "field": "title"}},
            "sort_filter.field",
            "cannot be sorted",
        ),
        ({"group_by_filter": {"field": "title"}}, "group_by_filter.field", "cannot be grouped"),
        ({"fields": ["ticket_id", "password"]}, "fields[1]", "unknown field 'password'"),
        ({"fields": ["ticket_id"] * 101}, "fields", "at most 100"),
        (
            {"string_filters": [{"field": "title", "operator": "=", "values": ["a\x00"]}]},
            "string_filters[0].values[0]",
            "NUL",
        ),
        ({"count_filters": [{"name": "a", "filters": []}] * 11}, "count_filters", "at most 10"),
        (
            {"count_filters": [{"name": "a", "filters": []}, {"name": "a", "filters": []}]},
            "count_filters[1].name",
            "used twice",
        ),
    ],
)
def test_bad_requests_name_the_offending_part(body: Any, field: str, words: str) -> None:
    refuse(body, field, words)


def test_injection_in_names_and_operators_is_refused_and_in_values_is_data() -> None:
    refuse(
        {
            "string_filters": [
                {"field": "title; DROP TABLE incidents", "operator": "=", "values": ["x"]}
            ]
        },
        "string_filters[0].field",
        "unknown field",
    )
    refuse(
        {"string_filters": [{"field": "title", "operator": "= 1 OR 1=1 --", "values": ["x"]}]},
        "string_filters[0].operator",
        "unknown operator",
    )
    query = parse_request(
        {"string_filters": [{"field": "title", "operator": "=", "values": ["x' OR '1'='1"]}]},
        CATALOGUE,
    )
    assert query.filters["#0"].values == ("x' OR '1'='1",)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=15), children, max_size=4)
    ),
    max_leaves=20,
)
field_names = st.sampled_from(
    ["ticket_id", "title", "level_id", "create_time", "reopen_count", "x"]
)
operators = st.sampled_from([op.value for op in Operator] + ["desc", "==", ""])
plausible_filter = st.fixed_dictionaries(
    {
        "field": field_names,
        "operator": operators,
        "values": st.lists(
            st.text(max_size=15) | st.sampled_from(["0", "1700000000000", "level_10"]), max_size=3
        ),
    },
    optional={"name": st.sampled_from(["f1", "f2", "f3", "bad name"])},
)
plausible_body = st.fixed_dictionaries(
    {},
    optional={
        "string_filters": st.lists(plausible_filter | json_values, max_size=4),
        "int_filters": st.lists(plausible_filter, max_size=3),
        "condition": st.text(alphabet="f123 ()&|", max_size=40) | json_values,
        "sort_filter": st.fixed_dictionaries(
            {"field": field_names, "operator": st.sampled_from(["asc", "desc", "up"])}
        )
        | json_values,
        "group_by_filter": st.fixed_dictionaries({"field": field_names}) | json_values,
        "fields": st.lists(field_names, max_size=4) | json_values,
        "count_filters": st.lists(
            st.fixed_dictionaries(
                {"name": st.text(max_size=5), "filters": st.lists(plausible_filter, max_size=2)}
            ),
            max_size=3,
        ),
    },
)


@settings(max_examples=600, deadline=None)
@given(plausible_body | json_values)
def test_any_body_is_a_query_or_a_parameter_error(body: Any) -> None:
    outcome: ListQuery | QueryError
    try:
        outcome = parse_request(body, CATALOGUE)
    except QueryError as error:
        outcome = error
    if isinstance(outcome, QueryError):
        assert outcome.field
        assert outcome.message.startswith(outcome.field)
    elif outcome.where is not None:
        assert referenced(outcome.where) <= set(outcome.filters)
