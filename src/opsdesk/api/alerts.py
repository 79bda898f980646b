"""Alert receivers (Alertmanager, Grafana, generic), integrations and alert views.

Translation only: a receiver checks the key and the rate, parses the payload with the
sender's parser and hands the alerts to one ingest call in one transaction; a 2xx means
the alerts are committed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam

from opsdesk.alerts import integrations, queries, service
from opsdesk.alerts.payloads import NormalisedAlert, parse_generic, parse_webhook
from opsdesk.alerts.ratelimit import RateLimiter
from opsdesk.alerts.schemas import (
    AlertGroupDetail,
    AlertGroupOut,
    AlertOut,
    IntegrationCreate,
    IntegrationCreated,
    IntegrationOut,
    IntegrationUpdate,
    RuleIn,
    RuleOut,
)
from opsdesk.api.deps import DB, AdminCaller, ClockDep, Rules, StaffCaller
from opsdesk.auth.roles import Role
from opsdesk.auth.service import require_role
from opsdesk.core.bounds import RowId
from opsdesk.core.clock import Clock
from opsdesk.core.database import Database
from opsdesk.core.errors import TooManyAttempts, ValidationFailed
from opsdesk.incidents.access import access_incident
from opsdesk.incidents.rules import IncidentRules

router = APIRouter(tags=["alerts"])
IntegrationKey = Annotated[str, PathParam(min_length=1, max_length=64)]
MAX_BODY = 8 * 1024 * 1024


def rate_limiter(request: Request) -> RateLimiter:
    """The process's token buckets (see alerts/ratelimit.py for why per process)."""
    limiter: RateLimiter | None = getattr(request.app.state, "alert_rate_limiter", None)
    if limiter is None:
        limiter = RateLimiter()
        request.app.state.alert_rate_limiter = limiter
    return limiter


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ValidationFailed(f"body: larger than {MAX_BODY} bytes", field="body")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValidationFailed("body: is not valid JSON", field="body") from None


async def receive(
    *,
    request: Request,
    db: Database,
    clock: Clock,
    rules: IncidentRules,
    key: str,
    kinds: tuple[str, ...],
    parse: Callable[[Any], list[NormalisedAlert]],
) -> service.IngestResult:
    """Key, rate, payload, one transaction: the path every receiver shares."""
    async with db.read() as session:
        integration = await service.integration_by_key(session=session, key=key, kind=kinds)
    wait = rate_limiter(request).take(
        integration.id, per_second=integration.rate_limit_per_s, now=time.monotonic()
    )
    if wait:
        raise TooManyAttempts(
            f"integration {integration.name!r} sends more than "
            f"{integration.rate_limit_per_s} requests per second",
            retry_after_s=wait,
            field="integration_key",
        )
    alerts = parse(await json_body(request))
    async with db.write() as session:
        return await service.ingest(
            session=session, integration=integration, alerts=alerts, now=clock.now(), rules=rules
        )


def _accepted(result: service.IngestResult) -> Response:
    body = {"status": "ok", "alerts": result.alerts, "incidents": result.new_incidents}
    return Response(orjson.dumps(body), media_type="application/json")


@router.post("/api/v1/alerts/alertmanager/{integration_key}")
async def alertmanager_webhook(
    integration_key: IntegrationKey, request: Request, db: DB, clock: ClockDep, rules: Rules
) -> Response:
    """Prometheus Alertmanager's webhook (payload version 4)."""
    result = await receive(
        request=request,
        db=db,
        clock=clock,
        rules=rules,
        key=integration_key,
        kinds=("alertmanager", "grafana"),
        parse=parse_webhook,
    )
    return _accepted(result)


@router.post("/api/v1/alerts/grafana/{integration_key}")
async def grafana_webhook(
    integration_key: IntegrationKey, request: Request, db: DB, clock: ClockDep, rules: Rules
) -> Response:
    """Grafana alerting's webhook contact point."""
    result = await receive(
        request=request,
        db=db,
        clock=clock,
        rules=rules,
        key=integration_key,
        kinds=("grafana", "alertmanager"),
        parse=parse_webhook,
    )
    return _accepted(result)


@router.post("/api/v1/alerts/generic/{integration_key}")
async def generic_webhook(
    integration_key: IntegrationKey, request: Request, db: DB, clock: ClockDep, rules: Rules
) -> Response:
    """Our generic JSON webhook (docs/alerts.md has the mapping)."""
    result = await receive(
        request=request,
        db=db,
        clock=clock,
        rules=rules,
        key=integration_key,
        kinds=("generic",),
        parse=parse_generic,
    )
    return _accepted(result)


# ---- integrations (administrators) ---------------------------------------------------------


