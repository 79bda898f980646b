"""Pydantic shapes of users and tokens at the API boundary."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from opsdesk.auth.roles import Role

Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
    ),
]
Password = Annotated[str, Field(min_length=8, max_length=1024)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# Blank means "none": on update, "" clears the organisation (None leaves it as it is).
Organisation = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    name: Name | None = None
    role: Role = Role.END_USER
    password: Password | None = None
    organisation: Organisation | None = None


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    role: Role | None = None
    password: Password | None = None
    active: bool | None = None
    organisation: Organisation | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    name: str
    role: Role
    active: bool
    organisation: str | None
    created_at: datetime
    updated_at: datetime


class MeOut(BaseModel):
    id: str
    email: str
    name: str
    role: Role


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] = (
        "api"
    )


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: Annotated[str, Field(min_length=1, max_length=1024)]
    new_password: Password


class PasswordChanged(BaseModel):
    ended_sessions: int


class SessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    client_address: str
    user_agent: str
    current: bool = False


class SessionsEnded(BaseModel):
    ended_sessions: int


class AuthEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    kind: str
    email: str
    user_id: str | None
    client_address: str
    user_agent: str
    reason: str


class AccessKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] = (
        "api"
    )


class AccessKeyOut(BaseModel):
    """An access key as listed: never its secret."""

    model_config = ConfigDict(from_attributes=True)

    id: str  # the access key id (AK) that signed requests name
    user_id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class AccessKeyCreated(AccessKeyOut):
    secret_key: str  # shown this once only
