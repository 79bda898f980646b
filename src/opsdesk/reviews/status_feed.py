"""The status page's Atom feed (RFC 4287), built as an element tree: one entry per public
update, so every text is escaped by the serializer, never by hand."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from opsdesk.reviews.status_rules import STATE_LABELS, UpdateState

ATOM = "http://www.w3.org/2005/Atom"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Entry:
    """One public update as the feed shows it."""

    update_id: int
    public_id: str
    incident_title: str
    state: UpdateState
    message: str
    posted_at: datetime


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _child(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
    if text is not None:
        element.text = text
    return element


def atom_feed(*, base_url: str, title: str, entries: Sequence[Entry]) -> bytes:
    """The feed document (UTF-8, with its XML declaration)."""
    base = base_url.rstrip("/")
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _child(feed, "id", f"{base}/status")
    _child(feed, "title", title)
    updated = max((entry.posted_at for entry in entries), default=EPOCH)
    _child(feed, "updated", _stamp(updated))
    _child(feed, "link", rel="self", type="application/atom+xml", href=f"{base}/status/feed.atom")
    _child(feed, "link", rel="alternate", type="text/html", href=f"{base}/status")
    author = _child(feed, "author")
    _child(author, "name", title)
    for entry in entries:
        item = _child(feed, "entry")
        page = f"{base}/status/incidents/{entry.public_id}"
        _child(item, "id", f"{page}#update-{entry.update_id}")
        _child(item, "title", f"{STATE_LABELS[entry.state]}: {entry.incident_title}")
        _child(item, "updated", _stamp(entry.posted_at))
        _child(item, "published", _stamp(entry.posted_at))
        _child(item, "link", rel="alternate", type="text/html", href=page)
        _child(item, "content", entry.message, type="text")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body
