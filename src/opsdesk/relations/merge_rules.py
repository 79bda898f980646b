"""When a merge, an undo of a merge or a split may happen: pure rules, no storage.

Refusals are ``(field, message)`` pairs; the service raises them as 409 Conflict (the state
of the incidents forbids it) or 422 (the request itself is wrong).

Cycles cannot form: the primary may not itself be merged, a secondary may not already be
merged, and a secondary may not be the primary of an active merge (merge into its primary
instead). So every merged incident points at an incident that is not merged, and a chain of
merges is always one step long (which ``incidents.access.primary_of`` relies on).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from opsdesk.incidents.fields import Status

MAX_SECONDARIES = 50


@dataclass(frozen=True)
class MergeFacts:
    """What the rules need to know of one incident, read after it was locked."""

    number: str
    status: str
    merged_into: str | None  # number of the primary it is merged into, if any
    primary_of: tuple[str, ...] = ()  # numbers of incidents actively merged into it


@dataclass(frozen=True)
class Refusal:
    field: str
    message: str
    conflict: bool = True  # False: the request is invalid (422), not the state (409)


def check_request(primary: str, secondaries: list[str]) -> Refusal | None:
    """The shape of the request, before anything is read."""
    if not secondaries:
        return Refusal("secondaries", "secondaries: name at least one incident", conflict=False)
    if len(secondaries) > MAX_SECONDARIES:
        return Refusal(
            "secondaries",
            f"secondaries: at most {MAX_SECONDARIES} incidents can be merged at once",
            conflict=False,
        )
    if len(set(secondaries)) != len(secondaries):
        return Refusal("secondaries", "secondaries: an incident is named twice", conflict=False)
    if primary in secondaries:
        return Refusal(
            "secondaries",
            f"secondaries: {primary} cannot be merged into itself (that would be a cycle)",
            conflict=False,
        )
    return None


def check_merge(primary: MergeFacts, secondaries: list[MergeFacts]) -> Refusal | None:
    """The state of the locked incidents: the first reason the merge cannot happen."""
    if primary.merged_into is not None:
        return Refusal(
            "primary",
            f"primary: {primary.number} is itself merged into {primary.merged_into}; "
            f"merge into {primary.merged_into} instead",
        )
    if primary.status == Status.COMPLETED:
        return Refusal(
            "primary", f"primary: {primary.number} is completed; reopen it first to merge into it"
        )
    for secondary in secondaries:
        if secondary.merged_into is not None:
            return Refusal(
                "secondaries",
                f"secondaries: {secondary.number} is already merged into {secondary.merged_into}",
            )
        if primary.number in secondary.primary_of or secondary.number == primary.merged_into:
            return Refusal(
                "secondaries",
                f"secondaries: merging {secondary.number} into {primary.number} would form a cycle",
            )
        if secondary.primary_of:
            return Refusal(
                "secondaries",
                f"secondaries: {', '.join(secondary.primary_of)} are merged into "
                f"{secondary.number}; merge into {secondary.number} instead, or undo those "
                "merges first",
            )
    return None


def check_undo(
    *, number: str, merged_at: datetime, now: datetime, window: timedelta
) -> Refusal | None:
    """A merge may be undone only within the configured window."""
    if now - merged_at > window:
        hours = window.total_seconds() / 3600
        return Refusal(
            "merged_at",
            f"merged_at: {number} was merged more than {hours:g} h ago; the undo window "
            f"(OPSDESK_UNMERGE_WINDOW_HOURS = {hours:g}) has passed",
        )
    return None


def undo_deadline(merged_at: datetime, window: timedelta) -> datetime:
    return merged_at + window


def split_attachment_room(*, wanted: int, limit: int) -> Refusal | None:
    """A split copies attachments onto a new incident, within the per-incident limit."""
    if wanted > limit:
        return Refusal(
            "attachment_ids",
            f"attachment_ids: a new incident may have at most {limit} attachments, "
            f"{wanted} were chosen",
            conflict=False,
        )
    return None
