"""A ``ListQuery`` as SQLAlchemy expressions: one parameterised WHERE and ORDER BY that give
the same rows on SQLite and PostgreSQL.

Values are always bound parameters; field names and operators were checked against the
catalogue before they got here, so no text of the request ever becomes SQL.

Meaning of the operators (the same on both databases):
- ``like``, ``startwith``, ``endwith``: case-insensitive substring, prefix, suffix; ``%``
  and ``_`` in the value are plain characters (ASCII case folding only on SQLite);
- ``!=``: also true where the field is empty (NULL), as a person reading "not P1" expects;
- ``=``, ``in``, ``>``, ``<``, ``>=``, ``<=``: SQL's comparisons; an empty field matches none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, true
from sqlalchemy.sql.elements import UnaryExpression

from opsdesk.query.condition import AllOf, Node, Ref
from opsdesk.query.request import Filter, ListQuery, Operator, Sort

Columns = Mapping[str, ColumnElement[Any]]


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def filter_clause(item: Filter, column: ColumnElement[Any]) -> ColumnElement[bool]:
    value = item.values[0]
    match item.operator:
        case Operator.IN:
            return column.in_(item.values)
        case Operator.LIKE:
            return column.ilike(f"%{_escape(str(value))}%", escape="\\")
        case Operator.STARTWITH:
            return column.ilike(f"{_escape(str(value))}%", escape="\\")
        case Operator.ENDWITH:
            return column.ilike(f"%{_escape(str(value))}", escape="\\")
        case Operator.EQ:
            return column == value
        case Operator.NE:
            return or_(column != value, column.is_(None))
        case Operator.GT:
            return column > value
        case Operator.LT:
            return column < value
        case Operator.GE:
            return column >= value
        case Operator.LE:
            return column <= value


def _clause(node: Node, filters: Mapping[str, Filter], columns: Columns) -> ColumnElement[bool]:
    if isinstance(node, Ref):
        item = filters[node.name]
        return filter_clause(item, columns[item.field])
    parts = [_clause(part, filters, columns) for part in node.parts]
    return and_(*parts) if isinstance(node, AllOf) else or_(*parts)


def where_clause(query: ListQuery, columns: Columns) -> ColumnElement[bool]:
    """The WHERE of ``query``; ``columns`` maps every catalogue field to its column."""
    if query.where is None:
        return true()
    return _clause(query.where, query.filters, columns)


def count_clause(filters: tuple[Filter, ...], columns: Columns) -> ColumnElement[bool]:
    """The extra condition of one named count (its filters ANDed)."""
    return and_(true(), *(filter_clause(item, columns[item.field]) for item in filters))


def order_clause(sort: Sort, columns: Columns) -> UnaryExpression[Any]:
    column = columns[sort.field]
    return column.desc() if sort.descending else column.asc()
