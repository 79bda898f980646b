"""The kinds of reference data, their URL names and the incident field each one feeds."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    LEVEL = "levels"
    CATEGORY = "categories"
    APPLICATION = "applications"
    REGION = "regions"
    ENTERPRISE_PROJECT = "enterprise-projects"

    @property
    def singular(self) -> str:
        return _SINGULAR[self]

    @property
    def incident_field(self) -> str:
        return _INCIDENT_FIELD[self]

    @property
    def admins_may_add(self) -> bool:
        """COC levels are fixed at P1-P5: they can be described and disabled, not added."""
        return self is not Kind.LEVEL


_SINGULAR = {
    Kind.LEVEL: "level",
    Kind.CATEGORY: "category",
    Kind.APPLICATION: "application",
    Kind.REGION: "region",
    Kind.ENTERPRISE_PROJECT: "enterprise project",
}

_INCIDENT_FIELD = {
    Kind.LEVEL: "level",
    Kind.CATEGORY: "category",
    Kind.APPLICATION: "application",
    Kind.REGION: "region",
    Kind.ENTERPRISE_PROJECT: "enterprise_project",
}
