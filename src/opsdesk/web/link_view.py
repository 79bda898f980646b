"""The Links section of the incident page: what it shows (links, parent, children)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.incidents.models import Incident
from opsdesk.relations import links
from opsdesk.relations.link_rules import Direction, LinkKind, link_label
from opsdesk.web.common import STATUS_CLASSES

# The choices of the add form, as they read from this incident.
KIND_CHOICES: list[tuple[str, str]] = [
    (LinkKind.RELATED.value, "Related to"),
    (LinkKind.DUPLICATE_OF.value, "Duplicate of"),
    (LinkKind.CAUSED_BY.value, "Caused by"),
    (LinkKind.PARENT.value, "Child of (set the parent)"),
    (LinkKind.CHILD.value, "Parent of (add a child)"),
]


@dataclass(frozen=True)
class LinkedView:
    number: str
    title: str
    phase_label: str
    status_class: str


@dataclass(frozen=True)
class LinkRow:
    id: int
    label: str
    incident: LinkedView


@dataclass(frozen=True)
class LinkSection:
    links: list[LinkRow]
    parent: LinkedView | None
    parent_label: str
    children: list[LinkedView]
    kinds: list[tuple[str, str]]

    @property
    def empty(self) -> bool:
        return not (self.links or self.parent or self.children)


def _view(found: links.LinkedIncident) -> LinkedView:
    return LinkedView(
        number=found.number,
        title=found.title,
        phase_label=found.phase_label,
        status_class=STATUS_CLASSES.get(found.status, "unknown"),
    )


async def section(session: AsyncSession, caller: Caller, incident: Incident) -> LinkSection:
    """What the caller may see of the incident's links (see ``relations.links``)."""
    found = await links.list_links(session=session, caller=caller, number=incident.number)
    return LinkSection(
        links=[
            LinkRow(id=view.id, label=view.label, incident=_view(view.incident))
            for view in found.links
            if view.id is not None
        ],
        parent=None if found.parent is None else _view(found.parent),
        parent_label=link_label(LinkKind.PARENT, Direction.OUTGOING).en,
        children=[_view(child) for child in found.children],
        kinds=KIND_CHOICES,
    )
