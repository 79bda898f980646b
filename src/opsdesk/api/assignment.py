"""Routes for the priority matrix, workgroups, technicians, shifts and assignment rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response

from opsdesk.api.deps import (
    DB,
    AdminCaller,
    ClockDep,
    CurrentCaller,
    ManagerCaller,
    StaffCaller,
)
from opsdesk.assignment import service
from opsdesk.assignment import shifts as assignment_shifts
from opsdesk.assignment import technicians as assignment_technicians
from opsdesk.assignment import workgroups as assignment_workgroups
from opsdesk.assignment.rules import IncidentFacts, Trigger
from opsdesk.assignment.schemas import (
    AbsenceCreate,
    AbsenceOut,
    AssignmentOut,
    MembersIn,
    OnDutyOut,
    OverrideCreate,
    OverrideOut,
    RoleCreate,
    RoleOut,
    RotationCreate,
    RotationOut,
    RotationUpdate,
    RuleCreate,
    RuleOut,
    RuleTestIn,
    RuleUpdate,
    SceneCreate,
    SceneOut,
    SceneUpdate,
    TechnicianOut,
    TechnicianUpdate,
    WorkgroupCreate,
    WorkgroupOut,
    WorkgroupUpdate,
)
from opsdesk.core.bounds import Moment, RowId
from opsdesk.core.errors import ValidationFailed
from opsdesk.incidents import assigning
from opsdesk.incidents.fields import LEVEL_LABELS, SCALE_LABELS
from opsdesk.incidents.matrix import DEFAULT_MATRIX, Cell
from opsdesk.incidents.priority import current_matrix, replace_matrix
from opsdesk.incidents.schemas import MatrixCellOut, MatrixIn, MatrixOut

router = APIRouter(prefix="/api/v1", tags=["assignment"])


def _matrix_out(cells: dict[Cell, str]) -> MatrixOut:
    return MatrixOut(
        impacts={value: label.en for value, label in SCALE_LABELS.items()},
        urgencies={value: label.en for value, label in SCALE_LABELS.items()},
        cells=[
            MatrixCellOut(
                impact=impact,
                urgency=urgency,
                level=level,
                level_label=LEVEL_LABELS[level].en if level in LEVEL_LABELS else level,
            )
            for (impact, urgency), level in sorted(cells.items())
        ],
    )


@router.get("/priority-matrix", response_model=MatrixOut)
async def get_matrix(caller: CurrentCaller, db: DB) -> MatrixOut:
    async with db.read() as session:
        stored = await current_matrix(session=session)
    return _matrix_out(DEFAULT_MATRIX | stored)


@router.put("/priority-matrix", response_model=MatrixOut)
async def put_matrix(body: MatrixIn, caller: AdminCaller, db: DB, clock: ClockDep) -> MatrixOut:
    async with db.write() as session:
        cells = await replace_matrix(
            session=session, caller=caller, cells=body.cells, now=clock.now()
        )
    return _matrix_out(cells)


# Workgroups ------------------------------------------------------------------------------


@router.get("/workgroups", response_model=list[WorkgroupOut])
async def list_workgroups(caller: StaffCaller, db: DB) -> list[WorkgroupOut]:
    async with db.read() as session:
        groups = await assignment_workgroups.list_workgroups(session=session, caller=caller)
    return [WorkgroupOut.model_validate(group) for group in groups]


@router.post("/workgroups", status_code=201, response_model=WorkgroupOut)
async def create_workgroup(
    body: WorkgroupCreate, caller: AdminCaller, db: DB, clock: ClockDep, response: Response
) -> WorkgroupOut:
    async with db.write() as session:
        group = await assignment_workgroups.create_workgroup(
            session=session, caller=caller, data=body, now=clock.now()
        )
    response.headers["Location"] = f"/api/v1/workgroups/{group.key}"
    return WorkgroupOut.model_validate(group)


@router.get("/workgroups/{key}", response_model=WorkgroupOut)
async def get_workgroup(key: str, caller: StaffCaller, db: DB) -> WorkgroupOut:
    async with db.read() as session:
        group = await assignment_workgroups.get_workgroup(session=session, caller=caller, key=key)
    return WorkgroupOut.model_validate(group)


@router.patch("/workgroups/{key}", response_model=WorkgroupOut)
async def update_workgroup(
    key: str, body: WorkgroupUpdate, caller: AdminCaller, db: DB, clock: ClockDep
) -> WorkgroupOut:
    async with db.write() as session:
        group = await assignment_workgroups.update_workgroup(
            session=session, caller=caller, key=key, data=body, now=clock.now()
        )
    return WorkgroupOut.model_validate(group)


@router.put("/workgroups/{key}/members", response_model=WorkgroupOut)
async def set_members(
    key: str, body: MembersIn, caller: AdminCaller, db: DB, clock: ClockDep
) -> WorkgroupOut:
    async with db.write() as session:
        group = await assignment_workgroups.set_members(
            session=session, caller=caller, key=key, members=body.members, now=clock.now()
        )
    return WorkgroupOut.model_validate(group)


@router.delete("/workgroups/{key}", status_code=204)
async def delete_workgroup(key: str, caller: AdminCaller, db: DB) -> Response:
    async with db.write() as session:
        await assignment_workgroups.delete_workgroup(session=session, caller=caller, key=key)
    return Response(status_code=204)


# Technicians -----------------------------------------------------------------------------


@router.get("/technicians", response_model=list[TechnicianOut])
async def list_technicians(caller: StaffCaller, db: DB, clock: ClockDep) -> list[TechnicianOut]:
    async with db.read() as session:
        people = await assignment_technicians.list_technicians(
            session=session, caller=caller, now=clock.now()
        )
    return [TechnicianOut.model_validate(person) for person in people]


@router.get("/technicians/{user_id}", response_model=TechnicianOut)
async def get_technician(
    user_id: str, caller: CurrentCaller, db: DB, clock: ClockDep
) -> TechnicianOut:
    async with db.read() as session:
        person = await assignment_technicians.get_technician(
            session=session, caller=caller, user_id=user_id, now=clock.now()
        )
    return TechnicianOut.model_validate(person)


@router.patch("/technicians/{user_id}", response_model=TechnicianOut)
async def update_technician(
    user_id: str, body: TechnicianUpdate, caller: StaffCaller, db: DB, clock: ClockDep
) -> TechnicianOut:
    async with db.write() as session:
        person = await assignment_technicians.update_technician(
            session=session, caller=caller, user_id=user_id, data=body, now=clock.now()
        )
    return TechnicianOut.model_validate(person)


@router.get("/technicians/{user_id}/absences", response_model=list[AbsenceOut])
async def list_absences(
    user_id: str, caller: StaffCaller, db: DB, clock: ClockDep
) -> list[AbsenceOut]:
    async with db.read() as session:
        rows = await assignment_technicians.list_absences(
            session=session, caller=caller, user_id=user_id, now=clock.now()
        )
    return [AbsenceOut.model_validate(row) for row in rows]


@router.post("/technicians/{user_id}/absences", status_code=201, response_model=AbsenceOut)
async def add_absence(
    user_id: str, body: AbsenceCreate, caller: StaffCaller, db: DB, clock: ClockDep
) -> AbsenceOut:
    async with db.write() as session:
        row = await assignment_technicians.add_absence(
            session=session, caller=caller, user_id=user_id, data=body, now=clock.now()
        )
    return AbsenceOut.model_validate(row)


@router.delete("/technicians/{user_id}/absences/{absence_id}", status_code=204)
async def delete_absence(user_id: str, absence_id: RowId, caller: StaffCaller, db: DB) -> Response:
    async with db.write() as session:
        await assignment_technicians.delete_absence(
            session=session, caller=caller, user_id=user_id, absence_id=absence_id
        )
    return Response(status_code=204)


# Shifts ----------------------------------------------------------------------------------


def _scene_out(scene: assignment_shifts.SceneView) -> SceneOut:
    return SceneOut(
        key=scene.key,
        name=scene.name,
        description=scene.description,
        time_zone=scene.time_zone,
        kind=scene.kind,
        roles=[RoleOut.model_validate(role) for role in scene.roles],
    )


@router.get("/shift-scenes", response_model=list[SceneOut])
async def list_scenes(caller: StaffCaller, db: DB) -> list[SceneOut]:
    async with db.read() as session:
        scenes = await assignment_shifts.list_scenes(session=session, caller=caller)
    return [_scene_out(scene) for scene in scenes]


@router.post("/shift-scenes", status_code=201, response_model=SceneOut)
async def create_scene(
    body: SceneCreate, caller: AdminCaller, db: DB, clock: ClockDep, response: Response
) -> SceneOut:
    async with db.write() as session:
        scene = await assignment_shifts.create_scene(
            session=session, caller=caller, data=body, now=clock.now()
        )
    response.headers["Location"] = f"/api/v1/shift-scenes/{scene.key}"
    return _scene_out(scene)


@router.get("/shift-scenes/{scene}", response_model=SceneOut)
async def get_scene(scene: str, caller: StaffCaller, db: DB) -> SceneOut:
    async with db.read() as session:
        found = await assignment_shifts.get_scene(session=session, caller=caller, key=scene)
    return _scene_out(found)


@router.patch("/shift-scenes/{scene}", response_model=SceneOut)
async def update_scene(
    scene: str, body: SceneUpdate, caller: AdminCaller, db: DB, clock: ClockDep
) -> SceneOut:
    async with db.write() as session:
        found = await assignment_shifts.update_scene(
            session=session, caller=caller, key=scene, data=body, now=clock.now()
        )
    return _scene_out(found)


@router.post("/shift-scenes/{scene}/roles", status_code=201, response_model=RoleOut)
async def add_role(
    scene: str, body: RoleCreate, caller: AdminCaller, db: DB, clock: ClockDep
) -> RoleOut:
    async with db.write() as session:
        role = await assignment_shifts.add_role(
            session=session, caller=caller, scene_key=scene, data=body, now=clock.now()
        )
    return RoleOut.model_validate(role)


@router.delete("/shift-scenes/{scene}/roles/{role}", status_code=204)
async def delete_role(scene: str, role: str, caller: AdminCaller, db: DB) -> Response:
    async with db.write() as session:
        await assignment_shifts.delete_role(
            session=session, caller=caller, scene_key=scene, role_key=role
        )
    return Response(status_code=204)


@router.get("/shift-scenes/{scene}/roles/{role}/rotations", response_model=list[RotationOut])
async def list_rotations(scene: str, role: str, caller: StaffCaller, db: DB) -> list[RotationOut]:
    async with db.read() as session:
        rows = await assignment_shifts.list_rotations(
            session=session, caller=caller, scene_key=scene, role_key=role
        )
    return [RotationOut.model_validate(row) for row in rows]


@router.post(
    "/shift-scenes/{scene}/roles/{role}/rotations", status_code=201, response_model=RotationOut
)
async def add_rotation(
    scene: str, role: str, body: RotationCreate, caller: AdminCaller, db: DB, clock: ClockDep
) -> RotationOut:
    async with db.write() as session:
        row = await assignment_shifts.add_rotation(
            session=session,
            caller=caller,
            scene_key=scene,
            role_key=role,
            data=body,
            now=clock.now(),
        )
    return RotationOut.model_validate(row)


@router.patch(
    "/shift-scenes/{scene}/roles/{role}/rotations/{rotation_id}", response_model=RotationOut
)
async def update_rotation(
    scene: str,
    role: str,
    rotation_id: RowId,
    body: RotationUpdate,
    caller: AdminCaller,
    db: DB,
    clock: ClockDep,
) -> RotationOut:
    async with db.write() as session:
        row = await assignment_shifts.update_rotation(
            session=session,
            caller=caller,
            scene_key=scene,
            role_key=role,
            rotation_id=rotation_id,
            data=body,
            now=clock.now(),
        )
    return RotationOut.model_validate(row)


@router.delete("/shift-scenes/{scene}/roles/{role}/rotations/{rotation_id}", status_code=204)
async def delete_rotation(
    scene: str, role: str, rotation_id: RowId, caller: AdminCaller, db: DB
) -> Response:
    async with db.write() as session:
        await assignment_shifts.delete_rotation(
            session=session, caller=caller, scene_key=scene, role_key=role, rotation_id=rotation_id
        )
    return Response(status_code=204)


@router.get("/shift-scenes/{scene}/roles/{role}/overrides", response_model=list[OverrideOut])
async def list_overrides(
    scene: str,
    role: str,
    caller: StaffCaller,
    db: DB,
    clock: ClockDep,
    since: Annotated[Moment | None, Query(alias="from")] = None,
    until: Annotated[Moment | None, Query(alias="to")] = None,
) -> list[OverrideOut]:
    start = _aware(since, "from") or clock.now()
    end = _aware(until, "to") or start + timedelta(days=31)
    async with db.read() as session:
        rows = await assignment_shifts.list_overrides(
            session=session, caller=caller, scene_key=scene, role_key=role, since=start, until=end
        )
    return [OverrideOut.model_validate(row) for row in rows]


@router.post(
    "/shift-scenes/{scene}/roles/{role}/overrides", status_code=201, response_model=OverrideOut
)
async def add_override(
    scene: str, role: str, body: OverrideCreate, caller: ManagerCaller, db: DB, clock: ClockDep
) -> OverrideOut:
    async with db.write() as session:
        row = await assignment_shifts.add_override(
            session=session,
            caller=caller,
            scene_key=scene,
            role_key=role,
            data=body,
            now=clock.now(),
        )
    return OverrideOut.model_validate(row)


@router.delete("/shift-scenes/{scene}/roles/{role}/overrides/{override_id}", status_code=204)
async def delete_override(
    scene: str, role: str, override_id: RowId, caller: ManagerCaller, db: DB
) -> Response:
    async with db.write() as session:
        await assignment_shifts.delete_override(
            session=session, caller=caller, scene_key=scene, role_key=role, override_id=override_id
        )
    return Response(status_code=204)


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValidationFailed(
            f"{name}: give a time zone offset (e.g. 2026-12-01T09:00:00Z)", field=name
        )
    return value


@router.get("/shift-scenes/{scene}/roles/{role}/on-duty", response_model=OnDutyOut)
async def who_is_on_duty(
    scene: str,
    role: str,
    caller: StaffCaller,
    db: DB,
    clock: ClockDep,
    at: Moment | None = None,
) -> OnDutyOut:
    """Who is on duty for the role at ``at`` (default: now), and what put them there."""
    moment = _aware(at, "at") or clock.now()
    async with db.read() as session:
        await assignment_shifts.check_shift(session=session, scene=scene, role=role)
        duty = await assignment_shifts.on_duty(session=session, scene=scene, role=role, at=moment)
    return OnDutyOut(
        scene=scene,
        role=role,
        at=moment.astimezone(UTC),
        user_id=duty.user_id,
        reason=duty.reason,
        override_id=None if duty.override is None else duty.override.id,
        rotation_id=None if duty.turn is None else duty.turn.rotation.id,
        turn_starts_at=None if duty.turn is None else duty.turn.starts_at,
        turn_ends_at=None if duty.turn is None else duty.turn.ends_at,
        fallbacks=[turn.user_id for turn in duty.fallbacks],
    )


# Assignment rules ------------------------------------------------------------------------


@router.get("/assignment-rules", response_model=list[RuleOut])
async def list_rules(caller: StaffCaller, db: DB) -> list[RuleOut]:
    async with db.read() as session:
        rows = await service.list_rules(session=session, caller=caller)
    return [RuleOut.model_validate(row) for row in rows]


@router.post("/assignment-rules", status_code=201, response_model=RuleOut)
async def create_rule(
    body: RuleCreate, caller: AdminCaller, db: DB, clock: ClockDep, response: Response
) -> RuleOut:
    async with db.write() as session:
        row = await service.create_rule(session=session, caller=caller, data=body, now=clock.now())
    response.headers["Location"] = f"/api/v1/assignment-rules/{row.id}"
    return RuleOut.model_validate(row)


@router.post("/assignment-rules/test", response_model=AssignmentOut)
async def test_rules(
    body: RuleTestIn, caller: StaffCaller, db: DB, clock: ClockDep
) -> AssignmentOut:
    """Dry run: where would an incident with these facts go now? Nothing is saved."""
    async with db.read() as session:
        found = await service.route(
            session=session,
            facts=IncidentFacts(
                title=body.title,
                description=body.description,
                category=body.category,
                application=body.application,
                level=body.level,
                region=body.region,
                source=body.source,
            ),
            trigger=Trigger(body.trigger),
            now=clock.now(),
            open_counts=assigning.open_counter(session),
        )
    if found is None:
        return AssignmentOut(
            rule_id=None,
            workgroup=None,
            assignee_id=None,
            assignee_scene=None,
            assignee_role=None,
            note="no rule matches: the incident would stay unassigned",
        )
    return AssignmentOut(
        rule_id=found.rule_id,
        workgroup=found.workgroup,
        assignee_id=found.user_id,
        assignee_scene=found.scene,
        assignee_role=found.role,
        note=found.note,
    )


@router.get("/assignment-rules/{rule_id}", response_model=RuleOut)
async def get_rule(rule_id: RowId, caller: StaffCaller, db: DB) -> RuleOut:
    async with db.read() as session:
        row = await service.get_rule(session=session, caller=caller, rule_id=rule_id)
    return RuleOut.model_validate(row)


@router.patch("/assignment-rules/{rule_id}", response_model=RuleOut)
async def update_rule(
    rule_id: RowId, body: RuleUpdate, caller: AdminCaller, db: DB, clock: ClockDep
) -> RuleOut:
    async with db.write() as session:
        row = await service.update_rule(
            session=session, caller=caller, rule_id=rule_id, data=body, now=clock.now()
        )
    return RuleOut.model_validate(row)


@router.delete("/assignment-rules/{rule_id}", status_code=204)
async def delete_rule(rule_id: RowId, caller: AdminCaller, db: DB) -> Response:
    async with db.write() as session:
        await service.delete_rule(session=session, caller=caller, rule_id=rule_id)
    return Response(status_code=204)
