"""Who takes a lifecycle action, and what every action's effect shares."""

from __future__ import annotations

from dataclasses import dataclass

from opsdesk.auth.roles import Caller, Role
from opsdesk.incidents.models import Incident
from opsdesk.incidents.schemas import ActionParams


@dataclass(frozen=True)
class Actor:
    """Who acts: a person (with their role) or the system itself (``caller`` None)."""

    caller: Caller | None

    @property
    def role(self) -> Role | None:
        return None if self.caller is None else self.caller.role

    @property
    def user_id(self) -> str | None:
        return None if self.caller is None else self.caller.user_id

    def is_reporter_of(self, incident: Incident) -> bool:
        if self.caller is None:
            return False
        return self.caller.user_id in (incident.reporter_id, incident.creator_id)


def comment_of(params: ActionParams) -> str:
    """The optional comment an action's parameters carry."""
    value = getattr(params, "comment", "")
    return value if isinstance(value, str) else ""
