"""The desk's incidents and shifts: the lifecycle sweep run once, who is on duty."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

from opsdesk.cli.common import deployment_settings, fail, in_transaction

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

incidents_app = typer.Typer(help="Incidents.", no_args_is_help=True)
shifts_app = typer.Typer(help="Shift schedules.", no_args_is_help=True)


@shifts_app.command("on-duty")
def shifts_on_duty(
    scene: str,
    role: str,
    at: Annotated[
        str | None,
        typer.Option(
            help="ISO 8601 time with offset, e.g. 2026-12-24T22:00:00+01:00 (default: now)"
        ),
    ] = None,
) -> None:
    """Who is on duty for a shift scene and role: email, user id, and what put them there."""
    from datetime import datetime

    from opsdesk.assignment import shifts as assignment_shifts
    from opsdesk.auth import service as auth_service
    from opsdesk.core.clock import SystemClock

    if at is None:
        moment = SystemClock().now()
    else:
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            raise fail(f"--at: {at!r} is not an ISO 8601 time") from None
        if moment.tzinfo is None:
            raise fail("--at: give a time zone offset, e.g. 2026-12-24T22:00:00Z")

    async def work(session: AsyncSession) -> str:
        await assignment_shifts.check_shift(session=session, scene=scene, role=role)
        duty = await assignment_shifts.on_duty(session=session, scene=scene, role=role, at=moment)
        if duty.user_id is None:
            return f"nobody  ({duty.reason})"
        user = await auth_service.get_user(session=session, user_id=duty.user_id)
        return f"{user.email}  {user.id}  ({duty.reason})"

    typer.echo(in_transaction(work))


@incidents_app.command("sweep")
def incidents_sweep() -> None:
    """Auto-complete unconfirmed resolved incidents and end pauses that ran out, once.

    ``opsdesk serve`` does this every OPSDESK_LIFECYCLE_SWEEP_S seconds; this command is for
    deployments that run serve with OPSDESK_RUN_WORKER=false and schedule the sweep (cron).
    """
    from opsdesk.core.clock import SystemClock
    from opsdesk.core.database import Database
    from opsdesk.core.errors import OpsdeskError
    from opsdesk.incidents.sweeper import incident_rules_from, sweep_once

    settings = deployment_settings()

    async def run() -> tuple[int, int]:
        db = Database(settings.resolved_database_url())
        try:
            result = await sweep_once(
                db=db, clock=SystemClock(), rules=incident_rules_from(settings)
            )
            return result.completed, result.resumed
        finally:
            await db.dispose()

    try:
        completed, resumed = asyncio.run(run())
    except OpsdeskError as exc:
        raise fail(exc.message) from None
    typer.echo(f"{completed} incidents auto-completed, {resumed} pauses ended")