@router.get("/api/v1/integrations", response_model=list[IntegrationOut])
async def list_integrations(caller: AdminCaller, db: DB) -> list[Any]:
    require_role(caller, Role.ADMIN)
    async with db.read() as session:
        return list(await integrations.list_integrations(session=session))


@router.post("/api/v1/integrations", response_model=IntegrationCreated, status_code=201)
async def create_integration(
    data: IntegrationCreate, caller: AdminCaller, db: DB, clock: ClockDep
) -> dict[str, Any]:
    require_role(caller, Role.ADMIN)
    async with db.write() as session:
        row, key = await integrations.create_integration(
            session=session,
            name=data.name,
            kind=data.kind,
            acting_user_id=caller.user_id,
            now=clock.now(),
            rate_limit_per_s=data.rate_limit_per_s,
            group_by=data.group_by,
            group_window_s=data.group_window_s,
        )
    return IntegrationOut.model_validate(row).model_dump() | {"key": key}


@router.patch("/api/v1/integrations/{integration_id}", response_model=IntegrationOut)
async def update_integration(
    integration_id: RowId, data: IntegrationUpdate, caller: AdminCaller, db: DB
) -> Any:
    require_role(caller, Role.ADMIN)
    changes = data.model_dump(exclude_unset=True)
    for name in ("name", "active", "rate_limit_per_s", "group_by", "group_window_s"):
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name}: cannot be null", field=name)
    async with db.write() as session:
        return await integrations.update_integration(
            session=session, integration_id=integration_id, changes=changes
        )


@router.post("/api/v1/integrations/{integration_id}/rotate-key")
async def rotate_key(integration_id: RowId, caller: AdminCaller, db: DB) -> dict[str, str]:
    require_role(caller, Role.ADMIN)
    async with db.write() as session:
        key = await integrations.rotate_key(session=session, integration_id=integration_id)
    return {"key": key}


@router.get("/api/v1/integrations/{integration_id}/rules", response_model=list[RuleOut])
async def list_rules(integration_id: RowId, caller: AdminCaller, db: DB) -> list[Any]:
    require_role(caller, Role.ADMIN)
    async with db.read() as session:
        return list(await integrations.list_rules(session=session, integration_id=integration_id))


@router.post("/api/v1/integrations/{integration_id}/rules", response_model=RuleOut, status_code=201)
async def create_rule(integration_id: RowId, data: RuleIn, caller: AdminCaller, db: DB) -> Any:
    require_role(caller, Role.ADMIN)
    async with db.write() as session:
        return await integrations.save_rule(
            session=session, integration_id=integration_id, values=data.model_dump()
        )


@router.put("/api/v1/integrations/{integration_id}/rules/{rule_id}", response_model=RuleOut)
async def replace_rule(
    integration_id: RowId, rule_id: RowId, data: RuleIn, caller: AdminCaller, db: DB
) -> Any:
    require_role(caller, Role.ADMIN)
    async with db.write() as session:
        return await integrations.save_rule(
            session=session,
            integration_id=integration_id,
            values=data.model_dump(),
            rule_id=rule_id,
        )


@router.delete("/api/v1/integrations/{integration_id}/rules/{rule_id}", status_code=204)
async def delete_rule(
    integration_id: RowId, rule_id: RowId, caller: AdminCaller, db: DB
) -> Response:
    require_role(caller, Role.ADMIN)
    async with db.write() as session:
        await integrations.delete_rule(
            session=session, integration_id=integration_id, rule_id=rule_id
        )
    return Response(status_code=204)


# ---- alert views (staff) ---------------------------------------------------------------


@router.get("/api/v1/alert-groups", response_model=list[AlertGroupOut])
async def list_alert_groups(
    caller: StaffCaller,
    db: DB,
    incident: Annotated[str | None, Query(max_length=50)] = None,
    integration_id: RowId | None = None,
    open_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[Any]:
    require_role(caller, Role.TECHNICIAN)
    async with db.read() as session:
        incident_id = None
        if incident is not None:
            found = await access_incident(session=session, caller=caller, number=incident)
            incident_id = found.id
        rows = await queries.list_groups(
            session=session,
            incident_id=incident_id,
            integration_id=integration_id,
            open_only=open_only,
            limit=limit,
            offset=offset,
        )
    return [asdict(row) for row in rows]


@router.get("/api/v1/alert-groups/{group_id}", response_model=AlertGroupDetail)
async def show_alert_group(group_id: RowId, caller: StaffCaller, db: DB) -> dict[str, Any]:
    require_role(caller, Role.TECHNICIAN)
    async with db.read() as session:
        row = await queries.get_group(session=session, group_id=group_id)
        alerts = await queries.alerts_of(session=session, group_id=group_id)
    return asdict(row) | {"alerts": [AlertOut.model_validate(a) for a in alerts]}
