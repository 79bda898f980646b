"""The meaning of a ``ListQuery`` in plain Python, one record at a time.

It is the specification the SQL in ``sql.py`` must agree with (the property tests compare
both on real databases), and it serves lists that are not in SQL.
"""

from __future__ import annotations

from collections.abc import Mapping

from opsdesk.query.condition import AllOf, Node, Ref
from opsdesk.query.request import Filter, ListQuery, Operator, Value

Record = Mapping[str, Value | None]


def _fold(text: str) -> str:
    # ASCII-only folding, as SQLite's LIKE does; PostgreSQL's ILIKE agrees on ASCII.
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def matches_filter(item: Filter, value: Value | None) -> bool:
    if item.operator is Operator.NE:
        return value is None or value != item.values[0]
    if value is None:
        return False
    wanted = item.values[0]
    match item.operator:
        case Operator.IN:
            return value in item.values
        case Operator.LIKE:
            return _fold(str(wanted)) in _fold(str(value))
        case Operator.STARTWITH:
            return _fold(str(value)).startswith(_fold(str(wanted)))
        case Operator.ENDWITH:
            return _fold(str(value)).endswith(_fold(str(wanted)))
        case Operator.EQ:
            return value == wanted
        case Operator.GT:
            return value > wanted  # type: ignore[operator]
        case Operator.LT:
            return value < wanted  # type: ignore[operator]
        case Operator.GE:
            return value >= wanted  # type: ignore[operator]
        case Operator.LE:
            return value <= wanted  # type: ignore[operator]
    return False


def _holds(node: Node, filters: Mapping[str, Filter], record: Record) -> bool:
    if isinstance(node, Ref):
        item = filters[node.name]
        return matches_filter(item, record.get(item.field))
    results = (_holds(part, filters, record) for part in node.parts)
    return all(results) if isinstance(node, AllOf) else any(results)


def matches(query: ListQuery, record: Record) -> bool:
    """Whether ``record`` (field name → typed value) is selected by ``query``."""
    return query.where is None or _holds(query.where, query.filters, record)
