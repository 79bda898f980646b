"""Who is told about what: recipient kinds and the default event → recipients rules."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from opsdesk.core.errors import ValidationFailed


class RecipientKind(StrEnum):
    REPORTER = "reporter"
    ASSIGNEE = "assignee"
    # Every member of the incident's workgroup.
    GROUP = "group"
    # People following an incident (collaboration.watchers).
    WATCHERS = "watchers"
    # The incident managers (users with that role): whom an SLA escalation goes up to.
    MANAGER = "manager"


R = RecipientKind

# With no rule edited, the reporter hears about creation and resolution (issue 6), and the
# people who work the incident hear about what lands on their desk.
DEFAULT_RULES: dict[str, tuple[RecipientKind, ...]] = {
    "created": (R.REPORTER, R.ASSIGNEE, R.GROUP),
    "assigned": (R.ASSIGNEE,),
    "accepted": (R.REPORTER,),
    "public_reply": (R.REPORTER, R.ASSIGNEE, R.WATCHERS),
    "resolved": (R.REPORTER, R.WATCHERS),
    "reopened": (R.ASSIGNEE, R.GROUP),
    "completed": (R.REPORTER,),
    "sla_warning": (R.ASSIGNEE, R.GROUP),
    "sla_breach": (R.ASSIGNEE, R.GROUP),
    "confirm_reminder": (R.REPORTER,),
    # Tasks and work orders (notify.work_notices): ASSIGNEE and GROUP mean the item's own
    # assignee, or, when it has none, the members of its workgroup.
    "work_assigned": (R.ASSIGNEE, R.GROUP),
    "work_due_soon": (R.ASSIGNEE, R.GROUP),
    "work_overdue": (R.ASSIGNEE, R.GROUP),
    # Post-incident reviews (reviews.pir_notices): ASSIGNEE means the people the step is
    # for: the reviewers when submitted, the approvers when reviewed, the author when
    # returned or approved.
    "review_submitted": (R.ASSIGNEE,),
    "review_reviewed": (R.ASSIGNEE,),
    "review_returned": (R.ASSIGNEE,),
    "review_approved": (R.ASSIGNEE,),
    # Major incidents (reviews/major_team.py, major_cadence.py): ASSIGNEE means the person
    # paged to the response team, or the major incident's manager for the update reminder.
    "major_paged": (R.ASSIGNEE,),
    "major_update_due": (R.ASSIGNEE,),
}


def parse_recipients(values: Sequence[str], *, field: str = "recipients") -> list[RecipientKind]:
    """Validated recipient kinds in the given order, each once."""
    known = {kind.value for kind in RecipientKind}
    kinds: list[RecipientKind] = []
    for value in values:
        if value not in known:
            raise ValidationFailed(
                f"{field}: unknown recipient kind {value!r}; known: {', '.join(sorted(known))}",
                field=field,
            )
        if RecipientKind(value) not in kinds:
            kinds.append(RecipientKind(value))
    return kinds
