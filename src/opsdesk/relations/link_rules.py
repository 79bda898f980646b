"""Link rules (pure): the kinds of links between incidents and when a link is refused.

``related`` is symmetric; ``duplicate_of`` and ``caused_by`` are directed (the source is a
duplicate of, or caused by, the target) and read from the other side as "duplicated by" and
"causes". ``parent`` and ``child`` are kinds of the API only: an incident has at most one
parent, kept in ``incidents.parent_id``, and a parent may not be its own ancestor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from opsdesk.incidents.fields import Label


class LinkKind(StrEnum):
    RELATED = "related"
    DUPLICATE_OF = "duplicate_of"
    CAUSED_BY = "caused_by"
    # "this incident's parent is <number>" and "<number> is a child of this incident".
    PARENT = "parent"
    CHILD = "child"


# Kinds stored as link rows; parent/child is the incident's own column.
STORED_KINDS = frozenset({LinkKind.RELATED, LinkKind.DUPLICATE_OF, LinkKind.CAUSED_BY})
SYMMETRIC_KINDS = frozenset({LinkKind.RELATED})
FAMILY_KINDS = frozenset({LinkKind.PARENT, LinkKind.CHILD})


class Direction(StrEnum):
    """Which end of a link row the incident being looked at is."""

    OUTGOING = "outgoing"  # the incident is the source: "duplicate of INC-1"
    INCOMING = "incoming"  # the incident is the target: "duplicated by INC-2"


# (label read from the source, label read from the target)
_LABELS: dict[LinkKind, tuple[Label, Label]] = {
    LinkKind.RELATED: (Label("Related to", "相关"), Label("Related to", "相关")),
    LinkKind.DUPLICATE_OF: (Label("Duplicate of", "重复于"), Label("Duplicated by", "被重复")),
    LinkKind.CAUSED_BY: (Label("Caused by", "起因于"), Label("Causes", "导致")),
    LinkKind.PARENT: (Label("Child of", "子事件单"), Label("Parent of", "父事件单")),
    LinkKind.CHILD: (Label("Parent of", "父事件单"), Label("Child of", "子事件单")),
}


def link_label(kind: LinkKind, direction: Direction) -> Label:
    """How a link reads from one of its ends ("Duplicate of", "Duplicated by", ...)."""
    outgoing, incoming = _LABELS[kind]
    return outgoing if direction is Direction.OUTGOING else incoming


def parse_kind(value: object) -> LinkKind:
    """The kind a client named, or ``LinkRefused`` listing the kinds there are."""
    try:
        return LinkKind(str(value))
    except ValueError:
        names = ", ".join(kind.value for kind in LinkKind)
        raise LinkRefused(
            f"kind: unknown link kind {value!r}; use one of {names}", "kind"
        ) from None


class LinkRefused(Exception):
    """Why a link (or a parent) cannot be made; ``conflict`` when it clashes with what is
    there already (HTTP 409), else the request itself is wrong (HTTP 422)."""

    def __init__(self, message: str, field: str, *, conflict: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.conflict = conflict


@dataclass(frozen=True)
class End:
    """One incident at an end of a link, as the rules need it."""

    id: int
    number: str
    merged_into: str | None = None  # the primary's number when merged


@dataclass(frozen=True)
class StoredLink:
    source_id: int
    target_id: int
    kind: str


def _refuse_self_and_merged(source: End, target: End) -> None:
    if source.id == target.id:
        raise LinkRefused(f"number: {source.number} cannot be linked to itself", "number")
    for end in (target, source):
        if end.merged_into is not None:
            raise LinkRefused(
                f"number: {end.number} was merged into {end.merged_into}; "
                f"link {end.merged_into} instead",
                "number",
                conflict=True,
            )


def check_link(source: End, target: End, kind: LinkKind, existing: Iterable[StoredLink]) -> None:
    """Refuse a stored link that is to itself, to a merged incident, or that exists already
    (the same kind between the same two incidents, in either direction: the opposite of a
    directed link is a contradiction, the opposite of a symmetric one the same link)."""
    if kind not in STORED_KINDS:
        raise LinkRefused(f"kind: {kind} is not a link row kind", "kind")
    _refuse_self_and_merged(source, target)
    pair = {source.id, target.id}
    for link in existing:
        if link.kind == kind and {link.source_id, link.target_id} == pair:
            if link.source_id == source.id or kind in SYMMETRIC_KINDS:
                what = f"{source.number} is already linked to {target.number} as {kind}"
            else:
                what = f"{target.number} is already linked as {kind} {source.number}"
            raise LinkRefused(f"number: {what}", "number", conflict=True)


def check_parent(
    child: End,
    parent: End,
    *,
    current_parent: End | None,
    parent_of: Mapping[int, int | None],
    replace: bool,
) -> None:
    """Refuse making ``parent`` the parent of ``child`` when it is the child itself, merged,
    already its parent, a descendant of the child (a cycle at any depth), or when the child
    has another parent and ``replace`` was not asked for.

    ``parent_of`` maps incident ids to their parent ids for at least ``parent``'s ancestors.
    """
    _refuse_self_and_merged(child, parent)
    if current_parent is not None and current_parent.id == parent.id:
        raise LinkRefused(
            f"number: {parent.number} is already the parent of {child.number}",
            "number",
            conflict=True,
        )
    if cycle_through(child.id, parent.id, parent_of):
        raise LinkRefused(
            f"number: {parent.number} is a descendant of {child.number}; "
            "a parent cannot be its own child",
            "number",
            conflict=True,
        )
    if current_parent is not None and not replace:
        raise LinkRefused(
            f"replace: {child.number} already has parent {current_parent.number}; "
            "replace it explicitly (replace=true) or remove it first",
            "replace",
            conflict=True,
        )


def cycle_through(child_id: int, parent_id: int, parent_of: Mapping[int, int | None]) -> bool:
    """Whether ``child_id`` is ``parent_id`` or one of its ancestors (stops on bad data)."""
    seen: set[int] = set()
    current: int | None = parent_id
    while current is not None and current not in seen:
        if current == child_id:
            return True
        seen.add(current)
        current = parent_of.get(current)
    return False
