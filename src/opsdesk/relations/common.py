"""What merge, undo and split share: a rule's refusal as the error it is, and staff only."""

from __future__ import annotations

from opsdesk.auth.roles import Caller
from opsdesk.core.errors import Conflict, Forbidden, ValidationFailed
from opsdesk.relations.merge_rules import Refusal


def raise_refusal(refusal: Refusal | None) -> None:
    if refusal is None:
        return
    if refusal.conflict:
        raise Conflict(refusal.message, field=refusal.field)
    raise ValidationFailed(refusal.message, field=refusal.field)


def staff_only(caller: Caller, what: str) -> None:
    if not caller.is_staff:
        raise Forbidden(f"only staff may {what}")
