"""Typed helpers that build test data through the real services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from opsdesk.assignment import shifts as assignment_shifts
from opsdesk.assignment.schemas import RoleCreate, SceneCreate
from opsdesk.auth import service as auth_service
from opsdesk.auth.roles import Caller, Role
from opsdesk.auth.schemas import UserCreate
from opsdesk.core.clock import Clock
from opsdesk.core.database import Database


@dataclass(frozen=True)
class Actor:
    """A user with an API token, ready to send requests."""

    caller: Caller
    token: str

    @property
    def id(self) -> str:
        return self.caller.user_id

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def make_actor(
    db: Database, clock: Clock, role: Role, email: str, password: str | None = None
) -> Actor:
    async with db.write() as session:
        user = await auth_service.create_user(
            session=session,
            data=UserCreate(email=email, role=role, password=password),
            now=clock.now(),
        )
        _row, token = await auth_service.create_token(
            session=session, user_id=user.id, name="test", now=clock.now()
        )
    return Actor(caller=auth_service.caller_of(user), token=token)


@dataclass(frozen=True)
class Desk:
    admin: Actor
    manager: Actor
    tech: Actor
    tech2: Actor
    user: Actor
    other_user: Actor


# Shift scenes and roles that tests name as owners; none has a rotation, so nobody is on
# duty and an incident handed to one waits in the shift's queue.
DESK_SHIFTS = {
    "noc": ("duty", "primary"),
    "desk": ("l1", "duty"),
    "dba": ("primary",),
    "sre_oncall": ("primary",),
    "service-desk": ("l1-analyst",),
}


async def make_desk(db: Database, clock: Clock) -> Desk:
    desk = Desk(
        admin=await make_actor(db, clock, Role.ADMIN, "admin@desk.test", "admin-password"),
        manager=await make_actor(db, clock, Role.INCIDENT_MANAGER, "manager@desk.test"),
        tech=await make_actor(db, clock, Role.TECHNICIAN, "tech@desk.test"),
        tech2=await make_actor(db, clock, Role.TECHNICIAN, "tech2@desk.test"),
        user=await make_actor(db, clock, Role.END_USER, "user@desk.test", "user-password"),
        other_user=await make_actor(db, clock, Role.END_USER, "other@desk.test"),
    )
    async with db.write() as session:
        for scene, roles in DESK_SHIFTS.items():
            await assignment_shifts.create_scene(
                session=session,
                caller=desk.admin.caller,
                data=SceneCreate(key=scene, name=scene),
                now=clock.now(),
            )
            for role in roles:
                await assignment_shifts.add_role(
                    session=session,
                    caller=desk.admin.caller,
                    scene_key=scene,
                    data=RoleCreate(key=role, name=role),
                    now=clock.now(),
                )
    return desk


async def create_incident(client: httpx.AsyncClient, actor: Actor, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"title": "Mail is down", **fields}
    response = await client.post("/api/v1/incidents", json=body, headers=actor.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created
