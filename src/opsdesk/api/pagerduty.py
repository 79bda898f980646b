"""PagerDuty Events API v2, compatible: ``POST /v2/enqueue`` with PagerDuty's own shapes.

The ``routing_key`` is an integration key. Errors are answered here, in PagerDuty's shape,
not by the COC error handlers that own the rest of ``/v2/``.
"""

from __future__ import annotations

import time

import orjson
from fastapi import APIRouter, Request, Response

from opsdesk.alerts import service
from opsdesk.alerts.batching import IngestBatcher
from opsdesk.alerts.payloads import parse_pagerduty
from opsdesk.api.alerts import rate_limiter
from opsdesk.api.deps import DB, ClockDep, Rules
from opsdesk.core.clock import Clock
from opsdesk.core.database import Database
from opsdesk.core.errors import Unauthenticated, ValidationFailed
from opsdesk.incidents.rules import IncidentRules

router = APIRouter(tags=["alerts"])
MAX_BODY = 512 * 1024  # PagerDuty's payload limit


def batcher(request: Request, db: Database, clock: Clock, rules: IncidentRules) -> IngestBatcher:
    """The process's batcher of single events (see alerts/batching.py)."""
    found: IngestBatcher | None = getattr(request.app.state, "alert_batcher", None)
    if found is None:
        found = IngestBatcher(db=db, clock=clock, rules=rules)
        request.app.state.alert_batcher = found
    return found


def _invalid(*errors: str) -> Response:
    body = {"status": "invalid event", "message": "Event object is invalid", "errors": list(errors)}
    return Response(orjson.dumps(body), status_code=400, media_type="application/json")


@router.post("/v2/enqueue", status_code=202)
async def enqueue(request: Request, db: DB, clock: ClockDep, rules: Rules) -> Response:
    """Trigger, acknowledge or resolve an alert by ``dedup_key``; 202 once it is committed."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return _invalid(f"body: larger than {MAX_BODY} bytes")
    try:
        routing_key, alert = parse_pagerduty(orjson.loads(raw))
    except orjson.JSONDecodeError:
        return _invalid("body: is not valid JSON")
    except ValidationFailed as exc:
        return _invalid(exc.message)
    try:
        async with db.read() as session:
            integration = await service.integration_by_key(
                session=session, key=routing_key, kind="pagerduty"
            )
    except Unauthenticated:
        return _invalid("routing_key: no active PagerDuty integration with this key")
    wait = rate_limiter(request).take(
        integration.id, per_second=integration.rate_limit_per_s, now=time.monotonic()
    )
    if wait:
        body = {
            "status": "throttle event",
            "message": "Requests for this service are arriving too quickly. Please retry later.",
        }
        return Response(
            orjson.dumps(body),
            status_code=429,
            media_type="application/json",
            headers={"Retry-After": str(wait)},
        )
    await batcher(request, db, clock, rules).submit(integration, alert)
    body = {"status": "success", "message": "Event processed", "dedup_key": alert.dedup_key}
    return Response(orjson.dumps(body), status_code=202, media_type="application/json")
