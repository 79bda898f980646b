"""Roles and what each may do; a higher role may do all that a lower one may."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    END_USER = "end_user"
    TECHNICIAN = "technician"
    INCIDENT_MANAGER = "incident_manager"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANK = {
    Role.END_USER: 0,
    Role.TECHNICIAN: 1,
    Role.INCIDENT_MANAGER: 2,
    Role.ADMIN: 3,
}

STAFF_ROLES = frozenset({Role.TECHNICIAN, Role.INCIDENT_MANAGER, Role.ADMIN})


@dataclass(frozen=True)
class Caller:
    """Who is asking: the identity every service call is checked against."""

    user_id: str
    email: str
    name: str
    role: Role

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    def can(self, needed: Role) -> bool:
        return self.role.at_least(needed)
