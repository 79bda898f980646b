"""A COC list request (``string_filters``, ``int_filters``, ``count_filters``,
``group_by_filter``, ``sort_filter``, ``fields``, ``condition``) checked against a field
catalogue and turned into a typed ``ListQuery``.

Every value arrives as a string (COC's rule) and is typed by its field: string, integer,
timestamp (epoch milliseconds) or enum. Every limit is enforced, and anything else is a
``QueryError`` naming the offending part; nothing here raises another exception, whatever
the input (see the hypothesis tests).

Filters without a name, and named filters that ``condition`` does not mention, are ANDed
with it: an unused filter narrows the result, it never silently widens it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from opsdesk.query.condition import Node, Ref, all_of, check_terms, parse_condition, referenced
from opsdesk.query.errors import QueryError

MAX_FILTERS = 20  # string_filters, int_filters each
MAX_COUNT_FILTERS = 10
MAX_FIELDS = 100
MAX_VALUES = 100  # values of one filter
MAX_VALUE_LENGTH = 1_000  # characters of one value
MAX_NAME_LENGTH = 64
# The keys of a list request body (COC's ListTicketParamsV2); any other key is refused.
REQUEST_KEYS = frozenset(
    {
        "string_filters",
        "int_filters",
        "condition",
        "sort_filter",
        "group_by_filter",
        "count_filters",
        "fields",
    }
)
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
# Epoch milliseconds from 1970 to 9999-12-31.
MS_MIN, MS_MAX = 0, 253_402_300_799_999
_INTEGER = re.compile(r"-?[0-9]{1,19}")


class Kind(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    TIMESTAMP = "timestamp"
    ENUM = "enum"


class Operator(StrEnum):
    IN = "in"
    LIKE = "like"
    STARTWITH = "startwith"
    ENDWITH = "endwith"
    EQ = "="
    NE = "!="
    GT = ">"
    LT = "<"
    GE = ">="
    LE = "<="


_ORDERED = (Operator.GT, Operator.LT, Operator.GE, Operator.LE)
OPERATORS_FOR: dict[Kind, tuple[Operator, ...]] = {
    Kind.STRING: (
        Operator.IN,
        Operator.LIKE,
        Operator.STARTWITH,
        Operator.ENDWITH,
        Operator.EQ,
        Operator.NE,
    ),
    Kind.ENUM: (Operator.IN, Operator.EQ, Operator.NE),
    Kind.INTEGER: (Operator.IN, Operator.EQ, Operator.NE, *_ORDERED),
    Kind.TIMESTAMP: (Operator.IN, Operator.EQ, Operator.NE, *_ORDERED),
}


@dataclass(frozen=True)
class FieldSpec:
    """One field a client may filter, sort, group or select by."""

    name: str
    kind: Kind
    enum_values: frozenset[str] | None = None  # None: any value of the right shape
    sortable: bool = True
    groupable: bool = False


@dataclass(frozen=True)
class Catalogue:
    fields: Mapping[str, FieldSpec]

    @classmethod
    def of(cls, *specs: FieldSpec) -> Catalogue:
        return cls({spec.name: spec for spec in specs})


Value = str | int | datetime


@dataclass(frozen=True)
class Filter:
    field: str
    kind: Kind
    operator: Operator
    values: tuple[Value, ...]
    name: str | None = None


@dataclass(frozen=True)
class Sort:
    field: str
    descending: bool


@dataclass(frozen=True)
class NamedCount:
    name: str
    filters: tuple[Filter, ...]


@dataclass(frozen=True)
class ListQuery:
    """What to select: ``where`` combines ``filters`` (None: everything)."""

    filters: Mapping[str, Filter]  # by name; unnamed filters get "#<n>"
    where: Node | None
    sort: Sort | None = None
    group_by: str | None = None
    counts: tuple[NamedCount, ...] = ()
    fields: tuple[str, ...] = ()


def _text(raw: Any, path: str, *, limit: int = MAX_VALUE_LENGTH) -> str:
    if not isinstance(raw, str):
        raise QueryError(f"must be a string, not {_type_name(raw)}", field=path)
    if len(raw) > limit:
        raise QueryError(f"is longer than {limit} characters", field=path)
    if "\x00" in raw:
        # PostgreSQL text cannot hold NUL; refused here so both databases answer alike.
        raise QueryError("contains a NUL character", field=path)
    return raw


def _type_name(raw: Any) -> str:
    if raw is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", list: "an array"}.get(
        type(raw), "an object" if isinstance(raw, dict) else type(raw).__name__
    )


def _list(raw: Any, path: str, limit: int) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise QueryError(f"must be an array, not {_type_name(raw)}", field=path)
    if len(raw) > limit:
        raise QueryError(f"has {len(raw)} entries; at most {limit} are allowed", field=path)
    return raw


def _object(raw: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(raw, dict):
        raise QueryError(f"must be an object, not {_type_name(raw)}", field=path)
    return raw


def _spec(catalogue: Catalogue, raw: Any, path: str) -> FieldSpec:
    name = _text(raw, path, limit=MAX_NAME_LENGTH)
    spec = catalogue.fields.get(name)
    if spec is None:
        raise QueryError(f"unknown field {name!r}", field=path)
    return spec


def _typed(spec: FieldSpec, raw: Any, path: str) -> Value:
    text = _text(raw, path)
    if spec.kind is Kind.STRING:
        return text
    if spec.kind is Kind.ENUM:
        if spec.enum_values is not None and text not in spec.enum_values:
            shown = ", ".join(sorted(spec.enum_values)[:10])
            raise QueryError(f"{text!r} is not a value of {spec.name} ({shown})", field=path)
        return text
    stripped = text.strip()
    if _INTEGER.fullmatch(stripped) is None:
        what = "epoch milliseconds" if spec.kind is Kind.TIMESTAMP else "an integer"
        raise QueryError(f"{text[:40]!r} is not {what} in a string", field=path)
    number = int(stripped)
    if spec.kind is Kind.INTEGER:
        if not INT_MIN <= number <= INT_MAX:
            raise QueryError(f"{stripped} is out of range", field=path)
        return number
    if not MS_MIN <= number <= MS_MAX:
        raise QueryError(f"{stripped} is not a time between 1970 and 9999", field=path)
    return datetime.fromtimestamp(number / 1000, tz=UTC)


def _filter(catalogue: Catalogue, raw: Any, path: str, *, ints: bool | None) -> Filter:
    """One ObjectFilterV2; ``ints`` says which list it came from (None: either)."""
    body = _object(raw, path)
    spec = _spec(catalogue, body.get("field"), f"{path}.field")
    if ints is not None and ints != (spec.kind is Kind.INTEGER):
        where = "int_filters" if spec.kind is Kind.INTEGER else "string_filters"
        raise QueryError(f"{spec.name} is filtered in {where}", field=f"{path}.field")
    operator_text = _text(body.get("operator"), f"{path}.operator", limit=16)
    try:
        operator = Operator(operator_text)
    except ValueError:
        raise QueryError(
            f"unknown operator {operator_text!r}; one of "
            + ", ".join(op.value for op in OPERATORS_FOR[spec.kind]),
            field=f"{path}.operator",
        ) from None
    if operator not in OPERATORS_FOR[spec.kind]:
        raise QueryError(
            f"{operator.value!r} does not apply to {spec.kind.value} field {spec.name}; use "
            + ", ".join(op.value for op in OPERATORS_FOR[spec.kind]),
            field=f"{path}.operator",
        )
    raw_values = _list(body.get("values"), f"{path}.values", MAX_VALUES)
    if not raw_values:
        raise QueryError("needs at least one value", field=f"{path}.values")
    if operator is not Operator.IN and len(raw_values) != 1:
        raise QueryError(
            f"{operator.value!r} takes exactly one value (use 'in' for several)",
            field=f"{path}.values",
        )
    values = tuple(
        _typed(spec, value, f"{path}.values[{index}]") for index, value in enumerate(raw_values)
    )
    name = body.get("name")
    if name is not None:
        name = _text(name, f"{path}.name", limit=MAX_NAME_LENGTH)
        if not name or not all(ch.isalnum() or ch in "_.:-" for ch in name) or not name.isascii():
            raise QueryError(
                f"{name!r} is not a filter name (letters, digits, _ . : -)", field=f"{path}.name"
            )
    return Filter(field=spec.name, kind=spec.kind, operator=operator, values=values, name=name)


def _sort(catalogue: Catalogue, raw: Any) -> Sort | None:
    if raw is None:
        return None
    body = _object(raw, "sort_filter")
    direction = _text(body.get("operator", "desc"), "sort_filter.operator", limit=8).lower()
    if direction not in ("asc", "desc"):
        raise QueryError(f"{direction!r} is not 'asc' or 'desc'", field="sort_filter.operator")
    field_raw = body.get("field")
    path = "sort_filter.field"
    if field_raw is None:
        values = _list(body.get("values"), "sort_filter.values", 1)
        field_raw, path = (values[0] if values else None), "sort_filter.values[0]"
    spec = _spec(catalogue, field_raw, path)
    if not spec.sortable:
        raise QueryError(f"{spec.name} cannot be sorted by", field=path)
    return Sort(field=spec.name, descending=direction == "desc")


def _group_by(catalogue: Catalogue, raw: Any) -> str | None:
    if raw is None:
        return None
    body = _object(raw, "group_by_filter")
    spec = _spec(catalogue, body.get("field"), "group_by_filter.field")
    if not spec.groupable:
        raise QueryError(f"{spec.name} cannot be grouped by", field="group_by_filter.field")
    return spec.name


def _counts(catalogue: Catalogue, raw: Any) -> tuple[NamedCount, ...]:
    counts = []
    seen: set[str] = set()
    for index, entry in enumerate(_list(raw, "count_filters", MAX_COUNT_FILTERS)):
        path = f"count_filters[{index}]"
        body = _object(entry, path)
        name = _text(body.get("name"), f"{path}.name", limit=MAX_NAME_LENGTH)
        if name in seen:
            raise QueryError(f"the name {name!r} is used twice", field=f"{path}.name")
        seen.add(name)
        filters = tuple(
            _filter(catalogue, item, f"{path}.filters[{position}]", ints=None)
            for position, item in enumerate(
                _list(body.get("filters"), f"{path}.filters", MAX_FILTERS)
            )
        )
        counts.append(NamedCount(name=name, filters=filters))
    return tuple(counts)


def _fields(catalogue: Catalogue, raw: Any, selectable: Collection[str] | None) -> tuple[str, ...]:
    if selectable is None:
        return tuple(
            _spec(catalogue, item, f"fields[{index}]").name
            for index, item in enumerate(_list(raw, "fields", MAX_FIELDS))
        )
    names = []
    for index, item in enumerate(_list(raw, "fields", MAX_FIELDS)):
        path = f"fields[{index}]"
        name = _text(item, path, limit=MAX_NAME_LENGTH)
        if name not in selectable:
            raise QueryError(f"unknown field {name!r}", field=path)
        names.append(name)
    return tuple(names)


def parse_request(
    raw: Mapping[str, Any], catalogue: Catalogue, *, selectable: Collection[str] | None = None
) -> ListQuery:
    """Check a list request body against ``catalogue``; the first problem is raised.

    ``fields`` names fields of the catalogue, or of ``selectable`` when the answer's rows
    have other fields than those a client filters by (COC's tickets)."""
    body = _object(raw, "body")
    unknown = sorted(str(key) for key in body if key not in REQUEST_KEYS)
    if unknown:
        if not unknown[0]:
            raise QueryError("an empty key is not a field", field="body")
        raise QueryError("unknown field", field=unknown[0])
    named: dict[str, Filter] = {}
    anonymous: list[str] = []
    for key, ints in (("string_filters", False), ("int_filters", True)):
        for index, item in enumerate(_list(body.get(key), key, MAX_FILTERS)):
            path = f"{key}[{index}]"
            parsed = _filter(catalogue, item, path, ints=ints)
            if parsed.name is None:
                label = f"#{len(named) + len(anonymous)}"
                anonymous.append(label)
                named[label] = parsed
            elif parsed.name in named:
                raise QueryError(f"the name {parsed.name!r} is used twice", field=f"{path}.name")
            else:
                named[parsed.name] = parsed
    condition = body.get("condition")
    where: Node | None
    if condition is None or (isinstance(condition, str) and not condition.strip()):
        where = _and([Ref(name) for name in named])
    else:
        text = _text(condition, "condition", limit=10_000)
        names = {name for name in named if not name.startswith("#")}
        tree = parse_condition(text, names)
        rest = [Ref(name) for name in named if name not in referenced(tree)]
        where = _and([tree, *rest])
    return ListQuery(
        filters=named,
        where=where,
        sort=_sort(catalogue, body.get("sort_filter")),
        group_by=_group_by(catalogue, body.get("group_by_filter")),
        counts=_counts(catalogue, body.get("count_filters")),
        fields=_fields(catalogue, body.get("fields"), selectable),
    )


def _and(parts: Sequence[Node]) -> Node | None:
    return check_terms(all_of(parts)) if parts else None
