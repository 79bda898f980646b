"""The ``condition`` expression: filter names joined by ``&`` and ``|`` with parentheses.

Grammar (``&`` binds tighter than ``|``; whitespace is ignored)::

    expr   := term ( "|" term )*
    term   := factor ( "&" factor )*
    factor := NAME | "(" expr ")"
    NAME   := one or more of A-Z a-z 0-9 _ - . :

The parser is a recursive descent with an explicit nesting limit, so no input, however
long or deep, can exhaust the stack: every malformed input is a ``QueryError``.

The tree is kept flat: a group inside a group of the same operator joins its parent and a
part repeated in one group counts once (``a|a|b`` is ``a|b``), since both leave the meaning
unchanged. What is left may refer to filters at most ``MAX_TERMS`` times: a database turns
every reference into one more level of its expression tree and one more bound value per
filter value (SQLite refuses trees deeper than 1,000 and more than 32,766 values), so a
longer condition is a ``QueryError`` instead of a database error.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from opsdesk.query.errors import QueryError

MAX_LENGTH = 10_000
MAX_DEPTH = 32
MAX_TERMS = 200  # filter references once repeats are merged; x100 values stays in SQLite's bounds
_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z0-9_.:\-]+)|(?P<op>[&|()]))")


@dataclass(frozen=True)
class Ref:
    name: str


@dataclass(frozen=True)
class AllOf:
    """Every part must hold (``&``)."""

    parts: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    """At least one part must hold (``|``)."""

    parts: tuple[Node, ...]


Node = Ref | AllOf | AnyOf


def _tokens(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    position = 0
    end = len(text.rstrip())
    while position < end:
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            shown = text[position : position + 20].strip() or repr(text[position])
            raise QueryError(
                f"unexpected {shown!r} at character {position + 1}; use filter names, "
                "'&', '|' and parentheses",
                field="condition",
            )
        kind = "name" if match.group("name") is not None else "op"
        tokens.append((kind, match.group(kind), match.start(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str, int]], names: Collection[str]) -> None:
        self.tokens = tokens
        self.index = 0
        self.names = names

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def expr(self, depth: int) -> Node:
        parts = [self.term(depth)]
        while (token := self.peek()) is not None and token[1] == "|":
            self.index += 1
            parts.append(self.term(depth))
        return any_of(parts)

    def term(self, depth: int) -> Node:
        parts = [self.factor(depth)]
        while (token := self.peek()) is not None and token[1] == "&":
            self.index += 1
            parts.append(self.factor(depth))
        return all_of(parts)

    def factor(self, depth: int) -> Node:
        token = self.peek()
        if token is None:
            raise QueryError("ends where a filter name or '(' was expected", field="condition")
        kind, value, position = token
        self.index += 1
        if kind == "name":
            if value not in self.names:
                raise QueryError(
                    f"no filter is named {value!r} (character {position + 1}); name filters "
                    "with their 'name' and refer to them here",
                    field="condition",
                )
            return Ref(value)
        if value == "(":
            if depth >= MAX_DEPTH:
                raise QueryError(
                    f"parentheses nest deeper than {MAX_DEPTH} levels", field="condition"
                )
            inner = self.expr(depth + 1)
            closing = self.peek()
            if closing is None or closing[1] != ")":
                where = "the end" if closing is None else f"character {closing[2] + 1}"
                raise QueryError(
                    f"the '(' at character {position + 1} is not closed before {where}",
                    field="condition",
                )
            self.index += 1
            return inner
        raise QueryError(
            f"unexpected {value!r} at character {position + 1}; expected a filter name or '('",
            field="condition",
        )


def _merged(parts: Sequence[Node], kind: type[AllOf] | type[AnyOf]) -> tuple[Node, ...]:
    flat: list[Node] = []
    for part in parts:
        flat.extend(part.parts if isinstance(part, kind) else (part,))
    return tuple(dict.fromkeys(flat))  # drops repeats, keeps the first order


def all_of(parts: Sequence[Node]) -> Node:
    """``parts`` joined by ``&``, flat and without repeats."""
    merged = _merged(parts, AllOf)
    return merged[0] if len(merged) == 1 else AllOf(merged)


def any_of(parts: Sequence[Node]) -> Node:
    """``parts`` joined by ``|``, flat and without repeats."""
    merged = _merged(parts, AnyOf)
    return merged[0] if len(merged) == 1 else AnyOf(merged)


def term_count(node: Node) -> int:
    """How many filter references ``node`` holds."""
    count = 0
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Ref):
            count += 1
        else:
            stack.extend(current.parts)
    return count


def check_terms(node: Node) -> Node:
    """``node`` if it is within ``MAX_TERMS``, else the ``condition`` error."""
    count = term_count(node)
    if count > MAX_TERMS:
        raise QueryError(
            f"refers to filters {count} times (repeats merged); at most {MAX_TERMS} are allowed",
            field="condition",
        )
    return node


def parse_condition(text: str, names: Collection[str]) -> Node:
    """The expression tree of ``text``, whose names must all be among ``names``."""
    if len(text) > MAX_LENGTH:
        raise QueryError(f"is longer than {MAX_LENGTH} characters", field="condition")
    tokens = _tokens(text)
    if not tokens:
        raise QueryError("is empty; leave it out to AND all filters", field="condition")
    parser = _Parser(tokens, names)
    node = parser.expr(0)
    leftover = parser.peek()
    if leftover is not None:
        _kind, value, position = leftover
        what = "')' without a matching '('" if value == ")" else f"{value!r}"
        raise QueryError(
            f"unexpected {what} at character {position + 1}; join filters with '&' or '|'",
            field="condition",
        )
    return node


def referenced(node: Node) -> set[str]:
    """The filter names an expression uses."""
    if isinstance(node, Ref):
        return {node.name}
    found: set[str] = set()
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Ref):
            found.add(current.name)
        else:
            stack.extend(current.parts)
    return found
