"""Channels in: email (SMTP listener, MTA pipe, IMAP poll) and monitoring integrations."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from opsdesk.auth.roles import Role
from opsdesk.cli.common import deployment_settings, fail, in_transaction

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

mail_app = typer.Typer(help="Email in: SMTP listener, IMAP poll, MTA pipe.", no_args_is_help=True)
integrations_app = typer.Typer(
    help="Monitoring integrations (alert sources).", no_args_is_help=True
)


# sysexits.h codes an MTA understands: 75 = try again later, 65 = bounce (bad input).
EX_DATAERR = 65
EX_TEMPFAIL = 75


@mail_app.command("serve")
def mail_serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 2525,
) -> None:
    """Receive mail over SMTP: each mail is stored before the 250, then becomes its incident."""
    import logging

    from opsdesk.intake.email.smtp import serve_smtp

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
    asyncio.run(
        serve_smtp(
            deployment_settings(),
            host=host,
            port=port,
            on_ready=lambda: typer.echo(f"opsdesk mail on smtp://{host}:{port}"),
        )
    )


@mail_app.command("ingest")
def mail_ingest() -> None:
    """Read one mail from standard input (an MTA pipe) and turn it into its incident.

    Exit codes: 0 stored (whatever became of it, see the inbound mail view); 65 the input is
    not a mail (the MTA bounces it); 75 the database could not store it (the MTA retries).
    """
    from opsdesk.core.clock import SystemClock
    from opsdesk.core.database import Database
    from opsdesk.intake.email.intake import Intake
    from opsdesk.intake.email.outcomes import MailRules

    raw = sys.stdin.buffer.read()
    if not raw.strip():
        typer.echo("error: no mail on standard input", err=True)
        raise typer.Exit(code=EX_DATAERR)
    settings = deployment_settings()

    async def run() -> str:
        db = Database(settings.resolved_database_url())
        intake = Intake(db=db, clock=SystemClock(), rules=MailRules.from_settings(settings))
        try:
            stored = await intake.store(raw, door="pipe")
            try:
                await intake.process_all()
            except Exception as exc:  # stored is safe: the worker processes it later
                return f"inbound mail {stored.id} stored; processing later ({exc})"
            return (
                f"inbound mail {stored.id} {'was already stored' if stored.duplicate else 'stored'}"
            )
        finally:
            await db.dispose()

    try:
        message = asyncio.run(run())
    except Exception as exc:
        typer.echo(f"error: could not store the mail, try again later: {exc}", err=True)
        raise typer.Exit(code=EX_TEMPFAIL) from None
    typer.echo(message)


@mail_app.command("poll")
def mail_poll(
    once: Annotated[bool, typer.Option("--once", help="Poll once, then exit")] = False,
) -> None:
    """Fetch new mail from the OPSDESK_IMAP_* mailbox (the worker does this on its own)."""
    import time

    from opsdesk.core.clock import SystemClock
    from opsdesk.core.database import Database
    from opsdesk.intake.email.imap import poll_once
    from opsdesk.intake.email.intake import Intake
    from opsdesk.intake.email.outcomes import MailRules

    settings = deployment_settings()
    if not settings.imap_host:
        raise fail("OPSDESK_IMAP_HOST is not set: there is no mailbox to poll")

    async def run() -> tuple[int, int]:
        db = Database(settings.resolved_database_url())
        intake = Intake(db=db, clock=SystemClock(), rules=MailRules.from_settings(settings))
        try:
            fetched = await poll_once(settings, lambda raw: intake.store(raw, door="imap"))
            return fetched, await intake.process_all()
        finally:
            await db.dispose()

    while True:
        try:
            fetched, processed = asyncio.run(run())
        except Exception as exc:
            raise fail(f"IMAP poll failed: {exc}") from None
        typer.echo(f"{fetched} mails fetched, {processed} processed")
        if once:
            return
        time.sleep(settings.imap_interval_s)


@integrations_app.command("create")
def integrations_create(
    name: str,
    kind: Annotated[
        str, typer.Option(help="alertmanager, grafana, pagerduty, generic or coc")
    ] = "generic",
    acting_as: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="Email of the staff user its incidents are reported by "
            "(default: the first administrator)",
        ),
    ] = None,
    rate_limit: Annotated[
        int, typer.Option(help="Requests per second per process; 0: none")
    ] = 1000,
    group_by: Annotated[
        str, typer.Option(help="Comma-separated labels that group alerts (default: the sender's)")
    ] = "",
) -> None:
    """Create an integration with its default conversion rule; prints only the new key."""
    from sqlalchemy import select

    from opsdesk.alerts import integrations as alerts
    from opsdesk.auth import service as auth_service
    from opsdesk.auth.models import User
    from opsdesk.core.clock import SystemClock
    from opsdesk.core.errors import OpsdeskError

    async def work(session: AsyncSession) -> str:
        if acting_as is not None:
            user = await auth_service.get_user_by_email(session=session, email=acting_as)
            if Role(user.role) == Role.END_USER:
                raise OpsdeskError(f"--as: {acting_as} is an end user; choose staff")
            user_id = user.id
        else:
            found = await session.scalar(
                select(User.id)
                .where(User.role == Role.ADMIN.value, User.active.is_(True))
                .order_by(User.created_at)
                .limit(1)
            )
            if found is None:
                raise OpsdeskError("no administrator yet: create one first, or pass --as")
            user_id = found
        _row, key = await alerts.create_integration(
            session=session,
            name=name,
            kind=kind,
            acting_user_id=user_id,
            now=SystemClock().now(),
            rate_limit_per_s=rate_limit,
            group_by=[label.strip() for label in group_by.split(",") if label.strip()],
        )
        return key

    typer.echo(in_transaction(work))


@integrations_app.command("list")
def integrations_list() -> None:
    """List integrations: id, name, kind, key hint, active."""
    from opsdesk.alerts import integrations as alerts

    async def work(session: AsyncSession) -> list[str]:
        rows = await alerts.list_integrations(session=session)
        return [
            f"{row.id:<5} {row.name:<30} {row.kind:<13} {row.key_hint}…  "
            f"{'active' if row.active else 'inactive'}"
            for row in rows
        ]

    for line in in_transaction(work):
        typer.echo(line)
